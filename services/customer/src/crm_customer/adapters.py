"""The customer service's MongoDB collections."""

from typing import Any

from pymongo import ASCENDING

from crm_runtime.store import Store, UnitOfWork

CUSTOMERS = "customers"


async def create_indexes(store: Store) -> None:
    await store.db[CUSTOMERS].create_index(
        [("credit_code", ASCENDING)],
        unique=True,
        name="unique_credit_code",
        partialFilterExpression={"credit_code": {"$type": "string"}},
    )


async def insert_customer(uow: UnitOfWork, document: dict[str, Any]) -> None:
    await uow.db[CUSTOMERS].insert_one(document, session=uow.session)


async def find_customer(store: Store, customer_id: str) -> dict[str, Any] | None:
    return await store.db[CUSTOMERS].find_one({"_id": customer_id})


async def find_by_credit_code(store: Store, credit_code: str) -> dict[str, Any] | None:
    return await store.db[CUSTOMERS].find_one({"credit_code": credit_code}, {"_id": 1, "name": 1})
