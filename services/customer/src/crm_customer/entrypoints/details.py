"""A customer's contacts, competitors and financial statements."""

from typing import Any

from crm_contracts import (
    CompetitorRecordedPayload,
    Contact,
    FinancialsRecordedPayload,
    FinancialStatement,
)
from crm_runtime.auth import Staff
from crm_runtime.http import CorrelationId, StoreDep
from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, create_model

from crm_customer.adapters import customers as customer_store
from crm_customer.entrypoints import errors, visible_customer
from crm_customer.handlers import details

router = APIRouter(tags=["contacts, competitors, financials"])


def _strict_without(
    model: type[BaseModel], field: str, *, partial: bool = False
) -> type[BaseModel]:
    """The event's model as a request: no id (given here), unknown fields refused."""
    fields = {
        name: (info.annotation, None if partial else info)
        for name, info in model.model_fields.items()
        if name != field
    }
    return create_model(
        f"{'Change' if partial else 'New'}{model.__name__}",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )


NewContact = _strict_without(Contact, "contact_id")
ContactChange = _strict_without(Contact, "contact_id", partial=True)
NewCompetitor = _strict_without(CompetitorRecordedPayload, "competitor_id")


class Statements(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statements: list[FinancialStatement] = Field(min_length=1, max_length=3)


@router.get(
    "/customers/{customer_id}/contacts", response_model=list[Contact], responses=errors(404)
)
async def list_contacts(customer_id: str, store: StoreDep, caller: Staff) -> list[dict[str, Any]]:
    await visible_customer(store, caller, customer_id)
    return [
        {"contact_id": c["_id"], **c} for c in await customer_store.contacts_of(store, customer_id)
    ]


@router.post(
    "/customers/{customer_id}/contacts",
    status_code=status.HTTP_201_CREATED,
    response_model=Contact,
    responses=errors(404, 409, 422),
)
async def add_contact(
    customer_id: str,
    command: NewContact,
    store: StoreDep,
    caller: Staff,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    await visible_customer(store, caller, customer_id)
    return await details.add_contact(store, customer_id, command.model_dump(), correlation_id)


@router.patch(
    "/customers/{customer_id}/contacts/{contact_id}",
    response_model=Contact,
    responses=errors(404, 409, 422),
)
async def update_contact(
    customer_id: str,
    contact_id: str,
    command: ContactChange,
    store: StoreDep,
    caller: Staff,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    await visible_customer(store, caller, customer_id)
    return await details.update_contact(
        store, customer_id, contact_id, command.model_dump(exclude_unset=True), correlation_id
    )


@router.delete(
    "/customers/{customer_id}/contacts/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404, 409),
)
async def remove_contact(
    customer_id: str, contact_id: str, store: StoreDep, caller: Staff, correlation_id: CorrelationId
) -> None:
    await visible_customer(store, caller, customer_id)
    await details.remove_contact(store, customer_id, contact_id, correlation_id)


@router.get(
    "/customers/{customer_id}/competitors",
    response_model=list[CompetitorRecordedPayload],
    responses=errors(404),
)
async def list_competitors(
    customer_id: str, store: StoreDep, caller: Staff
) -> list[dict[str, Any]]:
    await visible_customer(store, caller, customer_id)
    return [
        {"competitor_id": c["_id"], **c}
        for c in await customer_store.competitors_of(store, customer_id)
    ]


@router.post(
    "/customers/{customer_id}/competitors",
    status_code=status.HTTP_201_CREATED,
    response_model=CompetitorRecordedPayload,
    responses=errors(404, 409, 422),
)
async def record_competitor(
    customer_id: str,
    command: NewCompetitor,
    store: StoreDep,
    caller: Staff,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    await visible_customer(store, caller, customer_id)
    return await details.record_competitor(store, customer_id, command.model_dump(), correlation_id)


@router.put(
    "/customers/{customer_id}/financials",
    response_model=FinancialsRecordedPayload,
    responses=errors(404, 409, 422),
)
async def record_financials(
    customer_id: str,
    command: Statements,
    store: StoreDep,
    caller: Staff,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    """Up to three consecutive years of statements; the ratios are computed here and returned."""
    await visible_customer(store, caller, customer_id)
    return await details.record_financials(store, customer_id, command.statements, correlation_id)
