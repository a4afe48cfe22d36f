"""The follow-up service's MongoDB collections, and the queries its HTTP doors answer from."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_runtime.pagination import Sort, after, next_cursor, sort_by
from crm_runtime.store import Store, UnitOfWork
from pymongo import ASCENDING, DESCENDING, ReturnDocument

CUSTOMERS = "known_customers"
FOLLOWUPS = "followups"
OPPORTUNITIES = "opportunities"
PROPOSALS = "proposals"
DEALS = "deals"


async def create_indexes(store: Store) -> None:
    db = store.db
    await db[FOLLOWUPS].create_index(
        [("customer_id", ASCENDING), ("started_at", DESCENDING), ("_id", DESCENDING)]
    )
    await db[FOLLOWUPS].create_index([("salesperson_id", ASCENDING), ("started_at", DESCENDING)])
    await db[FOLLOWUPS].create_index([("started_at", DESCENDING), ("_id", DESCENDING)])
    await db[OPPORTUNITIES].create_index([("customer_id", ASCENDING), ("opened_at", DESCENDING)])
    await db[PROPOSALS].create_index([("customer_id", ASCENDING), ("created_at", DESCENDING)])
    await db[PROPOSALS].create_index([("opportunity_id", ASCENDING), ("decided_at", DESCENDING)])
    await db[DEALS].create_index([("customer_id", ASCENDING), ("closed_at", DESCENDING)])
    await _several_open_per_customer(db)


async def _several_open_per_customer(db: Any) -> None:
    """Migrates a database kept when a customer had one open opportunity: the unique index that
    kept it goes, and each opportunity gets the version and change time that changes count from
    (idempotent: every instance runs it at start-up)."""
    if "one_open_per_customer" in await db[OPPORTUNITIES].index_information():
        await db[OPPORTUNITIES].drop_index("one_open_per_customer")
    await db[OPPORTUNITIES].update_many(
        {"version": {"$exists": False}},
        [{"$set": {"version": 1, "changed_at": {"$last": "$history.entered_at"}}}],
    )


async def find(
    source: Store | UnitOfWork, collection: str, query: dict[str, Any]
) -> dict[str, Any] | None:
    return await source.db[collection].find_one(query, session=source.session)


async def insert(uow: UnitOfWork, collection: str, document: dict[str, Any]) -> None:
    await uow.db[collection].insert_one(document, session=uow.session)


async def upsert(
    uow: UnitOfWork, collection: str, document_id: str, update: dict[str, Any]
) -> None:
    await uow.db[collection].update_one(
        {"_id": document_id}, update, upsert=True, session=uow.session
    )


async def update(
    uow: UnitOfWork, collection: str, query: dict[str, Any], update: dict[str, Any]
) -> dict[str, Any] | None:
    """The document after the update, or None when `query` matched nothing (e.g. a stale
    version)."""
    return await uow.db[collection].find_one_and_update(
        query, update, return_document=ReturnDocument.AFTER, session=uow.session
    )


async def count(source: Store | UnitOfWork, collection: str, query: dict[str, Any]) -> int:
    return await source.db[collection].count_documents(query, session=source.session)


async def page(
    source: Store | UnitOfWork, collection: str, query: dict[str, Any], sort: Sort, limit: int
) -> list[dict[str, Any]]:
    found = source.db[collection].find(query, session=source.session)
    return await found.sort(sort).limit(limit).to_list()


async def of_customer(
    source: Store | UnitOfWork, collection: str, customer_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    """The customer's opportunities, proposals or deals (those in `status`, if given), newest
    first (at most 100)."""
    newest = {OPPORTUNITIES: "opened_at", PROPOSALS: "created_at", DEALS: "closed_at"}[collection]
    query = {"customer_id": customer_id, **({"status": status} if status else {})}
    return await page(source, collection, query, [(newest, -1)], 100)


async def latest_accepted_proposal(uow: UnitOfWork, opportunity_id: str) -> dict[str, Any] | None:
    query = {"opportunity_id": opportunity_id, "status": "accepted"}
    found = await page(uow, PROPOSALS, query, [("decided_at", -1)], 1)
    return found[0] if found else None


@dataclass(frozen=True)
class FollowupSearch:
    customer_id: str | None = None
    salesperson_id: str | None = None
    channel: str | None = None
    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before
    text: str | None = None  # in subject, outcome or next step
    include_revoked: bool = False


def _matching(search: FollowupSearch) -> dict[str, Any]:
    query: dict[str, Any] = {} if search.include_revoked else {"status": "active"}
    for name in ("customer_id", "salesperson_id", "channel"):
        if (value := getattr(search, name)) is not None:
            query[name] = value
    if search.since or search.until:
        query["started_at"] = {
            **({"$gte": search.since} if search.since else {}),
            **({"$lt": search.until} if search.until else {}),
        }
    if search.text:
        pattern = {"$regex": re.escape(search.text), "$options": "i"}
        query["$or"] = [{"subject": pattern}, {"outcome": pattern}, {"next_step": pattern}]
    return query


async def search_followups(
    store: Store, search: FollowupSearch, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of follow-ups, newest first, and the cursor of the next page."""
    order = sort_by("started_at", descending=True)
    # Both the text filter and the cursor are an `$or`: merged as keys, one would replace the
    # other, so they are joined with `$and`.
    query = {"$and": [_matching(search), after(cursor, order)]}
    found = await page(store, FOLLOWUPS, query, order, limit + 1)
    return {"items": found[:limit], "next_cursor": next_cursor(found, limit, order)}
