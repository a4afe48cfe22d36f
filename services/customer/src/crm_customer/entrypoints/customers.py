"""Customers: create, browse, read, update, archive, restore, duplicates, merge."""

from datetime import datetime
from typing import Annotated, Any, Literal

from crm_contracts import CustomerFields
from crm_contracts.common import Id, Text
from crm_runtime.auth import Managers, Role, Staff
from crm_runtime.http import CorrelationId, StoreDep
from crm_runtime.pagination import Cursor, Limit, after, next_cursor, sort_by
from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict

from crm_customer.adapters import customers as customer_store
from crm_customer.domain.customers import CreateCustomer, Reason, UpdateCustomer, completeness
from crm_customer.entrypoints import IfMatch, errors, version_from, visible_customer
from crm_customer.handlers import customers, merges

router = APIRouter(tags=["customers"])


class CustomerView(CustomerFields):
    model_config = ConfigDict(extra="ignore")
    id: str
    version: int
    status: Literal["active", "archived"]
    owner_id: str | None = None
    tier: str | None = None
    assigned_at: datetime | None = None
    archived_reason: str | None = None
    merged_into: str | None = None
    financials: dict[str, Any] | None = None
    completeness: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime


class Duplicate(BaseModel):
    customer_id: str
    name: str | None
    reasons: list[str]


class Created(BaseModel):
    customer: CustomerView
    assignment: dict[str, Any] | None
    likely_duplicates: list[Duplicate]


class CustomerPage(BaseModel):
    items: list[CustomerView]
    next_cursor: str | None


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merged_id: Id
    reason: Text


def view(document: dict[str, Any], contact_count: int | None = None) -> dict[str, Any]:
    shown = {
        "id": document["_id"],
        **{k: v for k, v in document.items() if k not in ("_id", "dedup")},
    }
    if contact_count is not None:
        shown["completeness"] = completeness(document, contact_count)
    return shown


async def _shown(
    store, document: dict[str, Any], response: Response | None = None
) -> dict[str, Any]:
    if response is not None:
        response.headers["ETag"] = f'"{document["version"]}"'
    return view(document, await customer_store.count_contacts(store, document["_id"]))


@router.post(
    "/customers",
    status_code=status.HTTP_201_CREATED,
    response_model=Created,
    responses=errors(409, 422),
)
async def create_customer(
    command: CreateCustomer, store: StoreDep, correlation_id: CorrelationId, caller: Staff
) -> dict[str, Any]:
    """Stores the customer, assigns it to the most suitable salesperson (or queues it), and lists
    customers it likely duplicates. 409 when its credit code is already known."""
    created = await customers.create_customer(command, store, correlation_id)
    return {**created, "customer": await _shown(store, created["customer"])}


@router.get("/customers", response_model=CustomerPage, responses=errors(422))
async def browse_customers(
    store: StoreDep,
    caller: Staff,
    limit: Limit = 50,
    cursor: Cursor = None,
    region: str | None = None,
    industry: str | None = None,
    nature: str | None = None,
    owner_id: str | None = None,
    lifecycle: str | None = None,
    unassigned: Annotated[
        bool, Query(description="Only customers waiting for a salesperson.")
    ] = False,
    archived: Annotated[
        bool, Query(description="Archived customers instead of active ones.")
    ] = False,
    q: Annotated[
        str | None, Query(max_length=100, description="Text in the name, any case.")
    ] = None,
    sort: Literal[
        "name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"
    ] = "-created_at",
) -> dict[str, Any]:
    """Salespeople see only their own customers whatever the filters say."""
    if caller.role is Role.SALESPERSON:
        owner_id, unassigned = caller.salesperson_id or "-", False
    order = sort_by(sort.lstrip("-"), descending=sort.startswith("-"))
    query = customer_store.browse_filter(
        status="archived" if archived else "active",
        region=region,
        industry=industry,
        nature=nature,
        owner_id=owner_id,
        lifecycle=lifecycle,
        text=q,
        unassigned=unassigned,
    )
    found = await customer_store.page(store, {**query, **after(cursor, order)}, order, limit + 1)
    return {
        "items": [view(document) for document in found[:limit]],
        "next_cursor": next_cursor(found, limit, order),
    }


