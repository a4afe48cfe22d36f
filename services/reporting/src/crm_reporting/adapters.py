"""Reporting's read models in MongoDB: one profile per customer, one timeline entry per activity,
and one fact per follow-up, deal, opportunity and proposal.

Facts keep the customer they happened to (`customer_id`) and the account they count under
(`account_id`): the customer itself, or the survivor it was merged into. A merge or an unmerge
moves the account of every fact in the same transaction, so the reports count a history once."""

from typing import Any

from crm_runtime.auth import Principal, Role, forbidden_unless
from crm_runtime.errors import NotFound
from crm_runtime.pagination import after, next_cursor, sort_by
from crm_runtime.store import Store, UnitOfWork
from pymongo import DESCENDING

PROFILES = "customer_profiles"
TIMELINE = "timeline"
FOLLOWUPS = "fact_followups"
DEALS = "fact_deals"
OPPORTUNITIES = "fact_opportunities"
PROPOSALS = "fact_proposals"
FACTS = (FOLLOWUPS, DEALS, OPPORTUNITIES, PROPOSALS)


async def create_indexes(store: Store) -> None:
    await store.db[TIMELINE].create_index(
        [("customer_id", 1), ("at", DESCENDING), ("_id", DESCENDING)]
    )
    for collection, field in (
        (FOLLOWUPS, "at"),
        (DEALS, "closed_at"),
        (OPPORTUNITIES, "opened_at"),
        (PROPOSALS, "created_at"),
    ):
        await store.db[collection].create_index(field)
    for collection in FACTS:
        await store.db[collection].create_index("customer_id")
        await store.db[collection].create_index("account_id")
    await store.db[OPPORTUNITIES].create_index([("closed", 1), ("account_id", 1)])
    # Sparse: only merged customers are in it, so that the reports' "not merged" filter, which
    # matches nearly every profile, scans the collection rather than a whole index.
    await store.db[PROFILES].create_index("merged_into", name="merged_profiles", sparse=True)


async def give_old_facts_their_account(store: Store) -> None:
    """Facts stored before merges were projected have no account: their own customer's. (Merges
    made back then count only after a rebuild, which replays them.)"""
    for collection in FACTS:
        await store.db[collection].update_many(
            {"account_id": {"$exists": False}}, [{"$set": {"account_id": "$customer_id"}}]
        )


async def update_profile(uow: UnitOfWork, customer_id: str, update: dict[str, Any]) -> None:
    await uow.db[PROFILES].update_one(
        {"_id": customer_id}, update, upsert=True, session=uow.session
    )


async def set_latest(uow: UnitOfWork, customer_id: str, field: str, value: dict[str, Any]) -> None:
    """Keeps the newest `value` (by its `occurred_at`): an older one arriving late changes
    nothing."""
    await update_profile(uow, customer_id, {"$setOnInsert": {"profile": None}})
    await uow.db[PROFILES].update_one(
        {"_id": customer_id, f"{field}.occurred_at": {"$not": {"$gte": value["occurred_at"]}}},
        {"$set": {field: value}},
        session=uow.session,
    )


async def upsert_fact(
    uow: UnitOfWork, collection: str, key: str, customer_id: str, update: dict[str, Any]
) -> None:
    """Writes a fact keyed by its own id, under its customer's account as it is now."""
    account = {"customer_id": customer_id, "account_id": await account_of(uow, customer_id)}
    update = {**update, "$set": {**update.get("$set", {}), **account}}
    await uow.db[collection].update_one({"_id": key}, update, upsert=True, session=uow.session)


async def account_of(uow: UnitOfWork, customer_id: str) -> str:
    """The customer a fact counts under: itself, or the end of the chain it was merged along
    (A into B, then B into C: C; unmerge B and it is B again)."""
    account, seen = customer_id, {customer_id}
    while True:
        # A write, not a read: a merge or an unmerge of any customer on the chain, committing
        # meanwhile, then conflicts with this transaction, which is retried and sees it, rather
        # than filing the fact under an account the merge has just moved away from.
        profile = await uow.db[PROFILES].find_one_and_update(
            {"_id": account},
            {"$inc": {"facts_filed": 1}},
            {"merged_into": 1},
            session=uow.session,
        )
        merged_into = (profile or {}).get("merged_into")
        if not merged_into or merged_into in seen:
            return account
        account = merged_into
        seen.add(account)


