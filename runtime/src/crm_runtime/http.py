"""What every service's HTTP side shares: the handlers' context, the correlation id, 4xx errors."""

import re
import time
import typing
from collections import Counter
from collections.abc import Awaitable, Callable
from types import UnionType
from typing import Annotated, Any, Union
from uuid import UUID, uuid4

import structlog
from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import Histogram
from pydantic import ValidationError
from pymongo.errors import PyMongoError

from crm_runtime.auth import ADMINS, EVERYONE, MANAGERS, OVERSIGHT, STAFF, Principal, Role, require
from crm_runtime.errors import BadRequest, ServiceError, require_version
from crm_runtime.handlers import Context
from crm_runtime.idempotency import RequestKey
from crm_runtime.retry import is_transient
from crm_runtime.settings import ServiceSettings
from crm_runtime.store import Store

CORRELATION_HEADER = "X-Correlation-ID"
log = structlog.get_logger()


def install(app: FastAPI, store: Store, settings: ServiceSettings, latency: Histogram) -> None:
    """Every ServiceError becomes its status with the reason and details; invalid input a 422."""
    app.state.store = store
    app.state.settings = settings

    async def timed(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # The route's template, not the path: few label values.
        route = getattr(request.scope.get("route"), "path", "unmatched")
        latency.labels(request.method, route, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response

    app.middleware("http")(_bind_correlation_id)
    app.middleware("http")(timed)
    app.exception_handler(ValidationError)(_invalid)
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(ServiceError)(_answer)
    app.exception_handler(PyMongoError)(_away)


async def _answer(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    return JSONResponse(
        status_code=error.status,
        content={"detail": {"reason": error.reason, **error.details}},
        headers=error.headers(),
    )


async def _away(request: Request, error: Exception) -> Response:
    """MongoDB away (restarting, electing a primary) or a transaction that lost a conflict: a 503
    the client may retry, with the same Idempotency-Key. Anything else is a defect: a 500."""
    if not is_transient(error):
        raise error
    log.warning("database unavailable", path=request.url.path, error=repr(error))
    reason = "the database is unavailable for a moment: try again (with the same Idempotency-Key)"
    return JSONResponse(
        status_code=503, content={"detail": {"reason": reason}}, headers={"Retry-After": "1"}
    )


async def single_valued_query(request: Request) -> None:
    """A query parameter that takes one value, given more than once, is a 422 naming it; without
    this its last value would silently win (HTTP fuzzing sent `?industry=a&industry=b`)."""
    route = request.scope.get("route")
    if route is None or not hasattr(route, "dependant"):
        return
    one_valued = _one_valued(route.dependant)
    given = Counter(name for name, _ in request.query_params.multi_items())
    repeated = sorted(name for name, n in given.items() if n > 1 and name in one_valued)
    if repeated:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "given more than once; takes one value",
                    "type": "value_error",
                }
                for name in repeated
            ]
        )


def _one_valued(route_dependant: Any) -> frozenset[str]:
    """The route's query parameters (its dependencies' too) that are not lists."""
    found: set[str] = set()
    dependants = [route_dependant]
    while dependants:
        dependant = dependants.pop()
        found |= {f.alias for f in dependant.query_params if not _many(f.field_info.annotation)}
        dependants += dependant.dependencies
    return frozenset(found)


def _many(annotation: Any) -> bool:
    kinds = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (Union, UnionType)
        else (annotation,)
    )
    return any(
        typing.get_origin(kind) in (list, set, tuple) or kind in (list, set, tuple)
        for kind in kinds
    )


