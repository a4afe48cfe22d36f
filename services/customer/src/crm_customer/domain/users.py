"""Users: password hashing (argon2) and the throttle on failed logins. No I/O."""

from dataclasses import dataclass
from datetime import datetime, timedelta

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
    """After `max_failures` failed logins within `window`, the name is locked for `lock`."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)

    def after_failure(
        self, failures: int, first_failure_at: datetime | None, now: datetime
    ) -> dict:
        """The new record of failures for a name after one more failure at `now`."""
        if first_failure_at is None or now - first_failure_at > self.window:
            failures, first_failure_at = 0, now
        failures += 1
        locked_until = now + self.lock if failures >= self.max_failures else None
        return {
            "failures": failures,
            "first_failure_at": first_failure_at,
            "locked_until": locked_until,
        }
