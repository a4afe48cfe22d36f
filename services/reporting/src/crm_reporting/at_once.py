"""Counting a whole database at once, for one that nothing else writes to meanwhile: a rebuild's
fresh database before it catches up, the benchmark's read models.

The same contributions as the upkeep counts (counters.recount: counting.account_of,
contributions, fact_contributions, counted), but summed in memory over every account and fact,
and each counter, entry and span inserted once, in bulk: counted a transaction at a time, a
million customers' counters would be rewritten for hours. Each collection is read once, in the
order it is stored (read an account at a time, its facts lie all over the collections, and
MongoDB's cache thrashes): the profiles are held in memory, and of each account's facts only
what its own contributions need. An integration test finds both ways equal."""

import asyncio
import gc
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from crm_runtime.store import Store

from crm_reporting import counting
from crm_reporting.adapters import (
    COUNTED,
    COUNTERS,
    CROSS_SPANS,
    DEALS,
    FOLLOWUPS,
    OPPORTUNITIES,
    PROFILES,
    PROPOSALS,
    TO_COUNT,
)
from crm_reporting.counters import (
    ACCOUNT_FIELDS,
    FACT_FIELDS,
    KINDS,
    PROFILE_FIELDS,
    counter_id,
    fact_unit,
    mark_counted,
    narrow,
    spans_of,
    stored_unit,
)

log = structlog.get_logger(__name__)
Doc = dict[str, Any]
INSERTED_AT_ONCE = 2_000
# Read in this order: a proposal counts for its account only if its opportunity is open.
READ_ORDER = (OPPORTUNITIES, PROPOSALS, DEALS, FOLLOWUPS)


class NotFresh(Exception):
    """The database's counting has begun already: only the upkeep may go on with it."""


async def count_at_once(store: Store, now: datetime | None = None) -> int:
    """Counts every account and fact of a database never counted (its counters, entries and
    spans empty), takes away the notes to count (what they name is counted now), and marks it
    counted. Nothing else may write to it meanwhile. Returns how many units it counted."""
    db = store.db
    for name in (COUNTERS, COUNTED, CROSS_SPANS):
        if await db[name].find_one({}, {"_id": 1}):
            raise NotFresh(f"{name} holds documents: counting at once is for a fresh database")
    # Millions of documents held at once, none in a cycle: the collector would walk them all
    # again and again (a fifth of the time), and would free nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return await _count(store, now or datetime.now(UTC))
    finally:
        if collecting:
            gc.enable()


async def _count(store: Store, now: datetime) -> int:
    db = store.db
    started = time.perf_counter()
    deltas = counting.Deltas()
    inserts = _Inserts(store)
    profiles = {profile["_id"]: profile async for profile in db[PROFILES].find({}, PROFILE_FIELDS)}
    # What each account's own contributions need of its facts (counting.account_of's arguments).
    kept: dict[str, dict[str, list[Doc]]] = {collection: {} for collection in ACCOUNT_FIELDS}
    open_ones: set[str] = set()
    for collection in READ_ORDER:
        kind = KINDS[collection]
        fields = dict.fromkeys(["account_id", *FACT_FIELDS[collection]], 1)
        fields |= dict.fromkeys(ACCOUNT_FIELDS[collection], 1)
        async for fact in db[collection].find({}, fields):
            profile = profiles.get(fact["account_id"], {})
            after = counting.fact_contributions(kind, fact, profile)
            counting.changes({}, after, deltas)
            unit = {"_id": fact_unit(collection, fact["_id"]), **stored_unit(after)}
            await inserts.add(COUNTED, unit)
            facts = kept[collection].setdefault(fact["account_id"], [])  # its account counts
            if _kept(collection, fact, open_ones, facts):
                if collection == FOLLOWUPS:  # the latest only
                    facts.clear()
                facts.append(fact)
                if collection == OPPORTUNITIES:
                    open_ones.add(fact["_id"])
    accounts = set(profiles).union(*(facts.keys() for facts in kept.values()))
    for account_id in sorted(accounts):
        of = [kept[collection].get(account_id, []) for collection in ACCOUNT_FIELDS]
        account = counting.account_of(profiles.get(account_id, {}), *of)
        after = counting.contributions(account, now)
        counting.changes({}, after, deltas)
        await inserts.add(COUNTED, {"_id": account_id, **stored_unit(after)})
        for span in spans_of(account_id, after.get(counting.CROSS, [])):
            await inserts.add(CROSS_SPANS, span)
    units_s = time.perf_counter() - started
    for (family, pairs), n in counting.counted(deltas).items():
        if amounts := {name: amount for name, amount in n.items() if amount}:
            total = {"_id": counter_id(family, pairs), "family": family, "key": dict(pairs)}
            await inserts.add(COUNTERS, {**total, "n": narrow(amounts)})
    await inserts.flush()
    await db[TO_COUNT].delete_many({})
    await mark_counted(store)
    took = {"units_s": round(units_s, 1), "in_all_s": round(time.perf_counter() - started, 1)}
    log.info("counted at once", units=inserts.counted, **took)
    return inserts.counted


def _kept(collection: str, fact: Doc, open_ones: set[str], before: list[Doc]) -> bool:
    """Whether an account keeps a fact for its own contributions (counting.account_of): of its
    follow-ups the latest not revoked, its deals, its open opportunities and their proposals."""
    if collection == FOLLOWUPS:
        return fact.get("revoked") is False and (not before or fact["at"] > before[0]["at"])
    if collection == OPPORTUNITIES:
        return fact.get("closed") is False
    if collection == PROPOSALS:
        return fact.get("opportunity_id") in open_ones
    return True


class _Inserts:
    """Documents inserted in chunks, one chunk in flight while the next is made."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.chunks: dict[str, list[Doc]] = {}
        self.pending: asyncio.Task[Any] | None = None
        self.counted = 0  # entries in COUNTED (but the marker)

    async def add(self, collection: str, document: Doc) -> None:
        chunk = self.chunks.setdefault(collection, [])
        chunk.append(document)
        self.counted += collection == COUNTED
        if len(chunk) == INSERTED_AT_ONCE:
            await self._send(collection)

    async def _send(self, collection: str) -> None:
        chunk, self.chunks[collection] = self.chunks[collection], []
        if self.pending:
            await self.pending
        insert = self.store.db[collection].insert_many(chunk, ordered=False)
        self.pending = asyncio.create_task(insert)

    async def flush(self) -> None:
        for collection, chunk in list(self.chunks.items()):
            if chunk:
                await self._send(collection)
        if self.pending:
            await self.pending