@router.get("/customers/{customer_id}", response_model=CustomerView, responses=errors(404))
async def get_customer(
    customer_id: str, store: StoreDep, caller: Staff, response: Response
) -> dict[str, Any]:
    """The customer with its completeness; the ETag header is its version, for If-Match."""
    return await _shown(store, await visible_customer(store, caller, customer_id), response)


@router.patch(
    "/customers/{customer_id}", response_model=CustomerView, responses=errors(404, 409, 422, 428)
)
async def update_customer(
    customer_id: str,
    command: UpdateCustomer,
    store: StoreDep,
    caller: Staff,
    correlation_id: CorrelationId,
    response: Response,
    if_match: IfMatch = None,
) -> dict:
    """Changes the fields sent (null clears one). The version read goes in If-Match or `version`;
    a stale one is a 409 with the current version."""
    await visible_customer(store, caller, customer_id)
    updated = await customers.update_customer(
        store, customer_id, command, version_from(if_match), correlation_id
    )
    return await _shown(store, updated, response)


@router.post(
    "/customers/{customer_id}/archive", response_model=CustomerView, responses=errors(404, 409, 428)
)
async def archive_customer(
    customer_id: str,
    command: Reason,
    store: StoreDep,
    caller: Staff,
    correlation_id: CorrelationId,
    response: Response,
    if_match: IfMatch = None,
) -> dict:
    """Revokes the customer: never deleted, it leaves the lists and its owner's load."""
    await visible_customer(store, caller, customer_id)
    version = version_from(if_match) or command.version
    archived = await customers.archive_customer(
        store, customer_id, command.reason, version, correlation_id
    )
    return await _shown(store, archived, response)


@router.post(
    "/customers/{customer_id}/restore", response_model=CustomerView, responses=errors(404, 409, 428)
)
async def restore_customer(
    customer_id: str,
    command: Reason,
    store: StoreDep,
    caller: Managers,
    correlation_id: CorrelationId,
    response: Response,
    if_match: IfMatch = None,
) -> dict:
    version = version_from(if_match) or command.version
    restored = await customers.restore_customer(
        store, customer_id, command.reason, version, correlation_id
    )
    return await _shown(store, restored, response)


@router.get(
    "/customers/{customer_id}/duplicates", response_model=list[Duplicate], responses=errors(404)
)
async def likely_duplicates(
    customer_id: str, store: StoreDep, caller: Staff
) -> list[dict[str, Any]]:
    """Active customers sharing its normalised name, a phone or an e-mail domain."""
    await visible_customer(store, caller, customer_id)
    return await customers.likely_duplicates(store, customer_id)


@router.post("/customers/{customer_id}/merge", responses=errors(404, 409, 422))
async def merge_into(
    customer_id: str,
    command: MergeRequest,
    store: StoreDep,
    caller: Managers,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    """Merges `merged_id` into this customer: contacts, competitors and ownership move; the merged
    one is archived with a pointer here."""
    record = await merges.merge(
        store, customer_id, command.merged_id, command.reason, caller.user_id, correlation_id
    )
    return {
        "survivor_id": customer_id,
        "merged_id": command.merged_id,
        "moved_contact_ids": record["contact_ids"],
        "moved_competitor_ids": record["competitor_ids"],
        "owner_taken": record["owner_taken"],
    }


@router.post("/customers/{customer_id}/unmerge", responses=errors(404, 409, 422))
async def unmerge(
    customer_id: str,
    command: MergeRequest,
    store: StoreDep,
    caller: Managers,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    """Undoes the merge of `merged_id` into this customer: both exist again as before."""
    record = await merges.unmerge(
        store, customer_id, command.merged_id, command.reason, correlation_id
    )
    return {
        "survivor_id": customer_id,
        "restored_id": command.merged_id,
        "returned_contact_ids": record["contact_ids"],
        "returned_competitor_ids": record["competitor_ids"],
    }