async def merge(uow: UnitOfWork, merged_id: str, survivor_id: str) -> None:
    """The merged customer's facts (and those of customers merged into it before) count under
    the survivor from now on."""
    await update_profile(
        uow, merged_id, {"$set": {"merged_into": survivor_id}, "$setOnInsert": {"profile": None}}
    )
    for collection in FACTS:
        await uow.db[collection].update_many(
            {"account_id": merged_id}, {"$set": {"account_id": survivor_id}}, session=uow.session
        )


async def unmerge(uow: UnitOfWork, restored_id: str) -> None:
    """The restored customer's facts (and those of customers merged into it) count under it
    again."""
    await update_profile(
        uow, restored_id, {"$set": {"merged_into": None}, "$setOnInsert": {"profile": None}}
    )
    members = [
        restored_id,
        *await uow.db[PROFILES].distinct("_id", {"merged_into": restored_id}, session=uow.session),
    ]
    for collection in FACTS:
        await uow.db[collection].update_many(
            {"customer_id": {"$in": members}},
            {"$set": {"account_id": restored_id}},
            session=uow.session,
        )


async def add_to_timeline(uow: UnitOfWork, entry: dict[str, Any]) -> None:
    await uow.db[TIMELINE].insert_one(entry, session=uow.session)


async def update_followup_entries(
    uow: UnitOfWork, customer_id: str, followup_id: str, fields: dict[str, Any], version: int
) -> None:
    """The follow-up's timeline entries as of `version`, unless they show a later one."""
    await uow.db[TIMELINE].update_many(
        {
            "customer_id": customer_id,
            "kind": "followup",
            "details.followup_id": followup_id,
            "version": {"$not": {"$gt": version}},
        },
        {"$set": {**fields, "version": version}},
        session=uow.session,
    )


async def revoke_followup_entries(
    uow: UnitOfWork, customer_id: str, followup_id: str, reason: str
) -> int:
    """Marks the follow-up's timeline entries revoked; how many were not revoked before."""
    result = await uow.db[TIMELINE].update_many(
        {
            "customer_id": customer_id,
            "kind": "followup",
            "details.followup_id": followup_id,
            "revoked": {"$ne": True},
        },
        {"$set": {"revoked": True, "revoked_reason": reason}},
        session=uow.session,
    )
    return result.modified_count


async def followup_fact(uow: UnitOfWork, followup_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await uow.db[FOLLOWUPS].find_one(
        {"_id": followup_id}, session=uow.session
    )
    return found


# --- the customer 360 ---------------------------------------------------------------------------


async def profile_to_read(store: Store, customer_id: str, caller: Principal) -> dict[str, Any]:
    """The customer's profile, for a caller who may see it: 404 before any event about it, 403
    for another salesperson's customer (ops read every customer)."""
    profile: dict[str, Any] | None = await store.db[PROFILES].find_one({"_id": customer_id})
    if profile is None:
        raise NotFound(f"no event about customer {customer_id} yet")
    forbidden_unless(
        caller.role is Role.OPS or caller.may_see(profile.get("owner_id")),
        f"customer {customer_id}",
    )
    return profile


async def merged_profiles(store: Store, survivor_id: str) -> list[dict[str, Any]]:
    """The profiles of the customers merged into `survivor_id`."""
    return await store.db[PROFILES].find({"merged_into": survivor_id}).to_list()


async def timeline_page(
    store: Store, customer_ids: list[str], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    sort = sort_by("at", descending=True)
    query = {"customer_id": {"$in": customer_ids}, **after(cursor, sort)}
    entries = await store.db[TIMELINE].find(query).sort(sort).limit(limit + 1).to_list()
    return entries[:limit], next_cursor(entries, limit, sort)
