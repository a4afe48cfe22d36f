"""The customer service's MongoDB collections. Functions take a UnitOfWork inside a transaction,
or the Store for plain reads."""

from crm_runtime.store import Store
from pymongo import ASCENDING, DESCENDING

CUSTOMERS = "customers"
CONTACTS = "contacts"
COMPETITORS = "competitors"
SALESPEOPLE = "salespeople"
ASSIGNMENTS = "assignments"
MERGES = "merges"
USERS = "users"
LOGIN_FAILURES = "login_failures"
QUOTAS = "quotas"
ADMIN_CHANGES = "admin_changes"  # one document: concurrent removals of admins conflict on it


async def create_indexes(store: Store) -> None:
    db = store.db
    await db[CUSTOMERS].create_index(
        "credit_code",
        unique=True,
        name="unique_credit_code",
        partialFilterExpression={"credit_code": {"$type": "string"}},
    )
    for fields in (
        [("status", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
        [("status", ASCENDING), ("owner_id", ASCENDING), ("created_at", DESCENDING)],
        [("status", ASCENDING), ("region", ASCENDING), ("industry", ASCENDING)],
        [("status", ASCENDING), ("name", ASCENDING), ("_id", ASCENDING)],
        [("dedup.name", ASCENDING)],
        [("dedup.phones", ASCENDING)],
        [("dedup.domains", ASCENDING)],
    ):
        await db[CUSTOMERS].create_index(fields)
    await db[CONTACTS].create_index([("customer_id", ASCENDING), ("removed", ASCENDING)])
    await db[COMPETITORS].create_index("customer_id")
    await db[ASSIGNMENTS].create_index(
        [("customer_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)]
    )
    await db[USERS].create_index("username", unique=True)
    # The lists of quotas: by period, or by target (then period), in the order they page in.
    await db[QUOTAS].create_index([("period", ASCENDING), ("_id", ASCENDING)])
    await db[QUOTAS].create_index(
        [("target", ASCENDING), ("target_id", ASCENDING), ("period", ASCENDING), ("_id", ASCENDING)]
    )
