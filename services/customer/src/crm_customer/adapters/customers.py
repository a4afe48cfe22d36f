"""Customers, contacts, competitors: reads and writes."""

import re
from datetime import UTC, datetime
from typing import Any

from crm_runtime.pagination import Sort, after, next_cursor, sort_by
from crm_runtime.store import Store, UnitOfWork
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from crm_customer.adapters import COMPETITORS, CONTACTS, CUSTOMERS
from crm_customer.domain.dedup import DedupKeys, dedup_keys

Page = tuple[list[dict[str, Any]], str | None]  # the items, and the cursor of the next page


async def insert(uow: UnitOfWork, document: dict[str, Any]) -> None:
    await uow.db[CUSTOMERS].insert_one(document, session=uow.session)


async def get(source: Store | UnitOfWork, customer_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await source.db[CUSTOMERS].find_one(
        {"_id": customer_id}, session=source.session
    )
    return found


async def update_if_version(
    uow: UnitOfWork, customer_id: str, version: int, changes: dict[str, Any], status: str = "active"
) -> dict[str, Any]:
    """Applies `changes` and bumps the version of a customer loaded for changing at `version` and
    `status` in this transaction; returns the document after."""
    after: dict[str, Any] | None = await uow.db[CUSTOMERS].find_one_and_update(
        {"_id": customer_id, "version": version, "status": status},
        {"$set": {**changes, "updated_at": datetime.now(UTC)}, "$inc": {"version": 1}},
        return_document=ReturnDocument.AFTER,
        session=uow.session,
    )
    # The transaction read it so: a concurrent change is a write conflict, retried, not a miss.
    assert after is not None, f"customer {customer_id} left version {version} in a transaction"
    return after


async def set_fields(uow: UnitOfWork, customer_id: str, fields: dict[str, Any]) -> None:
    """Changes that do not count as an edit of the record (owner, tier, dedup keys)."""
    await uow.db[CUSTOMERS].update_one({"_id": customer_id}, {"$set": fields}, session=uow.session)


async def find_by_credit_code(store: Store, credit_code: str) -> dict[str, Any] | None:
    return await store.db[CUSTOMERS].find_one({"credit_code": credit_code}, {"_id": 1, "name": 1})


def browse_filter(
    *,
    status: str,
    region: str | None,
    industry: str | None,
    nature: str | None,
    owner_id: str | None,
    lifecycle: str | None,
    text: str | None,
    unassigned: bool = False,
) -> dict[str, Any]:
    query: dict[str, Any] = {"status": status}
    for name, value in (
        ("region", region),
        ("industry", industry),
        ("nature", nature),
        ("owner_id", owner_id),
        ("lifecycle", lifecycle),
    ):
        if value is not None:
            query[name] = value
    if unassigned:
        query["owner_id"] = None
    if text:
        query["name"] = {"$regex": re.escape(text), "$options": "i"}
    return query


async def page(
    store: Store, query: dict[str, Any], sort: Sort, limit: int, cursor: str | None = None
) -> Page:
    """Up to `limit` customers matching `query` after `cursor`, and the cursor of the next page."""
    return await paged(store.db[CUSTOMERS], query, sort, limit, cursor)


async def waiting_for_owner(store: Store, limit: int, cursor: str | None = None) -> Page:
    """The queue: active customers no salesperson was eligible for, oldest first."""
    order = sort_by("created_at", descending=False)
    return await page(store, {"status": "active", "owner_id": None}, order, limit, cursor)


async def paged(
    collection: AsyncCollection[Any],
    query: dict[str, Any],
    sort: Sort,
    limit: int,
    cursor: str | None,
) -> Page:
    found = (
        await collection.find({**query, **after(cursor, sort)})
        .sort(sort)
        .limit(limit + 1)
        .to_list()
    )
    return found[:limit], next_cursor(found, limit, sort)


# --- contacts and competitors -------------------------------------------------------------------


async def contacts_of(source: Store | UnitOfWork, customer_id: str) -> list[dict[str, Any]]:
    query = {"customer_id": customer_id, "removed": False}
    return await source.db[CONTACTS].find(query, session=source.session).sort("_id").to_list()


async def count_contacts(store: Store, customer_id: str) -> int:
    return await store.db[CONTACTS].count_documents({"customer_id": customer_id, "removed": False})


async def save_contact(uow: UnitOfWork, document: dict[str, Any]) -> None:
    await uow.db[CONTACTS].replace_one(
        {"_id": document["_id"]}, document, upsert=True, session=uow.session
    )


async def get_contact(uow: UnitOfWork, customer_id: str, contact_id: str) -> dict[str, Any] | None:
    return await uow.db[CONTACTS].find_one(
        {"_id": contact_id, "customer_id": customer_id, "removed": False}, session=uow.session
    )


async def competitors_of(store: Store, customer_id: str) -> list[dict[str, Any]]:
    return await store.db[COMPETITORS].find({"customer_id": customer_id}).sort("_id").to_list()


async def insert_competitor(uow: UnitOfWork, document: dict[str, Any]) -> None:
    await uow.db[COMPETITORS].insert_one(document, session=uow.session)


async def move_children(uow: UnitOfWork, collection: str, ids: list[str], to_customer: str) -> None:
    await uow.db[collection].update_many(
        {"_id": {"$in": ids}}, {"$set": {"customer_id": to_customer}}, session=uow.session
    )


async def child_ids(uow: UnitOfWork, collection: str, customer_id: str) -> list[str]:
    query = {"customer_id": customer_id, **({"removed": False} if collection == CONTACTS else {})}
    return [
        doc["_id"]
        for doc in await uow.db[collection].find(query, {"_id": 1}, session=uow.session).to_list()
    ]


# --- dedup ----------------------------------------------------------------------------------------


async def refresh_dedup_keys(uow: UnitOfWork, customer: dict[str, Any]) -> DedupKeys:
    """Recomputes the customer's dedup keys from its own fields and its contacts'."""
    contacts = await contacts_of(uow, customer["_id"])
    keys = dedup_keys(
        customer.get("name") or "",
        [customer.get("phone"), *(c.get("phone") for c in contacts)],
        [customer.get("website"), *(c.get("email") for c in contacts)],
    )
    await set_fields(
        uow,
        customer["_id"],
        {"dedup": {"name": keys.name, "phones": list(keys.phones), "domains": list(keys.domains)}},
    )
    return keys


async def candidates_sharing(
    store: Store, keys: DedupKeys, exclude_id: str, limit: int = 20
) -> list[dict[str, Any]]:
    alternatives: list[dict[str, Any]] = []
    if keys.name:
        alternatives.append({"dedup.name": keys.name})
    if keys.phones:
        alternatives.append({"dedup.phones": {"$in": list(keys.phones)}})
    if keys.domains:
        alternatives.append({"dedup.domains": {"$in": list(keys.domains)}})
    if not alternatives:
        return []
    query = {"status": "active", "_id": {"$ne": exclude_id}, "$or": alternatives}
    return (
        await store.db[CUSTOMERS]
        .find(query, {"_id": 1, "name": 1, "dedup": 1})
        .limit(limit)
        .to_list()
    )
