"""What this service learns from other services' events: customers (to check references without
asking) and follow-ups and deals that other systems (call centre, ERP) publish straight to Kafka."""

from crm_contracts import (
    CustomerArchived,
    CustomerAssigned,
    CustomerCreated,
    CustomerRestored,
    DealClosed,
    VisitLogged,
)
from crm_runtime.parking import WaitForCustomer
from crm_runtime.store import UnitOfWork

from crm_followup import adapters
from crm_followup.handlers.common import PRODUCER
from crm_followup.handlers.deals import deal_document
from crm_followup.handlers.followups import document


async def on_customer_created(event: CustomerCreated, uow: UnitOfWork) -> None:
    await adapters.upsert(
        uow,
        adapters.CUSTOMERS,
        event.customer_id,
        {
            "$set": {"name": event.payload.name, "status": "active"},
            "$setOnInsert": {"owner_id": event.payload.owner_id},
        },
    )


async def on_customer_assigned(event: CustomerAssigned, uow: UnitOfWork) -> None:
    await adapters.upsert(
        uow, adapters.CUSTOMERS, event.customer_id, {"$set": {"owner_id": event.payload.owner_id}}
    )


async def on_customer_archived(event: CustomerArchived, uow: UnitOfWork) -> None:
    await adapters.upsert(
        uow,
        adapters.CUSTOMERS,
        event.customer_id,
        {"$set": {"status": "archived", "merged_into": event.payload.merged_into}},
    )


async def on_customer_restored(event: CustomerRestored, uow: UnitOfWork) -> None:
    await adapters.upsert(
        uow,
        adapters.CUSTOMERS,
        event.customer_id,
        {"$set": {"status": "active", "merged_into": None}},
    )


async def _known(uow: UnitOfWork, customer_id: str) -> None:
    if await adapters.find(uow, adapters.CUSTOMERS, {"_id": customer_id}) is None:
        raise WaitForCustomer(customer_id)


async def on_visit_logged(event: VisitLogged, uow: UnitOfWork) -> None:
    if event.producer == PRODUCER:
        return  # ours: stored when it was logged
    await _known(uow, event.customer_id)
    stored = document(event.customer_id, event.payload, event.producer, event.event_id)
    await adapters.upsert(uow, adapters.FOLLOWUPS, stored.pop("_id"), {"$setOnInsert": stored})


async def on_deal_closed(event: DealClosed, uow: UnitOfWork) -> None:
    if event.producer == PRODUCER:
        return
    await _known(uow, event.customer_id)
    stored = deal_document(event.customer_id, event.payload, event.producer, event.event_id)
    await adapters.upsert(uow, adapters.DEALS, stored.pop("_id"), {"$setOnInsert": stored})
