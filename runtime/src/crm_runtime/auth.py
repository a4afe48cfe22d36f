"""The one token check every service's HTTP endpoints use: short-lived signed tokens (JWT, HS256)
issued by the customer service at login, with the user's role and, for salespeople, whose
customers they may see."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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

    @property
    def sees_every_customer(self) -> bool:
        return self.role in (Role.ADMIN, Role.MANAGER)

    def may_see(self, owner_id: str | None) -> bool:
        """Managers and admins see every customer; a salesperson only their own."""
        return self.sees_every_customer or (
            self.role is Role.SALESPERSON and owner_id is not None and owner_id == self.salesperson_id
        )


class InvalidToken(Exception):
    pass


def issue_token(principal: Principal, secret: str, ttl_s: int, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": principal.user_id,
        "role": principal.role.value,
        "sp": principal.salesperson_id,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_s),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss"]})
        return Principal(user_id=claims["sub"], role=Role(claims["role"]), salesperson_id=claims.get("sp"))
    except (jwt.PyJWTError, KeyError, ValueError) as error:
        raise InvalidToken(str(error)) from error


_bearer = HTTPBearer(auto_error=False, description="A token from POST /auth/login of the customer service.")


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"})


def require(*roles: Role):
    """A FastAPI dependency: the caller's Principal; 401 without a valid token, 403 without a role."""

    async def principal(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        if credentials is None:
            raise _unauthorized("missing bearer token")
        try:
            caller = read_token(credentials.credentials, request.app.state.auth_secret)
        except InvalidToken as error:
            raise _unauthorized(f"invalid token: {error}") from None
        if caller.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {caller.role.value} may not do this ({allowed} may)")
        return caller

    return principal


def forbidden_unless(allowed: bool, what: str) -> None:
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"not yours: {what}")


EVERYONE = (Role.ADMIN, Role.MANAGER, Role.SALESPERSON, Role.OPS)
STAFF = (Role.ADMIN, Role.MANAGER, Role.SALESPERSON)
MANAGERS = (Role.ADMIN, Role.MANAGER)
ADMINS = (Role.ADMIN,)
Staff = Annotated[Principal, Depends(require(*STAFF))]
Managers = Annotated[Principal, Depends(require(*MANAGERS))]
Admins = Annotated[Principal, Depends(require(*ADMINS))]
Readers = Annotated[Principal, Depends(require(*EVERYONE))]
