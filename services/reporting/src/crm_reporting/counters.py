"""The reports' counters in MongoDB: what counting.py computes, summed over the accounts.

COUNTERS holds one total per family and key, and the changes batches have made since: change
documents, only ever inserted, so that batches of different partitions never write the same
document and never conflict over a counter. `fold` adds the changes into the totals and deletes
them, in one transaction; a report reads totals and changes in one snapshot and sums them.

Each profile keeps what its account was counted as (`counted`): a batch counts the accounts it
changed again before it commits (`recount`), and writes only the difference."""

import asyncio
import functools
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from crm_runtime.retry import is_transient
from crm_runtime.store import Store, UnitOfWork
from pymongo import DeleteMany, InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from crm_reporting.adapters import COUNTERS, DEALS, FOLLOWUPS, OPPORTUNITIES, PROFILES
from crm_reporting.counting import DORMANT_AFTER, LIFECYCLE, Account, Deltas, changes
from crm_reporting.counting import contributions as contributions_of

log = structlog.get_logger(__name__)
Doc = dict[str, Any]
PROFILE_FIELDS = {"merged_into": 1, "created_at": 1, "status": 1, "segment": 1, "counted": 1}
FOLD_AT_ONCE = 10_000
RECOUNT_AT_ONCE = 2_000


async def _summaries(uow: UnitOfWork, ids: list[str]) -> tuple[Doc, set[str], dict[str, set[str]]]:
    """Of each account: its latest follow-up not revoked, whether it has an open opportunity,
    and its deals' outcomes."""
    session, scope = uow.session, {"account_id": {"$in": ids}}
    pipeline: list[Doc] = [
        {"$match": {**scope, "revoked": False}},
        {"$group": {"_id": "$account_id", "at": {"$max": "$at"}}},
    ]
    followups = await (await uow.db[FOLLOWUPS].aggregate(pipeline, session=session)).to_list()
    open_ids = set(
        await uow.db[OPPORTUNITIES].distinct(
            "account_id", {**scope, "closed": False}, session=session
        )
    )
    outcomes: dict[str, set[str]] = defaultdict(set)
    deals = uow.db[DEALS].find(scope, {"account_id": 1, "outcome": 1}, session=session)
    for deal in await deals.to_list():
        outcomes[deal["account_id"]].add(deal["outcome"])
    return {f["_id"]: f["at"] for f in followups}, open_ids, outcomes


async def recount(uow: UnitOfWork, ids: Iterable[str], now: datetime | None = None) -> int:
    """Counts the accounts `ids` again in the caller's transaction (after its queued writes),
    writing the difference from what they were counted as; returns how many changed."""
    ids = sorted(set(ids))
    if not ids:
        return 0
    now = now or datetime.now(UTC)
    profiles = (
        await (await uow.read(PROFILES))
        .find({"_id": {"$in": ids}}, PROFILE_FIELDS, session=uow.session)
        .to_list()
    )
    last, open_ids, outcomes = await _summaries(uow, ids)
    deltas: Deltas = Deltas()
    updates = []
    for profile in profiles:
        account_id = profile["_id"]
        account = Account(
            profile,
            last.get(account_id),
            account_id in open_ids,
            frozenset(outcomes.get(account_id, ())),
        )
        after = contributions_of(account, now)
        before = profile.get("counted")
        if before != after:
            changes(before or {}, after, deltas)
            updates.append(UpdateOne({"_id": account_id}, {"$set": {"counted": after}}))
    if updates:
        uow.write(PROFILES, *updates)
    if change := _change_documents(deltas):
        uow.write(COUNTERS, *(InsertOne(document) for document in change))
    return len(updates)


def _change_documents(deltas: Deltas) -> list[Doc]:
    by_key: dict[tuple[str, Any], Doc] = {}
    for (family, name, pairs), amount in deltas.items():
        if amount:
            document = by_key.setdefault(
                (family, pairs), {"family": family, "key": dict(pairs), "n": {}, "change": True}
            )
            document["n"][name] = amount
    return list(by_key.values())


def _total_id(family: str, key: Doc) -> str:
    return f"{family}:{json.dumps(sorted(key.items()))}"


