"""The follow-up service's MongoDB collections."""

from typing import Any

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
    # One open opportunity per customer, kept by the database even under concurrent requests.
    await db[OPPORTUNITIES].create_index(
        "customer_id",
        unique=True,
        name="one_open_per_customer",
        partialFilterExpression={"status": "open"},
    )
    await db[OPPORTUNITIES].create_index([("customer_id", ASCENDING), ("opened_at", DESCENDING)])
    await db[PROPOSALS].create_index([("customer_id", ASCENDING), ("created_at", DESCENDING)])
    await db[DEALS].create_index([("customer_id", ASCENDING), ("closed_at", DESCENDING)])


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
) -> dict | None:
    """The document after the update, or None when `query` matched nothing (e.g. a stale
    version)."""
    return await uow.db[collection].find_one_and_update(
        query, update, return_document=ReturnDocument.AFTER, session=uow.session
    )


async def page(
    store: Store, collection: str, query: dict[str, Any], sort: list, limit: int
) -> list[dict]:
    return await store.db[collection].find(query).sort(sort).limit(limit).to_list()
