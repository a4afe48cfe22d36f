"""Contacts, competitors and financial statements of a customer."""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_contracts import (
    CompetitorRecorded,
    CompetitorRecordedPayload,
    Contact,
    ContactAdded,
    ContactPayload,
    ContactRemoved,
    ContactRemovedPayload,
    ContactUpdated,
    FinancialsRecorded,
    FinancialsRecordedPayload,
    FinancialStatement,
)
from crm_runtime.store import Store, UnitOfWork

from crm_customer.adapters import customers as customer_store
from crm_customer.domain import financials
from crm_customer.domain.customers import PRODUCER
from crm_customer.handlers import Conflict, NotFound


async def active_customer(uow: UnitOfWork, customer_id: str) -> dict[str, Any]:
    customer = await customer_store.get(uow, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    if customer["status"] != "active":
        raise Conflict(
            f"customer {customer_id} is archived: restore it first", status=customer["status"]
        )
    return customer


def _contact_document(customer_id: str, contact: Contact) -> dict[str, Any]:
    return {
        "_id": contact.contact_id,
        "customer_id": customer_id,
        "removed": False,
        **contact.model_dump(mode="json", exclude={"contact_id"}),
        "updated_at": datetime.now(UTC),
    }


async def add_contact(
    store: Store, customer_id: str, fields: dict[str, Any], correlation_id: UUID
) -> dict:
    contact = Contact(contact_id=str(uuid.uuid4()), **fields)

    async def work(uow: UnitOfWork) -> None:
        customer = await active_customer(uow, customer_id)
        await customer_store.save_contact(uow, _contact_document(customer_id, contact))
        await customer_store.refresh_dedup_keys(uow, customer)
        uow.emit(
            ContactAdded(
                producer=PRODUCER,
                customer_id=customer_id,
                correlation_id=correlation_id,
                payload=ContactPayload(contact=contact),
            )
        )

    await store.run(work)
    return contact.model_dump(mode="json")


async def update_contact(
    store: Store, customer_id: str, contact_id: str, fields: dict[str, Any], correlation_id: UUID
) -> dict:
    async def work(uow: UnitOfWork) -> Contact:
        customer = await active_customer(uow, customer_id)
        current = await customer_store.get_contact(uow, customer_id, contact_id)
        if current is None:
            raise NotFound(f"no contact {contact_id} of customer {customer_id}")
        kept = {k: v for k, v in current.items() if k in Contact.model_fields and k != "contact_id"}
        contact = Contact(contact_id=contact_id, **{**kept, **fields})
        await customer_store.save_contact(uow, _contact_document(customer_id, contact))
        await customer_store.refresh_dedup_keys(uow, customer)
        uow.emit(
            ContactUpdated(
                producer=PRODUCER,
                customer_id=customer_id,
                correlation_id=correlation_id,
                payload=ContactPayload(contact=contact),
            )
        )
        return contact

    return (await store.run(work)).model_dump(mode="json")


async def remove_contact(
    store: Store, customer_id: str, contact_id: str, correlation_id: UUID
) -> None:
    async def work(uow: UnitOfWork) -> None:
        customer = await active_customer(uow, customer_id)
        current = await customer_store.get_contact(uow, customer_id, contact_id)
        if current is None:
            raise NotFound(f"no contact {contact_id} of customer {customer_id}")
        await customer_store.save_contact(
            uow, {**current, "removed": True, "updated_at": datetime.now(UTC)}
        )
        await customer_store.refresh_dedup_keys(uow, customer)
        uow.emit(
            ContactRemoved(
                producer=PRODUCER,
                customer_id=customer_id,
                correlation_id=correlation_id,
                payload=ContactRemovedPayload(contact_id=contact_id),
            )
        )

    await store.run(work)


async def record_competitor(
    store: Store, customer_id: str, fields: dict[str, Any], correlation_id: UUID
) -> dict:
    payload = CompetitorRecordedPayload(competitor_id=str(uuid.uuid4()), **fields)

    async def work(uow: UnitOfWork) -> None:
        await active_customer(uow, customer_id)
        await customer_store.insert_competitor(
            uow,
            {
                "_id": payload.competitor_id,
                "customer_id": customer_id,
                **payload.model_dump(mode="json", exclude={"competitor_id"}),
            },
        )
        uow.emit(
            CompetitorRecorded(
                producer=PRODUCER,
                customer_id=customer_id,
                correlation_id=correlation_id,
                payload=payload,
            )
        )

    await store.run(work)
    return payload.model_dump(mode="json")


async def record_financials(
    store: Store, customer_id: str, statements: list[FinancialStatement], correlation_id: UUID
) -> dict:
    """Replaces the statements (up to three years) and the ratios computed from them."""
    if (problem := financials.problem(statements)) is not None:
        raise Conflict(problem)
    payload = FinancialsRecordedPayload(statements=statements, ratios=financials.ratios(statements))

    async def work(uow: UnitOfWork) -> None:
        await active_customer(uow, customer_id)
        await customer_store.set_fields(
            uow, customer_id, {"financials": payload.model_dump(mode="json")}
        )
        uow.emit(
            FinancialsRecorded(
                producer=PRODUCER,
                customer_id=customer_id,
                correlation_id=correlation_id,
                payload=payload,
            )
        )

    await store.run(work)
    return payload.model_dump(mode="json")
