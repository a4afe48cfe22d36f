"""What every service's HTTP side shares: the store of the request's app, the correlation id."""

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import Depends, Header, Request

from crm_runtime.store import Store


def _store(request: Request) -> Store:
    return request.app.state.store


def _correlation_id(x_correlation_id: Annotated[str | None, Header()] = None) -> UUID:
    """The caller's X-Correlation-ID when it is a UUID, else a new one: it follows the whole flow."""
    try:
        return UUID(x_correlation_id) if x_correlation_id else uuid4()
    except ValueError:
        return uuid4()


StoreDep = Annotated[Store, Depends(_store)]
CorrelationId = Annotated[UUID, Depends(_correlation_id)]


def public(document: dict[str, Any]) -> dict[str, Any]:
    """A stored document as the API shows it: `_id` becomes `id`."""
    return {"id": document["_id"], **{k: v for k, v in document.items() if k != "_id"}}
