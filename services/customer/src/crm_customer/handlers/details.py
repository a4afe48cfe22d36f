"""Contacts, competitors and financial statements of a customer."""

import uuid
from datetime import UTC, date, datetime
from typing import Any

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
from crm_contracts.common import DecisionInfluence, Id, LongText, Text
from crm_contracts.customer_events import ImportantDate, Phone
from crm_runtime.errors import Conflict, NotFound
from crm_runtime.handlers import Command, Context, Patch
from crm_runtime.store import UnitOfWork
from pydantic import EmailStr, Field

from crm_customer.adapters import COMPETITORS, CONTACTS
from crm_customer.adapters import customers as customer_store
from crm_customer.domain import financials
from crm_customer.domain.customers import PRODUCER, too_many
from crm_customer.handlers.guards import customer_to_change
from crm_customer.settings import CustomerSettings


class NewContact(Command):
    """A contact as the caller gives it: the id is made here."""

    name: Text
    title: Text | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    decision_influence: DecisionInfluence | None = None
    important_dates: list[ImportantDate] = Field(default_factory=list, max_length=20)
    hobbies: list[Text] = Field(default_factory=list, max_length=20)
    career: LongText | None = None
    email_consent: bool = False
    sms_consent: bool = False


class ContactChange(Patch):
    """The contact's fields to change; `null` clears an optional one (lists are emptied with [])."""

    nullable = frozenset({"title", "phone", "email", "decision_influence", "career"})
    name: Text | None = None
    title: Text | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    decision_influence: DecisionInfluence | None = None
    important_dates: list[ImportantDate] | None = Field(default=None, max_length=20)
    hobbies: list[Text] | None = Field(default=None, max_length=20)
    career: LongText | None = None
    email_consent: bool | None = None
    sms_consent: bool | None = None


class NewCompetitor(Command):
    name: Text
    share: float | None = Field(
        default=None, ge=0, le=1, description="Share of the customer's freight, 0 to 1."
    )
    contract_end: date | None = None
    notes: LongText | None = None


class Statements(Command):
    statements: list[FinancialStatement] = Field(min_length=1, max_length=3)


class AddContact(Command):
    customer_id: Id
    contact: NewContact


class ChangeContact(Command):
    customer_id: Id
    contact_id: Id
    change: ContactChange


class RemoveContact(Command):
    customer_id: Id
    contact_id: Id


class RecordCompetitor(Command):
    customer_id: Id
    competitor: NewCompetitor


class RecordFinancials(Command):
    customer_id: Id
    statements: list[FinancialStatement] = Field(min_length=1, max_length=3)


def _contact_document(customer_id: str, contact: Contact) -> dict[str, Any]:
    return {
        "_id": contact.contact_id,
        "customer_id": customer_id,
        "removed": False,
        **contact.model_dump(mode="json", exclude={"contact_id"}),
        "updated_at": datetime.now(UTC),
    }


async def add_contact(command: AddContact, context: Context[CustomerSettings]) -> dict[str, Any]:
    contact = Contact(contact_id=str(uuid.uuid4()), **command.contact.model_dump())

    # The transaction answers with what the caller sees, ids included: sent again with its
    # Idempotency-Key, the request gets the first answer back from it (crm_runtime.idempotency).
    async def work(uow: UnitOfWork) -> dict[str, Any]:
        customer = await customer_to_change(uow, context.caller, command.customer_id)
        await _room_for_one_more(uow, CONTACTS, command.customer_id)
        await customer_store.save_contact(uow, _contact_document(command.customer_id, contact))
        await customer_store.refresh_dedup_keys(uow, customer)
        uow.emit(
            ContactAdded(
                producer=PRODUCER,
                customer_id=command.customer_id,
                correlation_id=context.correlation_id,
                payload=ContactPayload(contact=contact),
            )
        )
        return contact.model_dump(mode="json")

    return await context.store.run(work)


async def _room_for_one_more(uow: UnitOfWork, what: str, customer_id: str) -> None:
    held = await customer_store.child_ids(uow, what, customer_id)
    if problem := too_many(what, len(held) + 1):
        raise Conflict(f"customer {customer_id} would have {problem}", held=len(held))


async def _contact_to_change(uow: UnitOfWork, customer_id: str, contact_id: str) -> dict[str, Any]:
    current = await customer_store.get_contact(uow, customer_id, contact_id)
    if current is None:
        raise NotFound(f"no contact {contact_id} of customer {customer_id}")
    return current


async def update_contact(
    command: ChangeContact, context: Context[CustomerSettings]
) -> dict[str, Any]:
    customer_id, contact_id = command.customer_id, command.contact_id

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        customer = await customer_to_change(uow, context.caller, customer_id)
        current = await _contact_to_change(uow, customer_id, contact_id)
        kept = {k: v for k, v in current.items() if k in Contact.model_fields and k != "contact_id"}
        fields = command.change.model_dump(exclude_unset=True)
        contact = Contact(contact_id=contact_id, **{**kept, **fields})
        await customer_store.save_contact(uow, _contact_document(customer_id, contact))
        await customer_store.refresh_dedup_keys(uow, customer)
        uow.emit(
            ContactUpdated(
                producer=PRODUCER,
                customer_id=customer_id,
                correlation_id=context.correlation_id,
                payload=ContactPayload(contact=contact),
            )
        )
        return contact.model_dump(mode="json")

    return await context.store.run(work)


async def remove_contact(command: RemoveContact, context: Context[CustomerSettings]) -> None:
    customer_id, contact_id = command.customer_id, command.contact_id

    async def work(uow: UnitOfWork) -> None:
        customer = await customer_to_change(uow, context.caller, customer_id)
        current = await _contact_to_change(uow, customer_id, contact_id)
        await customer_store.save_contact(
            uow, {**current, "removed": True, "updated_at": datetime.now(UTC)}
        )
        await customer_store.refresh_dedup_keys(uow, customer)
        uow.emit(
            ContactRemoved(
                producer=PRODUCER,
                customer_id=customer_id,
                correlation_id=context.correlation_id,
                payload=ContactRemovedPayload(contact_id=contact_id),
            )
        )

    await context.store.run(work)


async def record_competitor(
    command: RecordCompetitor, context: Context[CustomerSettings]
) -> dict[str, Any]:
    customer_id = command.customer_id
    payload = CompetitorRecordedPayload(
        competitor_id=str(uuid.uuid4()), **command.competitor.model_dump()
    )

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        await customer_to_change(uow, context.caller, customer_id)
        await _room_for_one_more(uow, COMPETITORS, customer_id)
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
                correlation_id=context.correlation_id,
                payload=payload,
            )
        )
        return payload.model_dump(mode="json")

    return await context.store.run(work)


async def record_financials(
    command: RecordFinancials, context: Context[CustomerSettings]
) -> dict[str, Any]:
    """Replaces the statements (up to three years) and the ratios computed from them."""
    statements = command.statements
    if (problem := financials.problem(statements)) is not None:
        raise Conflict(problem)
    payload = FinancialsRecordedPayload(statements=statements, ratios=financials.ratios(statements))

    async def work(uow: UnitOfWork) -> None:
        await customer_to_change(uow, context.caller, command.customer_id)
        await customer_store.set_fields(
            uow, command.customer_id, {"financials": payload.model_dump(mode="json")}
        )
        uow.emit(
            FinancialsRecorded(
                producer=PRODUCER,
                customer_id=command.customer_id,
                correlation_id=context.correlation_id,
                payload=payload,
            )
        )

    await context.store.run(work)
    return payload.model_dump(mode="json")
