"""Quotas: one document per target and period, with its current version and every version in
`history`."""

from typing import Any

from crm_runtime.pagination import sort_by
from crm_runtime.store import Store, UnitOfWork
from pymongo import ReturnDocument

from crm_customer.adapters import QUOTAS
from crm_customer.adapters.customers import Page, paged

ORDER = sort_by("period", descending=False)


async def get(source: Store | UnitOfWork, quota_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await source.db[QUOTAS].find_one(
        {"_id": quota_id}, session=source.session
    )
    return found


async def insert(uow: UnitOfWork, document: dict[str, Any]) -> None:
    await uow.db[QUOTAS].insert_one(document, session=uow.session)


async def add_version(
    uow: UnitOfWork, quota_id: str, version: dict[str, Any]
) -> dict[str, Any] | None:
    """Makes `version` the current one of a quota still at the one before; the quota after, or
    None when it has moved on meanwhile."""
    found: dict[str, Any] | None = await uow.db[QUOTAS].find_one_and_update(
        {"_id": quota_id, "version": version["version"] - 1},
        {"$set": version, "$push": {"history": version}},
        return_document=ReturnDocument.AFTER,
        session=uow.session,
    )
    return found


async def page(
    store: Store,
    *,
    target: str | None,
    target_id: str | None,
    period: str | None,
    limit: int,
    cursor: str | None,
) -> Page:
    """Current quotas matching the filters given, by period, then target; history left out."""
    filters = (("target", target), ("target_id", target_id), ("period", period))
    query = {name: value for name, value in filters if value is not None}
    found, after = await paged(store.db[QUOTAS], query, ORDER, limit, cursor)
    return [{k: v for k, v in quota.items() if k != "history"} for quota in found], after
