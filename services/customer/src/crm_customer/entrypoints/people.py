"""Salespeople, assignment (by hand, history, the queue), users and login."""

from typing import Any

from crm_contracts.common import Id, Text
from crm_runtime.auth import Admins, Managers, Staff
from crm_runtime.http import CorrelationId, StoreDep
from crm_runtime.pagination import Cursor, Limit, after, next_cursor, sort_by
from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict

from crm_customer.adapters import customers as customer_store
from crm_customer.adapters import people
from crm_customer.domain.users import Throttle
from crm_customer.entrypoints import errors, visible_customer
from crm_customer.entrypoints.customers import CustomerPage, view
from crm_customer.handlers import NotFound, salespeople, users
from crm_customer.handlers.assignment import reassign

router = APIRouter()


class Reassign(BaseModel):
    model_config = ConfigDict(extra="forbid")
    salesperson_id: Id
    reason: Text


class HistoryPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


def _salesperson(document: dict[str, Any]) -> dict[str, Any]:
    return {"salesperson_id": document["_id"], **{k: v for k, v in document.items() if k != "_id"}}


@router.post(
    "/salespeople",
    status_code=status.HTTP_201_CREATED,
    tags=["salespeople"],
    responses=errors(409, 422),
)
async def register_salesperson(
    command: salespeople.RegisterSalesperson,
    store: StoreDep,
    caller: Managers,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    """Registers a salesperson; queued customers they are eligible for are assigned at once."""
    return _salesperson(await salespeople.register(store, command, correlation_id))


@router.patch("/salespeople/{salesperson_id}", tags=["salespeople"], responses=errors(404, 422))
async def update_salesperson(
    salesperson_id: str,
    command: salespeople.SalespersonChange,
    store: StoreDep,
    caller: Managers,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    """Regions, industries, capacity, seniority, active. An inactive one keeps their customers until
    a manager reassigns them, and receives no new ones."""
    return _salesperson(await salespeople.update(store, salesperson_id, command, correlation_id))


@router.get("/salespeople", tags=["salespeople"], responses=errors())
async def list_salespeople(store: StoreDep, caller: Managers) -> list[dict[str, Any]]:
    return [_salesperson(document) for document in await people.list_salespeople(store)]


@router.post(
    "/customers/{customer_id}/assignment", tags=["assignment"], responses=errors(404, 409, 422)
)
async def reassign_customer(
    customer_id: str,
    command: Reassign,
    store: StoreDep,
    caller: Managers,
    correlation_id: CorrelationId,
) -> dict[str, Any]:
    """A manager gives the customer to a salesperson by hand, with a reason kept in the history."""
    return await reassign(
        store, customer_id, command.salesperson_id, command.reason, caller.user_id, correlation_id
    )


@router.get(
    "/customers/{customer_id}/assignments",
    response_model=HistoryPage,
    tags=["assignment"],
    responses=errors(404),
)
async def assignment_history(
    customer_id: str, store: StoreDep, caller: Staff, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    """Every decision about this customer, newest first, with the candidates and reasons."""
    await visible_customer(store, caller, customer_id)
    order = sort_by("at", descending=True)
    found = await people.assignment_history(
        store, {"customer_id": customer_id, **after(cursor, order)}, order, limit + 1
    )
    items = [{"decision_id": entry.pop("_id"), **entry} for entry in found[:limit]]
    return {"items": items, "next_cursor": next_cursor(found, limit, order)}


@router.get(
    "/assignments/unassigned", response_model=CustomerPage, tags=["assignment"], responses=errors()
)
async def unassigned_queue(
    store: StoreDep, caller: Managers, limit: Limit = 50, cursor: Cursor = None
) -> dict:
    """Customers waiting for an eligible salesperson, oldest first."""
    order = sort_by("created_at", descending=False)
    query = {"status": "active", "owner_id": None, **after(cursor, order)}
    found = await customer_store.page(store, query, order, limit + 1)
    return {
        "items": [view(document) for document in found[:limit]],
        "next_cursor": next_cursor(found, limit, order),
    }


@router.post(
    "/auth/login",
    tags=["users"],
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many failures: see Retry-After"},
    },
)
async def login(command: users.Login, store: StoreDep, request: Request) -> dict[str, Any]:
    """A short-lived bearer token for every service of the CRM."""
    settings = request.app.state.settings
    throttle = Throttle(max_failures=settings.login_max_failures)
    return await users.login(
        store, command, request.app.state.auth_secret, settings.auth_token_ttl_s, throttle
    )


@router.post(
    "/users", status_code=status.HTTP_201_CREATED, tags=["users"], responses=errors(409, 422)
)
async def create_user(command: users.NewUser, store: StoreDep, caller: Admins) -> dict[str, Any]:
    return await users.create_user(store, command)


@router.patch("/users/{user_id}", tags=["users"], responses=errors(404, 422))
async def change_user(
    user_id: str, command: users.UserChange, store: StoreDep, caller: Admins
) -> dict:
    changed = await users.change_user(store, user_id, command)
    if changed is None:
        raise NotFound(f"no user {user_id}")
    return changed


@router.get("/users", tags=["users"], responses=errors())
async def list_users(
    store: StoreDep, caller: Admins, limit: Limit = 100, after_id: str | None = None
) -> list[dict]:
    """By id; pass the last id seen as `after_id` for the next page."""
    return [
        users.public_user(document) for document in await people.list_users(store, limit, after_id)
    ]
