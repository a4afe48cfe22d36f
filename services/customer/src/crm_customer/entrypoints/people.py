"""Salespeople, assignment (by hand, history, the queue), users and login."""

from typing import Any

from crm_contracts.common import Id, Text
from crm_runtime.handlers import Command
from crm_runtime.http import (
    ERRORS,
    AdminContext,
    AnonymousContext,
    ManagerContext,
    StaffContext,
    errors,
)
from crm_runtime.pagination import Cursor, Limit
from fastapi import APIRouter, status
from pydantic import BaseModel

from crm_customer.adapters import customers as customer_store
from crm_customer.adapters import people
from crm_customer.entrypoints.customers import CustomerPage, page_of
from crm_customer.handlers import salespeople, users
from crm_customer.handlers.assignment import ReassignCustomer, reassign
from crm_customer.handlers.guards import customer_to_read

router = APIRouter()


class Reassign(Command):
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
    command: salespeople.RegisterSalesperson, context: ManagerContext
) -> dict[str, Any]:
    """Registers a salesperson; queued customers they are eligible for are assigned at once."""
    return _salesperson(await salespeople.register(command, context))


@router.patch("/salespeople/{salesperson_id}", tags=["salespeople"], responses=errors(404, 422))
async def update_salesperson(
    salesperson_id: str, body: salespeople.SalespersonChange, context: ManagerContext
) -> dict[str, Any]:
    """Regions, industries, capacity, seniority, active, team; only the team may be null (no team).
    An inactive one keeps their customers until a manager reassigns them, and receives no new
    ones."""
    command = salespeople.ChangeSalesperson(salesperson_id=salesperson_id, change=body)
    return _salesperson(await salespeople.update(command, context))


@router.get("/salespeople", tags=["salespeople"], responses=errors())
async def list_salespeople(context: ManagerContext) -> list[dict[str, Any]]:
    return [_salesperson(document) for document in await people.list_salespeople(context.store)]


@router.post(
    "/customers/{customer_id}/assignment", tags=["assignment"], responses=errors(404, 409, 422)
)
async def reassign_customer(
    customer_id: str, body: Reassign, context: ManagerContext
) -> dict[str, Any]:
    """A manager gives the customer to a salesperson by hand, with a reason kept in the history."""
    command = ReassignCustomer(
        customer_id=customer_id, salesperson_id=body.salesperson_id, reason=body.reason
    )
    return await reassign(command, context)


@router.get(
    "/customers/{customer_id}/assignments",
    response_model=HistoryPage,
    tags=["assignment"],
    responses=errors(404, 422),
)
async def assignment_history(
    customer_id: str, context: StaffContext, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    """Every decision about this customer, newest first, with the candidates and reasons."""
    await customer_to_read(context.store, context.caller, customer_id)
    items, after = await people.assignment_history(context.store, customer_id, limit, cursor)
    return {"items": items, "next_cursor": after}


@router.get(
    "/assignments/unassigned",
    response_model=CustomerPage,
    tags=["assignment"],
    responses=errors(422),
)
async def unassigned_queue(
    context: ManagerContext, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    """Customers waiting for an eligible salesperson, oldest first."""
    return page_of(*await customer_store.waiting_for_owner(context.store, limit, cursor))


@router.post(
    "/auth/login",
    tags=["users"],
    responses={
        400: ERRORS[400],
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many failures: see Retry-After"},
    },
)
async def login(command: users.Login, context: AnonymousContext) -> dict[str, Any]:
    """A short-lived bearer token for every service of the CRM."""
    return await users.login(command, context)


@router.post(
    "/users", status_code=status.HTTP_201_CREATED, tags=["users"], responses=errors(409, 422)
)
async def create_user(command: users.NewUser, context: AdminContext) -> dict[str, Any]:
    return await users.create_user(command, context)


@router.patch("/users/{user_id}", tags=["users"], responses=errors(404, 409, 422))
async def change_user(
    user_id: str, body: users.UserChange, context: AdminContext
) -> dict[str, Any]:
    """Password, role, salesperson_id, active; only salesperson_id may be null. A change of role,
    salesperson or active ends the user's tokens; the last active admin stays one (409)."""
    return await users.change_user(users.ChangeUser(user_id=user_id, change=body), context)


@router.get("/users", tags=["users"], responses=errors())
async def list_users(
    context: AdminContext, limit: Limit = 100, after_id: str | None = None
) -> list[dict[str, Any]]:
    """By id; pass the last id seen as `after_id` for the next page."""
    found = await people.list_users(context.store, limit, after_id)
    return [users.public_user(document) for document in found]
