"""Users and logins. Passwords are hashed with argon2; failed logins per name are throttled."""

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from crm_runtime.auth import Principal, Role, issue_token
from crm_runtime.store import Store
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pymongo.errors import DuplicateKeyError

from crm_customer.adapters import people
from crm_customer.domain.users import Throttle, hash_password, password_matches
from crm_customer.handlers import Conflict

log = structlog.get_logger(__name__)
Password = SecretStr  # never printed, never logged


class Login(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: Password = Field(min_length=1, max_length=200)


class NewUser(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    username: str = Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: Password = Field(min_length=12, max_length=200)
    role: Role
    salesperson_id: str | None = Field(
        default=None, description="Required for role salesperson: whose customers."
    )


class UserChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    password: Password | None = Field(default=None, min_length=12, max_length=200)
    role: Role | None = None
    salesperson_id: str | None = None
    active: bool | None = None


class LoginRefused(Exception):
    """Wrong name or password, or an inactive user: one answer for all, so names cannot be
    probed."""


class LoginLocked(LoginRefused):
    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


def public_user(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "password_hash"} | {"id": document["_id"]}


async def create_user(store: Store, command: NewUser) -> dict[str, Any]:
    if command.role is Role.SALESPERSON and not command.salesperson_id:
        raise Conflict("a salesperson user needs the salesperson_id whose customers it works on")
    document = {
        "_id": str(uuid.uuid4()),
        "username": command.username,
        "password_hash": hash_password(command.password.get_secret_value()),
        "role": command.role.value,
        "salesperson_id": command.salesperson_id,
        "active": True,
        "created_at": datetime.now(UTC),
    }
    try:
        await people.insert_user(store, document)
    except DuplicateKeyError:
        raise Conflict(f"user {command.username} exists") from None
    log.info("user created", user_id=document["_id"], role=document["role"])
    return public_user(document)


async def change_user(store: Store, user_id: str, command: UserChange) -> dict[str, Any] | None:
    fields = command.model_dump(exclude_unset=True, exclude={"password"})
    if command.role is not None:
        fields["role"] = command.role.value
    if command.password is not None:
        fields["password_hash"] = hash_password(command.password.get_secret_value())
    document = await people.update_user(store, user_id, {**fields, "updated_at": datetime.now(UTC)})
    return public_user(document) if document else None


async def ensure_first_admin(
    store: Store, username: str | None, password: SecretStr | None
) -> None:
    """The first admin comes from settings, so a fresh system can be logged into."""
    if not username or password is None or await people.user_by_name(store, username) is not None:
        return
    # Conflict: another instance made it meanwhile
    with contextlib.suppress(Conflict):
        await create_user(store, NewUser(username=username, password=password, role=Role.ADMIN))


async def login(
    store: Store, command: Login, secret: str, ttl_s: int, throttle: Throttle
) -> dict[str, Any]:
    now = datetime.now(UTC)
    failures = await people.login_failures(store, command.username) or {}
    locked_until = failures.get("locked_until")
    if locked_until is not None and locked_until > now:
        raise LoginLocked(
            "too many failed logins: try again later", int((locked_until - now).total_seconds()) + 1
        )
    user = await people.user_by_name(store, command.username)
    ok = password_matches(user and user["password_hash"], command.password.get_secret_value())
    if not ok or not user["active"]:
        record = throttle.after_failure(
            failures.get("failures", 0), failures.get("first_failure_at"), now
        )
        await people.save_login_failures(store, command.username, record)
        log.warning(
            "login refused", failures=record["failures"], locked=record["locked_until"] is not None
        )
        raise LoginRefused("wrong username or password")
    if failures:
        await people.clear_login_failures(store, command.username)
    principal = Principal(user["_id"], Role(user["role"]), user.get("salesperson_id"))
    return {
        "access_token": issue_token(principal, secret, ttl_s),
        "token_type": "bearer",
        "expires_in": ttl_s,
        "role": principal.role.value,
        "salesperson_id": principal.salesperson_id,
    }
