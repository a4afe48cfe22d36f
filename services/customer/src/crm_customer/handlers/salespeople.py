"""Salespeople: register and update; either may let queued customers be assigned."""

import uuid
from datetime import UTC, datetime
from typing import Any

from crm_contracts import SalespersonPayload, SalespersonRegistered, SalespersonUpdated
from crm_contracts.common import Id, Text
from crm_contracts.salesperson_events import Coverage, Team
from crm_runtime.errors import Conflict, NotFound
from crm_runtime.handlers import Command, Context, Patch
from crm_runtime.store import UnitOfWork
from pydantic import Field

from crm_customer.adapters import people
from crm_customer.domain.customers import PRODUCER
from crm_customer.handlers.assignment import assign_waiting_customers
from crm_customer.settings import CustomerSettings


class SalespersonChange(Patch):
    """What to change; only the team may be cleared, by null (send [] to empty regions or
    industries)."""

    nullable = frozenset({"team"})
    name: Text | None = None
    regions: Coverage | None = None
    industries: Coverage | None = None
    capacity: int | None = Field(default=None, ge=0)
    seniority: int | None = Field(default=None, ge=1, le=3)
    active: bool | None = None
    team: Team | None = None


class RegisterSalesperson(Command):
    salesperson_id: Id | None = Field(default=None, description="Given, or made here.")
    name: Text
    regions: Coverage = Field(default_factory=list, description="Empty: every region.")
    industries: Coverage = Field(default_factory=list, description="Empty: every industry.")
    capacity: int = Field(ge=0)
    seniority: int = Field(ge=1, le=3)
    active: bool = True
    team: Team | None = Field(default=None, description="The team they sell in, if any.")


class ChangeSalesperson(Command):
    salesperson_id: Id
    change: SalespersonChange


def _facts(document: dict[str, Any]) -> SalespersonPayload:
    return SalespersonPayload(
        salesperson_id=document["_id"],
        **{k: document[k] for k in SalespersonPayload.model_fields if k in document},
    )


async def register(
    command: RegisterSalesperson, context: Context[CustomerSettings]
) -> dict[str, Any]:
    """Registers a salesperson; queued customers they are eligible for are assigned at once."""
    salesperson_id = command.salesperson_id or str(uuid.uuid4())
    document = {
        "_id": salesperson_id,
        **command.model_dump(exclude={"salesperson_id"}),
        "load": 0,
        "last_assigned_at": None,
        "created_at": datetime.now(UTC),
    }

    async def work(uow: UnitOfWork) -> None:
        if await people.get_salesperson(uow, salesperson_id) is not None:
            raise Conflict(f"salesperson {salesperson_id} exists")
        await people.insert_salesperson(uow, document)
        uow.emit(
            SalespersonRegistered(
                producer=PRODUCER,
                customer_id=salesperson_id,
                correlation_id=context.correlation_id,
                payload=_facts(document),
            )
        )

    await context.store.run(work)
    queued = await assign_waiting_customers(context.store, context.correlation_id)
    return {**document, "assigned_from_queue": queued}


async def update(command: ChangeSalesperson, context: Context[CustomerSettings]) -> dict[str, Any]:
    salesperson_id = command.salesperson_id
    fields = command.change.model_dump(exclude_unset=True)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        after = await people.update_salesperson(
            uow, salesperson_id, {**fields, "updated_at": datetime.now(UTC)}
        )
        if after is None:
            raise NotFound(f"no salesperson {salesperson_id}")
        uow.emit(
            SalespersonUpdated(
                producer=PRODUCER,
                customer_id=salesperson_id,
                correlation_id=context.correlation_id,
                payload=_facts(after),
            )
        )
        return after

    after = await context.store.run(work)
    queued = await assign_waiting_customers(context.store, context.correlation_id)
    return {**after, "assigned_from_queue": queued}
