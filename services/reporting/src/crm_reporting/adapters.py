"""Reporting's read models in MongoDB: one profile per customer, one timeline entry per activity."""

from typing import Any

from crm_runtime.pagination import after, next_cursor, sort_by
from crm_runtime.store import Store, UnitOfWork
from pymongo import DESCENDING

PROFILES = "customer_profiles"
TIMELINE = "timeline"


async def create_indexes(store: Store) -> None:
    await store.db[TIMELINE].create_index(
        [("customer_id", 1), ("at", DESCENDING), ("_id", DESCENDING)]
    )
    for collection, field in (
        ("fact_followups", "at"),
        ("fact_deals", "closed_at"),
        ("fact_opportunities", "opened_at"),
        ("fact_proposals", "created_at"),
    ):
        await store.db[collection].create_index(field)
    await store.db["fact_opportunities"].create_index([("closed", 1), ("customer_id", 1)])


async def update_profile(uow: UnitOfWork, customer_id: str, update: dict[str, Any]) -> None:
    await uow.db[PROFILES].update_one(
        {"_id": customer_id}, update, upsert=True, session=uow.session
    )


async def set_latest_score(uow: UnitOfWork, customer_id: str, score: dict[str, Any]) -> None:
    """Keeps the newest score: an older one arriving late changes nothing."""
    await update_profile(uow, customer_id, {"$setOnInsert": {"profile": None}})
    await uow.db[PROFILES].update_one(
        {"_id": customer_id, "latest_score.occurred_at": {"$not": {"$gte": score["occurred_at"]}}},
        {"$set": {"latest_score": score}},
        session=uow.session,
    )


async def add_to_timeline(uow: UnitOfWork, entry: dict[str, Any]) -> None:
    await uow.db[TIMELINE].insert_one(entry, session=uow.session)


async def update_timeline_entry(
    uow: UnitOfWork, customer_id: str, followup_id: str, fields: dict[str, Any]
) -> bool:
    """Changes the timeline entry of a follow-up; False when it is not there (yet) or unchanged."""
    result = await uow.db[TIMELINE].update_one(
        {
            "customer_id": customer_id,
            "kind": "followup",
            "details.followup_id": followup_id,
            "revoked": {"$ne": True},
        },
        {"$set": fields},
        session=uow.session,
    )
    return result.modified_count == 1


async def find_profile(store: Store, customer_id: str) -> dict[str, Any] | None:
    return await store.db[PROFILES].find_one({"_id": customer_id})


async def timeline_page(
    store: Store, customer_id: str, limit: int, cursor: str | None
) -> tuple[list, str | None]:
    sort = sort_by("at", descending=True)
    query = {"customer_id": customer_id, **after(cursor, sort)}
    entries = await store.db[TIMELINE].find(query).sort(sort).limit(limit + 1).to_list()
    return entries[:limit], next_cursor(entries, limit, sort)
