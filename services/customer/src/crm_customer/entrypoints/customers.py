"""Customers: create, browse, read, update, archive, restore, duplicates, merge."""

from datetime import datetime
from typing import Annotated, Any, Literal

from crm_contracts import CustomerFields
from crm_contracts.common import Id, Text
from crm_runtime.auth import Role
from crm_runtime.handlers import Command
from crm_runtime.http import IfMatch, ManagerContext, StaffContext, errors, version_read
from crm_runtime.pagination import Cursor, Limit, sort_by
from crm_runtime.store import Store
from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict

from crm_customer.adapters import customers as customer_store
from crm_customer.domain.customers import (
    ArchiveCustomer,
    CreateCustomer,
    CustomerChange,
    Reason,
    RestoreCustomer,
    UpdateCustomer,
    completeness,
)
from crm_customer.handlers import customers, merges
from crm_customer.handlers.guards import customer_to_read

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


class MergeRequest(Command):
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


def page_of(items: list[dict[str, Any]], cursor: str | None) -> dict[str, Any]:
    return {"items": [view(document) for document in items], "next_cursor": cursor}


async def _shown(
    store: Store, document: dict[str, Any], response: Response | None = None
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
async def create_customer(command: CreateCustomer, context: StaffContext) -> dict[str, Any]:
    """Stores the customer, assigns it to the most suitable salesperson (or queues it), and lists
    customers it likely duplicates. 409 when its credit code is already known."""
    created = await customers.create_customer(command, context)
    return {**created, "customer": await _shown(context.store, created["customer"])}


@router.get("/customers", response_model=CustomerPage, responses=errors(422))
async def browse_customers(
    context: StaffContext,
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
    caller = context.caller
    if caller is not None and caller.role is Role.SALESPERSON:
        owner_id, unassigned = caller.salesperson_id or "-", False
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
    order = sort_by(sort.lstrip("-"), descending=sort.startswith("-"))
    return page_of(*await customer_store.page(context.store, query, order, limit, cursor))


@router.get("/customers/{customer_id}", response_model=CustomerView, responses=errors(404))
async def get_customer(
    customer_id: str, context: StaffContext, response: Response
) -> dict[str, Any]:
    """The customer with its completeness; the ETag header is its version, for If-Match."""
    customer = await customer_to_read(context.store, context.caller, customer_id)
    return await _shown(context.store, customer, response)


@router.patch(
    "/customers/{customer_id}", response_model=CustomerView, responses=errors(404, 409, 422, 428)
)
async def update_customer(
    customer_id: str,
    change: CustomerChange,
    context: StaffContext,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Changes the fields sent; `null` clears an optional one (a name, nature or lifecycle cannot
    be cleared). The version read goes in If-Match or `version`; a stale one is a 409 with the
    current version."""
    version = version_read(if_match, change.version)
    command = UpdateCustomer(customer_id=customer_id, version=version, change=change)
    return await _shown(context.store, await customers.update_customer(command, context), response)


@router.post(
    "/customers/{customer_id}/archive", response_model=CustomerView, responses=errors(404, 409, 428)
)
async def archive_customer(
    customer_id: str,
    body: Reason,
    context: StaffContext,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Revokes the customer: never deleted, it leaves the lists and its owner's load."""
    version = version_read(if_match, body.version)
    command = ArchiveCustomer(customer_id=customer_id, version=version, reason=body.reason)
    return await _shown(context.store, await customers.archive_customer(command, context), response)


@router.post(
    "/customers/{customer_id}/restore", response_model=CustomerView, responses=errors(404, 409, 428)
)
async def restore_customer(
    customer_id: str,
    body: Reason,
    context: ManagerContext,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    version = version_read(if_match, body.version)
    command = RestoreCustomer(customer_id=customer_id, version=version, reason=body.reason)
    return await _shown(context.store, await customers.restore_customer(command, context), response)


@router.get(
    "/customers/{customer_id}/duplicates", response_model=list[Duplicate], responses=errors(404)
)
async def likely_duplicates(customer_id: str, context: StaffContext) -> list[dict[str, Any]]:
    """Active customers sharing its normalised name, a phone or an e-mail domain."""
    return await customers.likely_duplicates(context.store, context.caller, customer_id)


@router.post("/customers/{customer_id}/merge", responses=errors(404, 409, 422))
async def merge_into(
    customer_id: str, body: MergeRequest, context: ManagerContext
) -> dict[str, Any]:
    """Merges `merged_id` into this customer: contacts, competitors and ownership move; the merged
    one is archived with a pointer here."""
    command = merges.MergeCustomers(
        survivor_id=customer_id, merged_id=body.merged_id, reason=body.reason
    )
    record = await merges.merge(command, context)
    return {
        "survivor_id": customer_id,
        "merged_id": body.merged_id,
        "moved_contact_ids": record["contact_ids"],
        "moved_competitor_ids": record["competitor_ids"],
        "owner_taken": record["owner_taken"],
    }


@router.post("/customers/{customer_id}/unmerge", responses=errors(404, 409, 422))
async def unmerge(customer_id: str, body: MergeRequest, context: ManagerContext) -> dict[str, Any]:
    """Undoes the merge of `merged_id` into this customer: both exist again as before."""
    command = merges.UnmergeCustomers(
        survivor_id=customer_id, merged_id=body.merged_id, reason=body.reason
    )
    record = await merges.unmerge(command, context)
    return {
        "survivor_id": customer_id,
        "restored_id": body.merged_id,
        "returned_contact_ids": record["contact_ids"],
        "returned_competitor_ids": record["competitor_ids"],
    }
