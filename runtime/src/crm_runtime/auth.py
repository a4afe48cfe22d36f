"""The one token check every service's HTTP endpoints use: short-lived signed tokens (JWT, HS256)
issued by the customer service at login, with the user's role and, for salespeople, whose
customers they may see."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crm_runtime.access import access_version
from crm_runtime.errors import Forbidden, Unauthorized

ISSUER = "crm"
ALGORITHM = "HS256"


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    SALESPERSON = "salesperson"
    OPS = "ops"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    salesperson_id: str | None = None
    access_version: int = 0  # the user's access version when the token was issued

    @property
    def sees_every_customer(self) -> bool:
        return self.role in (Role.ADMIN, Role.MANAGER)

    def may_see(self, owner_id: str | None) -> bool:
        """Managers and admins see every customer; a salesperson only their own."""
        return self.sees_every_customer or (
            self.role is Role.SALESPERSON
            and owner_id is not None
            and owner_id == self.salesperson_id
        )

    def credits(self, salesperson_id: str | None) -> str | None:
        """Whom a follow-up or a deal is credited to: a salesperson may credit only themselves
        (and is credited when the field is left out); managers and admins may credit anyone."""
        if self.role is not Role.SALESPERSON:
            return salesperson_id
        if salesperson_id is not None and salesperson_id != self.salesperson_id:
            raise Forbidden(
                f"a salesperson may credit only themselves ({self.salesperson_id}), "
                f"not {salesperson_id}"
            )
        return self.salesperson_id


class InvalidToken(Exception):
    pass


def issue_token(principal: Principal, secret: str, ttl_s: int, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": principal.user_id,
        "role": principal.role.value,
        "sp": principal.salesperson_id,
        "ver": principal.access_version,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_s),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
        return Principal(
            user_id=claims["sub"],
            role=Role(claims["role"]),
            salesperson_id=claims.get("sp"),
            access_version=int(claims.get("ver", 0)),
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
        raise InvalidToken(str(error)) from error


_bearer = HTTPBearer(
    auto_error=False, description="A token from POST /auth/login of the customer service."
)


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: the caller's Principal; 401 without a valid token or with one issued
    before the user's access last changed, 403 without one of `roles`."""

    async def principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise Unauthorized("missing bearer token")
        secret = request.app.state.settings.auth_secret.get_secret_value()
        try:
            caller = read_token(credentials.credentials, secret)
        except InvalidToken as error:
            raise Unauthorized(f"invalid token: {error}") from None
        if caller.access_version < await access_version(request.app.state.store, caller.user_id):
            raise Unauthorized("token revoked: the user's access changed; log in again")
        if caller.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise Forbidden(f"role {caller.role.value} may not do this ({allowed} may)")
        return caller

    return principal


def forbidden_unless(allowed: bool, what: str) -> None:
    if not allowed:
        raise Forbidden(f"not yours: {what}")


EVERYONE = (Role.ADMIN, Role.MANAGER, Role.SALESPERSON, Role.OPS)
STAFF = (Role.ADMIN, Role.MANAGER, Role.SALESPERSON)
MANAGERS = (Role.ADMIN, Role.MANAGER)
OVERSIGHT = (Role.ADMIN, Role.MANAGER, Role.OPS)  # reports and scoring's internals
ADMINS = (Role.ADMIN,)
