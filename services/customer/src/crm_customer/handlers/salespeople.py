"""Salespeople: register and update; either may let queued customers be assigned."""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_contracts import SalespersonPayload, SalespersonRegistered, SalespersonUpdated
from crm_contracts.common import Id, Text
from crm_runtime.store import Store, UnitOfWork
from pydantic import BaseModel, ConfigDict, Field

from crm_customer.adapters import people
from crm_customer.domain.customers import PRODUCER
from crm_customer.handlers import Conflict, NotFound
from crm_customer.handlers.assignment import assign_waiting_customers


class SalespersonChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Text | None = None
    regions: list[Text] | None = None
    industries: list[Text] | None = None
    capacity: int | None = Field(default=None, ge=0)
    seniority: int | None = Field(default=None, ge=1, le=3)
    active: bool | None = None


class RegisterSalesperson(SalespersonChange):
    salesperson_id: Id | None = Field(default=None, description="Given, or made here.")
    name: Text
    capacity: int = Field(ge=0)
    seniority: int = Field(ge=1, le=3)


def _facts(document: dict[str, Any]) -> SalespersonPayload:
    return SalespersonPayload(
        salesperson_id=document["_id"],
        **{k: document[k] for k in SalespersonPayload.model_fields if k in document},
    )


async def register(
    store: Store, command: RegisterSalesperson, correlation_id: UUID
) -> dict[str, Any]:
    salesperson_id = command.salesperson_id or str(uuid.uuid4())
    document = {
        "_id": salesperson_id,
        **command.model_dump(exclude={"salesperson_id"}, exclude_none=True),
        "regions": command.regions or [],
        "industries": command.industries or [],
        "active": command.active if command.active is not None else True,
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
                correlation_id=correlation_id,
                payload=_facts(document),
            )
        )

    await store.run(work)
    document["assigned_from_queue"] = await assign_waiting_customers(store, correlation_id)
    return document


async def update(
    store: Store, salesperson_id: str, command: SalespersonChange, correlation_id: UUID
) -> dict:
    fields = command.model_dump(exclude_unset=True)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        if await people.get_salesperson(uow, salesperson_id) is None:
            raise NotFound(f"no salesperson {salesperson_id}")
        after = await people.update_salesperson(
            uow, salesperson_id, {**fields, "updated_at": datetime.now(UTC)}
        )
        uow.emit(
            SalespersonUpdated(
                producer=PRODUCER,
                customer_id=salesperson_id,
                correlation_id=correlation_id,
                payload=_facts(after),
            )
        )
        return after

    after = await store.run(work)
    after["assigned_from_queue"] = await assign_waiting_customers(store, correlation_id)
    return after
