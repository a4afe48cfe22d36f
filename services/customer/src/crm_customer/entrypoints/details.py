"""A customer's contacts, competitors and financial statements."""

from typing import Any

from crm_contracts import CompetitorRecordedPayload, Contact, FinancialsRecordedPayload
from crm_runtime.http import StaffContext, errors
from fastapi import APIRouter, status

from crm_customer.adapters import customers as customer_store
from crm_customer.handlers import details
from crm_customer.handlers.details import (
    AddContact,
    ChangeContact,
    ContactChange,
    NewCompetitor,
    NewContact,
    RecordCompetitor,
    RecordFinancials,
    RemoveContact,
    Statements,
)
from crm_customer.handlers.guards import customer_to_read

router = APIRouter(tags=["contacts, competitors, financials"])


@router.get(
    "/customers/{customer_id}/contacts", response_model=list[Contact], responses=errors(404)
)
async def list_contacts(customer_id: str, context: StaffContext) -> list[dict[str, Any]]:
    await customer_to_read(context.store, context.caller, customer_id)
    contacts = await customer_store.contacts_of(context.store, customer_id)
    return [{"contact_id": contact["_id"], **contact} for contact in contacts]


@router.post(
    "/customers/{customer_id}/contacts",
    status_code=status.HTTP_201_CREATED,
    response_model=Contact,
    responses=errors(404, 409, 422),
)
async def add_contact(customer_id: str, body: NewContact, context: StaffContext) -> dict[str, Any]:
    return await details.add_contact(AddContact(customer_id=customer_id, contact=body), context)


@router.patch(
    "/customers/{customer_id}/contacts/{contact_id}",
    response_model=Contact,
    responses=errors(404, 409, 422),
)
async def update_contact(
    customer_id: str, contact_id: str, body: ContactChange, context: StaffContext
) -> dict[str, Any]:
    """Changes the fields sent; `null` clears an optional one (not the name, lists or consents)."""
    command = ChangeContact(customer_id=customer_id, contact_id=contact_id, change=body)
    return await details.update_contact(command, context)


@router.delete(
    "/customers/{customer_id}/contacts/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 409),
)
async def remove_contact(customer_id: str, contact_id: str, context: StaffContext) -> None:
    command = RemoveContact(customer_id=customer_id, contact_id=contact_id)
    await details.remove_contact(command, context)


@router.get(
    "/customers/{customer_id}/competitors",
    response_model=list[CompetitorRecordedPayload],
    responses=errors(404),
)
async def list_competitors(customer_id: str, context: StaffContext) -> list[dict[str, Any]]:
    await customer_to_read(context.store, context.caller, customer_id)
    competitors = await customer_store.competitors_of(context.store, customer_id)
    return [{"competitor_id": competitor["_id"], **competitor} for competitor in competitors]


@router.post(
    "/customers/{customer_id}/competitors",
    status_code=status.HTTP_201_CREATED,
    response_model=CompetitorRecordedPayload,
    responses=errors(404, 409, 422),
)
async def record_competitor(
    customer_id: str, body: NewCompetitor, context: StaffContext
) -> dict[str, Any]:
    command = RecordCompetitor(customer_id=customer_id, competitor=body)
    return await details.record_competitor(command, context)


@router.put(
    "/customers/{customer_id}/financials",
    response_model=FinancialsRecordedPayload,
    responses=errors(404, 409, 422),
)
async def record_financials(
    customer_id: str, body: Statements, context: StaffContext
) -> dict[str, Any]:
    """Up to three consecutive years of statements; the ratios are computed here and returned."""
    command = RecordFinancials(customer_id=customer_id, statements=body.statements)
    return await details.record_financials(command, context)
