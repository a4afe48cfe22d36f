"""What every service's HTTP side shares: the store, the correlation id, errors as 4xx."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID, uuid4

import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from crm_runtime.store import Store

CORRELATION_HEADER = "X-Correlation-ID"


def install(app: FastAPI, store: Store) -> None:
    app.state.store = store
    app.middleware("http")(_bind_correlation_id)
    app.exception_handler(ValidationError)(_invalid)


async def _bind_correlation_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
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


async def _invalid(_: Request, error: ValidationError) -> JSONResponse:
    """A rule of the domain broken after the request parsed: still the caller's fault, so a 422."""
    return JSONResponse(status_code=422, content={"detail": error.errors(include_url=False, include_input=False)})


def _store(request: Request) -> Store:
    return request.app.state.store


def _correlation_id(request: Request) -> UUID:
    return request.state.correlation_id


StoreDep = Annotated[Store, Depends(_store)]
CorrelationId = Annotated[UUID, Depends(_correlation_id)]


def public(document: dict[str, Any]) -> dict[str, Any]:
    """A stored document as the API shows it: `_id` becomes `id`."""
    return {"id": document["_id"], **{k: v for k, v in document.items() if k != "_id"}}
