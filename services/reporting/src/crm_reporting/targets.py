"""Quotas and teams, from the salesperson topic: what the period forecast compares with and
groups by. Both are small (a document per salesperson, and per target and period) and each
keeps its latest version, whatever order the events come in."""

from typing import Any

from crm_contracts import QuotaSet, SalespersonRegistered, SalespersonUpdated
from crm_runtime.store import UnitOfWork
from pymongo import UpdateOne

from crm_reporting.adapters import QUOTAS, SALESPEOPLE


def quota_id(target: str, target_id: str, period: str) -> str:
    return f"{target}:{target_id}:{period}"


def _latest(key: str, order: str, value: Any, fields: dict[str, Any]) -> list[UpdateOne]:
    """`fields` set unless the document shows a later `order` already."""
    return [
        UpdateOne({"_id": key}, {"$setOnInsert": {order: None}}, upsert=True),
        UpdateOne(
            {"_id": key, order: {"$not": {"$gte": value}}}, {"$set": {**fields, order: value}}
        ),
    ]


async def on_quota_set(event: QuotaSet, uow: UnitOfWork) -> None:
    quota = event.payload
    fields = quota.model_dump(mode="json", exclude={"version"})
    key = quota_id(quota.target, quota.target_id, quota.period)
    uow.write(QUOTAS, *_latest(key, "version", quota.version, fields))


async def on_salesperson(
    event: SalespersonRegistered | SalespersonUpdated, uow: UnitOfWork
) -> None:
    person = event.payload
    fields = {"name": person.name, "team": person.team, "active": person.active}
    uow.write(SALESPEOPLE, *_latest(person.salesperson_id, "at", event.occurred_at, fields))