async def _bind_correlation_id(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """The caller's X-Correlation-ID when it is a UUID, else a new one: it follows the whole flow,
    into the logs of this request, the events it emits, and back in the response header."""
    given = request.headers.get(CORRELATION_HEADER)
    try:
        correlation_id = UUID(given) if given else uuid4()
    except ValueError:
        correlation_id = uuid4()
    request.state.correlation_id = correlation_id
    with structlog.contextvars.bound_contextvars(correlation_id=str(correlation_id)):
        response = await call_next(request)
    response.headers[CORRELATION_HEADER] = str(correlation_id)
    return response


async def _invalid(_: Request, error: ValidationError | RequestValidationError) -> JSONResponse:
    """Bad input is a 422 with each field's reason; the input is not echoed (it may hold a
    password)."""
    raw = (
        error.errors(include_url=False, include_input=False)
        if isinstance(error, ValidationError)
        else error.errors()
    )
    # ctx may hold the exception object itself, which is not JSON; the message already says it.
    details = [
        {k: v for k, v in detail.items() if k not in ("input", "url", "ctx")} for detail in raw
    ]
    return JSONResponse(status_code=422, content={"detail": details})


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique text (a UUID): a write sent again with the same key, by the same "
        "caller, gets the first answer back and is not applied again (keys are kept a day). The "
        "same key with another request is a 422.",
    ),
]


def _context(*roles: Role) -> Callable[..., Awaitable[Context[Any]]]:
    """A FastAPI dependency: the command handlers' context, for a caller with one of `roles`."""

    async def context(
        request: Request,
        caller: Annotated[Principal, Depends(require(*roles))],
        idempotency_key: IdempotencyKey = None,
    ) -> Context[Any]:
        state = request.app.state
        store: Store = state.store
        if idempotency_key is not None:
            who = f"{caller.user_id}:{caller.role}"
            # Not the host: a repeat may go to another instance, behind another address.
            seen = (request.method, request.url.path, request.url.query, who, await request.body())
            store = store.keyed(RequestKey.of(idempotency_key, *seen))
        return Context(store, state.settings, request.state.correlation_id, caller)

    return context


async def _anonymous(request: Request) -> Context[Any]:
    state = request.app.state
    return Context(state.store, state.settings, request.state.correlation_id)


# What an entrypoint asks for: the context, once the caller's token and role are checked.
AnonymousContext = Annotated[Context[Any], Depends(_anonymous)]  # no token: login only
StaffContext = Annotated[Context[Any], Depends(_context(*STAFF))]
ManagerContext = Annotated[Context[Any], Depends(_context(*MANAGERS))]
AdminContext = Annotated[Context[Any], Depends(_context(*ADMINS))]
ReaderContext = Annotated[Context[Any], Depends(_context(*EVERYONE))]
OversightContext = Annotated[Context[Any], Depends(_context(*OVERSIGHT))]


def public(document: dict[str, Any]) -> dict[str, Any]:
    """A stored document as the API shows it: `_id` becomes `id`."""
    return {"id": document["_id"], **{k: v for k, v in document.items() if k != "_id"}}


IfMatch = Annotated[
    str | None, Header(description='The version read, as its ETag ("3") or a plain number.')
]


def version_from(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    match = re.fullmatch(r'\s*(?:W/)?"?(\d+)"?\s*', if_match)
    if match is None:
        raise BadRequest(f'If-Match must be a version like "3", not {if_match!r}')
    return int(match.group(1))


def version_read(if_match: str | None, in_body: int | None) -> int:
    """The version an update was based on: If-Match first, else the body's; 428 with neither."""
    given = version_from(if_match)
    return require_version(given if given is not None else in_body)


ERRORS = {
    400: {"description": "A malformed header, or a body that is not JSON (or not UTF-8)"},
    401: {"description": "No valid token"},
    403: {"description": "The caller's role or ownership does not allow it"},
    404: {"description": "No such thing"},
    409: {
        "description": (
            "The state forbids it (stale version, archived, final stage…); "
            "`detail` says what is there"
        )
    },
    422: {"description": "Invalid input; `detail` lists each field and why"},
    428: {"description": "An update without the version it was based on"},
    429: {"description": "Too many attempts; `Retry-After` says when to try again"},
    503: {"description": "The database is away for a moment; try again after `Retry-After`"},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of an operation for its OpenAPI document; 400, 401, 403 and 503 always (a
    body that does not parse is a 400 before any route runs; the database may be away). (Typed
    as FastAPI's `responses=` wants it.)"""
    return {code: dict(ERRORS[code]) for code in (400, 401, 403, 503, *codes)}