async def fold(store: Store) -> int:
    """Adds the oldest changes into the totals and deletes them, in one transaction; returns how
    many it folded. Instances folding at once conflict, and one of them tries again."""

    async def work(uow: UnitOfWork) -> int:
        found = (
            await uow.db[COUNTERS]
            .find({"change": True}, session=uow.session)
            .limit(FOLD_AT_ONCE)
            .to_list()
        )
        totals: dict[str, Doc] = {}
        for change in found:
            total_id = _total_id(change["family"], change["key"])
            total = totals.setdefault(
                total_id, {"family": change["family"], "key": change["key"], "n": defaultdict(int)}
            )
            for name, amount in change["n"].items():
                total["n"][name] += amount
        if found:
            uow.write(
                COUNTERS,
                *(
                    UpdateOne(
                        {"_id": total_id},
                        {
                            "$inc": {f"n.{name}": amount for name, amount in total["n"].items()},
                            "$setOnInsert": {"family": total["family"], "key": total["key"]},
                        },
                        upsert=True,
                    )
                    for total_id, total in totals.items()
                ),
                DeleteMany({"_id": {"$in": [change["_id"] for change in found]}}),
            )
        return len(found)

    return await store.run(work)


async def fold_all(store: Store) -> int:
    folded = 0
    while done := await fold(store):
        folded += done
    return folded


@asynccontextmanager
async def snapshot(store: Store) -> AsyncIterator[AsyncClientSession]:
    """Reads that see one point in time: totals, changes and profiles agree."""
    async with store.client.start_session(snapshot=True) as session:
        yield session


async def totals(
    store: Store,
    session: AsyncClientSession,
    family: str,
    match: Doc,
    by: list[str],
    amounts: list[str],
    sort: Doc | None = None,
) -> list[Doc]:
    """The family's counters that match (`match` on key fields), summed per value of `by`; those
    whose first amount sums to nothing left out."""
    pipeline: list[Doc] = [
        {"$match": {"family": family, **{f"key.{k}": v for k, v in match.items()}}},
        {
            "$group": {
                "_id": {name: f"$key.{name}" for name in by},
                **{name: {"$sum": f"$n.{name}"} for name in amounts},
            }
        },
        {"$match": {amounts[0]: {"$ne": 0}}},
        *([{"$sort": sort}] if sort else []),
    ]
    return await (await store.db[COUNTERS].aggregate(pipeline, session=session)).to_list()


async def dormancy_moves(
    store: Store, session: AsyncClientSession, before: datetime, match: Doc
) -> list[Doc]:
    """The lifecycle entries of the accounts whose dormancy with the threshold `before` differs
    from how they were counted (`match` on key fields)."""
    scope = {f"counted.lifecycle.key.{k}": v for k, v in match.items()}
    turned = {
        "counted.lifecycle.key.dormant": False,
        "counted.lifecycle.key.stage": {"$ne": "churned"},
        "counted.lifecycle.activity": {"$lt": before},
    }
    woke = {"counted.lifecycle.key.dormant": True, "counted.lifecycle.activity": {"$gte": before}}
    found = store.db[PROFILES].find(
        {**scope, "$or": [turned, woke]}, {"counted.lifecycle": 1}, session=session
    )
    return [profile["counted"][LIFECYCLE] for profile in await found.to_list()]


async def recount_all(store: Store) -> int:
    """Counts every profile not counted yet (read models kept before the counters), in _id
    order, a chunk per transaction; returns how many it counted."""
    counted, after = 0, ""
    while True:
        chunk = (
            await store.db[PROFILES]
            .find({"_id": {"$gt": after}, "counted": {"$exists": False}}, {"_id": 1})
            .sort("_id", 1)
            .limit(RECOUNT_AT_ONCE)
            .to_list()
        )
        if not chunk:
            return counted
        ids = [profile["_id"] for profile in chunk]
        counted += await store.run(functools.partial(recount, ids=ids))
        after = ids[-1]


async def recount_turned_dormant(store: Store) -> int:
    """Counts again the accounts that have turned dormant since they were counted (so that the
    reports' corrections stay few)."""
    recounted = 0
    while True:
        now = datetime.now(UTC)
        found = (
            await store.db[PROFILES]
            .find(
                {
                    "counted.lifecycle.key.dormant": False,
                    "counted.lifecycle.key.stage": {"$ne": "churned"},
                    "counted.lifecycle.activity": {"$lt": now - DORMANT_AFTER},
                },
                {"_id": 1},
            )
            .limit(RECOUNT_AT_ONCE)
            .to_list()
        )
        if not found:
            return recounted
        ids = [profile["_id"] for profile in found]
        changed = await store.run(functools.partial(recount, ids=ids, now=now))
        if not changed:  # counted as they are: nothing more to do now
            return recounted
        recounted += changed


class Upkeep:
    """Folds the counters' changes, and counts again the accounts turned dormant, every
    `interval_s` (each instance: what two do at once conflicts, and is done once)."""

    def __init__(self, store: Store, interval_s: float = 1.0) -> None:
        self.store = store
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def run_forever(self) -> None:
        while True:
            try:
                await recount_turned_dormant(self.store)
                await fold_all(self.store)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                level = log.warning if is_transient(error) else log.error
                level("counter upkeep failed, trying again", error=repr(error))
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run_forever(), name="counter-upkeep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
