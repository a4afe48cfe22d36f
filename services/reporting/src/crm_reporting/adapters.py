"""Reporting's read models in MongoDB: one profile per customer, one timeline entry per activity,
and one fact per follow-up, deal, opportunity and proposal; what the customer 360 reads of them.
The event handlers write them through projection.py."""

from typing import Any

from crm_runtime.auth import Principal, Role, forbidden_unless
from crm_runtime.errors import NotFound
from crm_runtime.pagination import after, next_cursor, sort_by
from crm_runtime.store import Store
from pymongo import DESCENDING

from crm_reporting import counting

PROFILES = "customer_profiles"
TIMELINE = "timeline"
FOLLOWUPS = "fact_followups"
DEALS = "fact_deals"
OPPORTUNITIES = "fact_opportunities"
PROPOSALS = "fact_proposals"
FACTS = (FOLLOWUPS, DEALS, OPPORTUNITIES, PROPOSALS)
QUOTAS = "quotas"  # targets.py: per target and period, the latest set
SALESPEOPLE = "salespeople"  # targets.py: each one's team
# When each profile and fact happened: a database counted from scratch (counters.recount_all) is
# counted in this order, so that a transaction's facts fall in few blocks of time, not in every one.
HAPPENED_AT = {
    PROFILES: "created_at",
    FOLLOWUPS: "at",
    DEALS: "closed_at",
    OPPORTUNITIES: "opened_at",
    PROPOSALS: "created_at",
}
# The counting's version: a change of what the counters hold (2: each day's scorecard counter
# holds every salesperson's amounts; 3: hours too; 4: blocks of quarters of an hour to 32 days;
# 5: blocks of four hours to 32 days, each entry of a period with its time; 6: of two hours to
# 32 days; 7: amounts as Decimal128; 8: the period forecast, opportunities valued at their
# amounts) counts into collections of its own, from scratch, while processes of the version
# before go on with theirs; those are dropped at start-up.
COUNTING_VERSION = 9
# The counting's collections, without their version: the names of every version start so.
OLD_COUNTING = ("report_counters", "counted_accounts", "counters_to_count", "cross_selling_spans")
COUNTING = tuple(f"{name}_v{COUNTING_VERSION}" for name in OLD_COUNTING)
# counters.py's totals; what each account adds to them; what batches changed, to count again; the
# spans of won deals that show an account cross-selling (counting.cross_selling_witnesses), one
# document each, as COUNTED holds them: a scorecard counts those in its period from an index.
COUNTERS, COUNTED, TO_COUNT, CROSS_SPANS = COUNTING


async def drop_old_counting(store: Store) -> None:
    """The counting collections of the versions before this one."""
    names = await store.db.list_collection_names()
    for name in names:
        if name.startswith(OLD_COUNTING) and name not in COUNTING:
            await store.db.drop_collection(name)


async def create_indexes(store: Store) -> None:
    await store.db[TIMELINE].create_index(
        [("customer_id", 1), ("at", DESCENDING), ("_id", DESCENDING)]
    )
    for collection, field in HAPPENED_AT.items():  # counted from scratch in this order
        await store.db[collection].create_index(field)
    for collection in FACTS:
        await store.db[collection].create_index("customer_id")
        await store.db[collection].create_index("account_id")
    await store.db[OPPORTUNITIES].create_index([("closed", 1), ("account_id", 1)])
    # Sparse: only merged customers are in it, so that the reports' "not merged" filter, which
    # matches nearly every profile, scans the collection rather than a whole index.
    await store.db[PROFILES].create_index("merged_into", name="merged_profiles", sparse=True)
    # A report reads one family's totals, summed over the filters it does not choose (of a region,
    # or of none: null), of its blocks.
    counter = ["family", "key.across", "key.region", "key.bucket"]
    await store.db[COUNTERS].create_index([(field, 1) for field in counter])
    # The period forecast reads its period's counters.
    await store.db[COUNTERS].create_index([("family", 1), ("key.across", 1), ("key.period", 1)])
    await store.db[QUOTAS].create_index("period")
    # A report's dormancy corrections: the accounts counted on one side of its threshold.
    for family in (counting.LIFECYCLE, counting.OWNERS):
        await store.db[COUNTED].create_index(
            [(f"{family}.key.dormant", 1), (f"{family}.activity", 1)], sparse=True
        )
    # A period's ends: the entries counted within them, of a region or industry or both.
    for family in (counting.SCORECARD, counting.FUNNEL):
        fields = [f"{family}.at", f"{family}.key.region", f"{family}.key.industry"]
        await store.db[COUNTED].create_index([(field, 1) for field in fields], sparse=True)
    # Covers the scorecard's count of cross-selling accounts (no document read).
    spans = ["a", "after", "b", "region", "industry", "owner"]
    await store.db[CROSS_SPANS].create_index([(field, 1) for field in spans])
    await store.db[CROSS_SPANS].create_index("account")


async def give_old_facts_their_account(store: Store) -> None:
    """Facts stored before merges were projected have no account: their own customer's. (Merges
    made back then count only after a rebuild, which replays them.)"""
    for collection in FACTS:
        await store.db[collection].update_many(
            {"account_id": {"$exists": False}}, [{"$set": {"account_id": "$customer_id"}}]
        )


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


OPEN_SHOWN = {
    "stage": 1,
    "win_probability": 1,
    "title": 1,
    "amount": 1,
    "currency": 1,
    "expected_close_date": 1,
    "owner_id": 1,
    "lines": 1,
    "opened_at": 1,
}


async def open_opportunities(store: Store, customer_ids: list[str]) -> list[dict[str, Any]]:
    """The customers' open opportunities with their terms, the earliest to close first (those
    without a date last); a customer has a few (the follow-up service caps them at 50 each)."""
    found = await (
        store.db[OPPORTUNITIES]
        .find({"customer_id": {"$in": customer_ids}, "closed": False}, OPEN_SHOWN)
        .to_list()
    )
    return sorted(
        found,
        key=lambda o: (
            o.get("expected_close_date") is None,
            o.get("expected_close_date") or "",
            o["_id"],
        ),
    )


async def contracted_lanes(store: Store, customer_ids: list[str]) -> list[dict[str, Any]]:
    """The service lines the customers' won deals won, the latest deal's first, each with its
    deal."""
    found = await (
        store.db[DEALS]
        .find(
            {"customer_id": {"$in": customer_ids}, "outcome": "won", "lines.0": {"$exists": True}},
            {"lines": 1, "closed_at": 1},
        )
        .sort([("closed_at", DESCENDING), ("_id", 1)])
        .to_list()
    )
    return [
        {**line, "deal_id": deal["_id"], "won_at": deal["closed_at"]}
        for deal in found
        for line in deal["lines"]
    ]


async def timeline_page(
    store: Store, customer_ids: list[str], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    sort = sort_by("at", descending=True)
    query = {"customer_id": {"$in": customer_ids}, **after(cursor, sort)}
    entries = await store.db[TIMELINE].find(query).sort(sort).limit(limit + 1).to_list()
    return entries[:limit], next_cursor(entries, limit, sort)
