"""The one family of errors a service raises for its callers' mistakes. Each knows its HTTP status;
`crm_runtime.http` turns any of them into that status with the reason and the details."""

from typing import Any, ClassVar


class ServiceError(Exception):
    """The caller's to fix: the reason (and `details`, e.g. the current version) go back to them."""

    status: ClassVar[int] = 400

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details

    def headers(self) -> dict[str, str] | None:
        return None


class BadRequest(ServiceError):
    """A malformed header or cursor."""

    status = 400


class Unauthorized(ServiceError):
    """No valid token, or a refused login."""

    status = 401

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ServiceError):
    """The caller's role or ownership does not allow it."""

    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    """The request is valid but the state forbids it; `details` say what is there."""

    status = 409


class PayloadTooLarge(ServiceError):
    """What the request would write is too large to keep or publish (an event over the size a
    Kafka record may have); nothing was changed."""

    status = 413


class Unprocessable(ServiceError):
    """Well-formed input that refers to something unusable (e.g. a customer not known yet)."""

    status = 422


class VersionRequired(ServiceError):
    """An update without the version it was based on: lost updates are not allowed."""

    status = 428


class TooManyRequests(ServiceError):
    status = 429

    def __init__(self, reason: str, retry_after_s: int, **details: Any) -> None:
        super().__init__(reason, **details)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s)}


def require_version(given: int | None) -> int:
    """The version an update was based on, from If-Match or the body; 428 without one."""
    if given is None:
        raise VersionRequired("send the version you read, in If-Match or as `version`")
    return given
