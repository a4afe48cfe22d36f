"""Users and logins. Passwords are hashed with argon2; failed logins per name are throttled."""

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from crm_contracts import UserAccessChanged, UserAccessChangedPayload
from crm_runtime.access import on_user_access_changed
from crm_runtime.auth import Principal, Role, issue_token
from crm_runtime.errors import Conflict, NotFound, TooManyRequests, Unauthorized
from crm_runtime.handlers import Command, Context, Patch
from crm_runtime.store import UnitOfWork
from pydantic import Field, SecretStr
from pymongo.errors import DuplicateKeyError

from crm_customer.adapters import people
from crm_customer.domain.customers import PRODUCER
from crm_customer.domain.users import (
    Throttle,
    access_changed,
    hash_password,
    password_matches,
    stops_being_an_admin,
)
from crm_customer.settings import CustomerSettings

log = structlog.get_logger(__name__)
Password = SecretStr  # never printed, never logged


class Login(Command):
    username: str = Field(min_length=1, max_length=100)
    password: Password = Field(min_length=1, max_length=200)


class NewUser(Command):
    username: str = Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: Password = Field(min_length=12, max_length=200)
    role: Role
    salesperson_id: str | None = Field(
        default=None, description="Required for role salesperson: whose customers."
    )


class UserChange(Patch):
    nullable = frozenset({"salesperson_id"})  # e.g. a salesperson made a manager
    password: Password | None = Field(default=None, min_length=12, max_length=200)
    role: Role | None = None
    salesperson_id: str | None = None
    active: bool | None = None


class ChangeUser(Command):
    user_id: str
    change: UserChange


def public_user(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "password_hash"} | {"id": document["_id"]}


async def create_user(command: NewUser, context: Context[CustomerSettings]) -> dict[str, Any]:
    if command.role is Role.SALESPERSON and not command.salesperson_id:
        raise Conflict("a salesperson user needs the salesperson_id whose customers it works on")
    document = {
        "_id": str(uuid.uuid4()),
        "username": command.username,
        "password_hash": await _hashed(command.password),
        "role": command.role.value,
        "salesperson_id": command.salesperson_id,
        "active": True,
        "access_version": 1,
        "created_at": datetime.now(UTC),
    }
    try:
        await people.insert_user(context.store, document)
    except DuplicateKeyError:
        raise Conflict(f"user {command.username} exists") from None
    log.info("user created", user_id=document["_id"], role=document["role"])
    return public_user(document)


async def _hashed(password: Password) -> str:
    # argon2 takes tens of milliseconds of CPU on purpose: off the event loop, so that logins
    # do not stall the consumer, the relay and the other requests.
    return await asyncio.to_thread(hash_password, password.get_secret_value())


async def change_user(command: ChangeUser, context: Context[CustomerSettings]) -> dict[str, Any]:
    """A change of what the user may do (active, role, salesperson) or of their password raises
    their access version and announces it in the same transaction: every service then refuses
    their older tokens."""
    user_id, change = command.user_id, command.change
    fields = change.model_dump(mode="json", exclude_unset=True, exclude={"password"})
    if change.password is not None:
        fields["password_hash"] = await _hashed(change.password)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        user = await people.get_user(uow, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        wanted = {**user, **fields}
        if wanted["role"] == Role.SALESPERSON and not wanted.get("salesperson_id"):
            raise Conflict(
                "a salesperson user needs the salesperson_id whose customers it works on"
            )
        # A new password also ends the sessions of the old one (a leaked password, a reset).
        if not access_changed(user, wanted) and change.password is None:
            return await people.update_user(uow, user_id, {**fields, "updated_at": _now()})
        if stops_being_an_admin(user, wanted) and not await people.other_active_admins(
            uow, user_id
        ):
            raise Conflict(
                f"user {user_id} is the last active admin: make another admin first",
                user_id=user_id,
            )
        version = user.get("access_version", 0) + 1  # users made before versions have none
        after = await people.update_user(
            uow, user_id, {**fields, "access_version": version, "updated_at": _now()}
        )
        event = UserAccessChanged(
            producer=PRODUCER,
            customer_id=user_id,
            correlation_id=context.correlation_id,
            payload=UserAccessChangedPayload(
                user_id=user_id,
                access_version=version,
                active=after["active"],
                role=after["role"],
                salesperson_id=after.get("salesperson_id"),
            ),
        )
        uow.emit(event)
        # This service issued the tokens: it refuses the old ones at once, not once the event
        # comes back from Kafka as it does to the other services.
        await on_user_access_changed(event, uow)
        return after

    return public_user(await context.store.run(work))


def _now() -> datetime:
    return datetime.now(UTC)


async def ensure_first_admin(context: Context[CustomerSettings]) -> None:
    """The first admin comes from settings, so a fresh system can be logged into."""
    username, password = context.settings.admin_username, context.settings.admin_password
    if (
        not username
        or password is None
        or await people.user_by_name(context.store, username) is not None
    ):
        return
    # Conflict: another instance made it meanwhile
    with contextlib.suppress(Conflict):
        await create_user(NewUser(username=username, password=password, role=Role.ADMIN), context)


async def login(command: Login, context: Context[CustomerSettings]) -> dict[str, Any]:
    """Wrong name or password, or an inactive user: one answer for all, so that names cannot be
    probed."""
    store, settings = context.store, context.settings
    throttle = Throttle(max_failures=settings.login_max_failures)
    now = _now()
    failures = await people.login_failures(store, command.username)
    if (retry_after_s := throttle.retry_after_s(failures, now)) is not None:
        raise TooManyRequests("too many failed logins: try again later", retry_after_s)
    user = await people.user_by_name(store, command.username)
    ok = await asyncio.to_thread(
        password_matches,
        user["password_hash"] if user else None,
        command.password.get_secret_value(),
    )
    if user is None or not ok or not user["active"]:
        record = await people.count_login_failure(store, command.username, now, throttle)
        log.warning(
            "login refused", failures=record["failures"], locked=record["locked_until"] is not None
        )
        raise Unauthorized("wrong username or password")
    if failures:
        await people.clear_login_failures(store, command.username)
    principal = Principal(
        user["_id"],
        Role(user["role"]),
        user.get("salesperson_id"),
        access_version=user.get("access_version", 0),
    )
    assert settings.auth_secret is not None, "the service does not serve HTTP without it"
    ttl_s = settings.auth_token_ttl_s
    return {
        "access_token": issue_token(principal, settings.auth_secret.get_secret_value(), ttl_s),
        "token_type": "bearer",
        "expires_in": ttl_s,
        "role": principal.role.value,
        "salesperson_id": principal.salesperson_id,
    }
