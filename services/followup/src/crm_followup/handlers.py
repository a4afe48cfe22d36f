"""The follow-up service's commands: record and emit in one transaction."""

from typing import Any
from uuid import UUID

from crm_followup import adapters, domain
from crm_runtime.store import Store


async def log_visit(command: domain.LogVisit, store: Store, correlation_id: UUID) -> dict[str, Any]:
    document, event = domain.log_visit(command, correlation_id)
    await store.run(lambda uow: _record(uow, adapters.FOLLOWUPS, document, event))
    return document


async def close_deal(command: domain.CloseDeal, store: Store, correlation_id: UUID) -> dict[str, Any]:
    document, event = domain.close_deal(command, correlation_id)
    await store.run(lambda uow: _record(uow, adapters.DEALS, document, event))
    return document


async def _record(uow, collection: str, document: dict[str, Any], event) -> None:
    await adapters.insert(uow, collection, document)
    uow.emit(event)
