"""Users: password hashing (argon2) and the throttle on failed logins. No I/O."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the user does not exist, so an unknown name takes as long as a wrong
# password.
_DUMMY_HASH = _hasher.hash("no such user: this hash only costs the same time")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Throttle:
    """After `max_failures` failed logins within `window`, the name is locked for `lock`. The
    failures are counted in the database, atomically (see adapters.people.count_login_failure)."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)

    def retry_after_s(self, failures: dict[str, Any] | None, now: datetime) -> int | None:
        """Seconds until the name may try again, or None when it is not locked."""
        locked_until = (failures or {}).get("locked_until")
        if locked_until is None or locked_until <= now:
            return None
        return int((locked_until - now).total_seconds()) + 1


# What a token carries: a change of any of them must end the user's tokens.
ACCESS_FIELDS = ("active", "role", "salesperson_id")


def access_changed(user: dict[str, Any], after: dict[str, Any]) -> bool:
    return any(user.get(name) != after.get(name) for name in ACCESS_FIELDS)


def stops_being_an_admin(user: dict[str, Any], after: dict[str, Any]) -> bool:
    return bool(user["role"] == "admin" and user["active"]) and not (
        after["role"] == "admin" and after["active"]
    )
