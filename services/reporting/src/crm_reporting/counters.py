"""The reports' counters in MongoDB: what counting.py computes, summed over the accounts.

COUNTERS holds one total per family and key, written only by the upkeep that counts (one
instance at a time): the consumers never contend for a counter. A report reads the totals it
needs, and the entries of what it corrects, in one snapshot.

COUNTED keeps what each account and each fact was counted as. A batch notes what it changed
(`to_count`, in its transaction); the upkeep worker counts those again (`count_noted`), adding
only the difference to the totals, and deletes the notes in the same transaction. A report
says how many notes are pending: 0 means the counters show every event applied."""

import asyncio
import functools
import json
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from bson import Decimal128
from bson.codec_options import TypeDecoder, TypeRegistry
from crm_runtime import fences
from crm_runtime.lease import Lease
from crm_runtime.retry import is_transient
from crm_runtime.store import Store, UnitOfWork
from pymongo import DeleteMany, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from crm_reporting import counting
from crm_reporting.adapters import (
    COUNTED,
    COUNTERS,
    CROSS_SPANS,
    DEALS,
    FOLLOWUPS,
    HAPPENED_AT,
    OPPORTUNITIES,
    PROFILES,
    PROPOSALS,
    TO_COUNT,
)
from crm_reporting.counting import CROSS, DORMANT_AFTER, LIFECYCLE, OWNERS, Account, Deltas, changes
from crm_reporting.counting import contributions as contributions_of

log = structlog.get_logger(__name__)
Doc = dict[str, Any]
PROFILE_FIELDS = {"merged_into": 1, "created_at": 1, "status": 1, "segment": 1, "owner_id": 1}
LEASE_S = 15.0
COUNTING_FENCE = "report-counters"
# Units counted in one transaction, about. A database counted from scratch is counted in the order
# things happened (`recount_all`), so that a transaction touches few counters; 8,000 made
# transactions that a 0.5 GB WiredTiger cache could not hold (WriteConflict, again and again).
RECOUNT_AT_ONCE = 2_000
NOTED_AT_ONCE = 100  # accounts per note of a database counted from scratch (facts: ten times)


# The facts counted on their own, their kinds, and what of each the counters read.
KINDS = {
    FOLLOWUPS: counting.FOLLOWUP,
    DEALS: counting.DEAL,
    PROPOSALS: counting.PROPOSAL,
    OPPORTUNITIES: counting.OPPORTUNITY,
}
FACT_FIELDS = {
    FOLLOWUPS: ["at", "salesperson_id", "channel", "revoked"],
    DEALS: [
        "outcome",
        "salesperson_id",
        "amount",
        "currency",
        "freight_tons",
        "closed_at",
        "lines",
    ],
    PROPOSALS: ["created_at"],
    OPPORTUNITIES: ["opened_at", "closed", "stage", "history"],
}


# Amounts (money and tons, in millionths) outgrow 64-bit integers (9.2e18: a single amount over
# 9.2 trillion, where the contracts allow 16 digits), and a write that overflows one fails. Each
# unit's entries keep them as Decimal128, 34 digits (`stored`: a period's ends are summed by
# MongoDB, where a sum of 64-bit integers turns into a double). The counters keep them as 64-bit
# integers while they fit (`narrow`: bson reads those in C, a Decimal128 through a Python class,
# which took most of a scorecard's time at a million customers); a count whose change would
# overflow one is made again with Decimal128 changes, which MongoDB keeps (`count_noted`). Both
# are read back as Python integers (`integers`).
AMOUNTS = ("revenue_", "pipeline_", "weighted_", "commit_", "best_", "freight_micro")


_EXPONENT_BIAS = 6176
_SPECIAL = 0x6000000000000000  # NaN, infinities and the large-coefficient form: the slow way
_MAX_COEFFICIENT = 10**34 - 1


class _Whole(TypeDecoder):
    bson_type = Decimal128

    def transform_bson(self, value: Any) -> int:
        return whole(value)


def whole(value: Decimal128) -> int:
    """The integer a counter's Decimal128 holds. An integer sum has exponent 0: its coefficient is
    read from the 128 bits at once (`Decimal128.to_decimal`, in Python byte by byte, took most of
    a period forecast's time); anything else goes through `decimal`."""
    bits = int.from_bytes(value.bid, "little")
    high = bits >> 64
    if high & _SPECIAL != _SPECIAL:
        exponent = ((high & 0x7FFF800000000000) >> 49) - _EXPONENT_BIAS
        coefficient = bits & ((1 << 113) - 1)
        if exponent == 0 and coefficient <= _MAX_COEFFICIENT:
            return -coefficient if high >> 63 else coefficient
    return int(value.to_decimal())


def wide(amount: int) -> Decimal128:
    """An integer as a counter keeps it (the inverse of `whole`): its 128 bits made at once
    (`Decimal128(str(amount))` goes through `decimal`, and took a third of counting a database
    at once); beyond 34 digits, `decimal` says what happens."""
    coefficient = abs(amount)
    if coefficient > _MAX_COEFFICIENT:
        return Decimal128(str(amount))
    high = _EXPONENT_BIAS << 49 | coefficient >> 64 | (1 << 63 if amount < 0 else 0)
    # (high, low) bits: documented by bson ("a tuple of (high bits, low bits) from BID"), not
    # in its type hints.
    return Decimal128((high, coefficient & _LOW_64))  # type: ignore[arg-type]


_LOW_64 = (1 << 64) - 1
WHOLE = TypeRegistry([_Whole()])


def integers(db: AsyncDatabase[Any], name: str) -> AsyncCollection[Any]:
    """The collection, its amounts read as integers."""
    return db.get_collection(name, codec_options=db.codec_options.with_options(type_registry=WHOLE))


def stored(n: dict[str, int]) -> dict[str, int | Decimal128]:
    """Amounts as MongoDB keeps them: those named in AMOUNTS (maybe after a person's id) wide."""
    return {
        name: wide(amount) if name.rpartition(counting.SEPARATOR)[2].startswith(AMOUNTS) else amount
        for name, amount in n.items()
    }


def narrow(n: dict[str, int]) -> dict[str, int | Decimal128]:
    """A counter's amounts: 64-bit integers where they fit, else Decimal128."""
    return {name: amount if amount in _LONG else wide(amount) for name, amount in n.items()}


_LONG = range(-(1 << 63), 1 << 63)  # what a 64-bit integer holds


def stored_unit(unit: dict[str, list[Doc]]) -> Doc:
    """A unit's entries as COUNTED keeps them (their amounts `stored`)."""
    return {
        family: [{**entry, "n": stored(entry["n"])} if "n" in entry else entry for entry in entries]
        for family, entries in unit.items()
    }


def fact_unit(collection: str, fact_id: str) -> str:
    """A fact's entry in COUNTED (a space: no customer id has one)."""
    return f"{collection} {fact_id}"


async def profiles(
    db: AsyncDatabase[Any], session: AsyncClientSession | None, ids: Iterable[str]
) -> dict[str, Doc]:
    found = db[PROFILES].find({"_id": {"$in": sorted(set(ids))}}, PROFILE_FIELDS, session=session)
    return {profile["_id"]: profile for profile in await found.to_list()}


async def accounts(
    db: AsyncDatabase[Any], session: AsyncClientSession | None, ids: list[str]
) -> dict[str, Account]:
    """Each account as the counters need it (counting.account_of): its profile ({} where none)
    and its facts, read in a query per collection for all of them."""
    scope = {"account_id": {"$in": ids}}
    found = await profiles(db, session, ids)
    of: dict[str, dict[str, list[Doc]]] = {}
    for collection, fields in ACCOUNT_FIELDS.items():
        query = {**scope, "closed": False} if collection == OPPORTUNITIES else scope  # open ones
        of[collection] = await _by_account(db, session, collection, query, fields)
    return {
        account_id: counting.account_of(
            found.get(account_id, {}),
            *(of[collection][account_id] for collection in ACCOUNT_FIELDS),
        )
        for account_id in ids
    }


# What counting.account_of reads of each account's facts, in its arguments' order.
ACCOUNT_FIELDS = {
    FOLLOWUPS: ["at", "revoked"],
    DEALS: ["outcome", "closed_at", "product_lines", "lines"],
    OPPORTUNITIES: [
        "closed",
        "win_probability",
        "amount",
        "currency",
        "expected_close_date",
        "owner_id",
        "lines",
    ],
    PROPOSALS: ["opportunity_id", "price", "currency", "status", "created_at"],
}


async def _by_account(
    db: AsyncDatabase[Any],
    session: AsyncClientSession | None,
    collection: str,
    query: Doc,
    fields: list[str],
) -> dict[str, list[Doc]]:
    """The facts that match, with `fields`, per account."""
    found: dict[str, list[Doc]] = defaultdict(list)
    projection = dict.fromkeys(["account_id", *fields], 1)
    for fact in await db[collection].find(query, projection, session=session).to_list():
        found[fact["account_id"]].append(fact)
    return found


async def facts(
    db: AsyncDatabase[Any],
    session: AsyncClientSession | None,
    ids: dict[str, set[str]],
    of_accounts: Iterable[str] = (),
) -> list[tuple[str, Doc]]:
    """The facts of `ids` (per collection), and every fact of `of_accounts`."""
    wide = sorted(set(of_accounts))
    found = []
    for collection, fields in FACT_FIELDS.items():
        chosen = [{"_id": {"$in": sorted(ids.get(collection, ()))}}]
        if wide:
            chosen.append({"account_id": {"$in": wide}})
        projection = dict.fromkeys(["account_id", *fields], 1)
        cursor = db[collection].find({"$or": chosen}, projection, session=session)
        found += [(collection, fact) for fact in await cursor.to_list()]
    return found


def to_count(
    uow: UnitOfWork, accounts: Iterable[str], written: dict[str, set[str]], wide: Iterable[str]
) -> None:
    """Notes, in the batch's transaction, what to count again (recount's arguments): the
    upkeep worker counts it in transactions of its own, so that a batch does not wait for it.
    Until then a report says how many notes are pending (`pending`)."""
    note = {
        "accounts": sorted(set(accounts)),
        "facts": {collection: sorted(ids) for collection, ids in written.items()},
        "wide": sorted(set(wide)),
    }
    if note["accounts"] or note["facts"] or note["wide"]:
        uow.write(TO_COUNT, InsertOne(note))


async def pending(store: Store, session: AsyncClientSession | None = None) -> int:
    """How many batches' changes are not counted yet (0: the counters show every event applied)."""
    return await store.db[TO_COUNT].count_documents({}, session=session)


async def count_noted(store: Store, at_once: int = RECOUNT_AT_ONCE) -> int:
    """Counts again what the oldest notes name (about `at_once` units), in one transaction that
    deletes them; returns how many notes it counted. Instances counting at once conflict over
    the notes, and one of them tries again."""

    async def work(uow: UnitOfWork, fits: bool = True) -> int:
        notes, size = [], 0
        async for note in uow.db[TO_COUNT].find({}, session=uow.session).sort("_id", 1):
            notes.append(note)
            size += len(note["accounts"]) + len(note["wide"]) * 4
            size += sum(len(ids) for ids in note["facts"].values())
            if size >= at_once:
                break
        if not notes:
            return 0
        written: dict[str, set[str]] = defaultdict(set)
        alone: dict[str, set[str]] = defaultdict(set)
        for note in notes:
            for collection, ids in note["facts"].items():
                (alone if note.get("alone") else written)[collection].update(ids)
        accounts = {account for note in notes for account in note["accounts"]}
        wide = {account for note in notes for account in note["wide"]}
        await recount(uow, accounts, written, wide, alone=alone, fits=fits)
        uow.write(TO_COUNT, DeleteMany({"_id": {"$in": [note["_id"] for note in notes]}}))
        return len(notes)

    try:
        return await store.run(work)
    except BulkWriteError as error:
        if not _outgrew(error):
            raise
    log.warning("a counter outgrew 64 bits: counted again with Decimal128 changes")
    return await store.run(functools.partial(work, fits=False))


def _outgrew(error: BulkWriteError) -> bool:
    """Whether a counter's $inc failed because it would overflow a 64-bit integer."""
    return any(
        failed.get("code") == 2 and "$inc" in failed.get("errmsg", "")
        for failed in error.details.get("writeErrors", [])
    )


async def count_all_noted(store: Store) -> int:
    counted = 0
    while done := await count_noted(store):
        counted += done
    return counted


async def recount(
    uow: UnitOfWork,
    ids: Iterable[str],
    written: dict[str, set[str]] | None = None,
    wide: Iterable[str] = (),
    now: datetime | None = None,
    alone: dict[str, set[str]] | None = None,
    fits: bool = True,
) -> int:
    """Counts again, in the caller's transaction (after its queued writes), the accounts `ids`,
    the facts `written` (per collection) and their accounts, every fact of the accounts `wide`
    (whose segment, owner or creation changed), and the facts `alone` without their accounts
    (a database counted from scratch counts those on their own); writes the difference from
    what they were counted as (as 64-bit integers where they fit: `fits`, else Decimal128);
    returns how many changed."""
    now = now or datetime.now(UTC)
    db, session = uow.db, uow.session
    # Paused with the consumers (a rebuild swapping the counters in, one collection at a time).
    await fences.enter(db, session, COUNTING_FENCE)
    await uow.flush()  # what the batch wrote, read back
    found_facts = await facts(db, session, written or {}, wide) if written or wide else []
    ids = sorted({*ids, *wide, *(fact["account_id"] for _, fact in found_facts)})
    found = await accounts(db, session, ids) if ids else {}
    units = {account_id: contributions_of(account, now) for account_id, account in found.items()}
    profile_of = {account_id: account.profile for account_id, account in found.items()}
    if alone:
        found_facts += await facts(db, session, alone)
        others = {fact["account_id"] for _, fact in found_facts} - profile_of.keys()
        profile_of |= await profiles(db, session, others)
    if not units and not found_facts:
        return 0
    for collection, fact in found_facts:
        profile = profile_of.get(fact["account_id"], {})
        kind = KINDS[collection]
        units[fact_unit(collection, fact["_id"])] = counting.fact_contributions(kind, fact, profile)
    counted = {
        document.pop("_id"): document
        for document in await integers(db, COUNTED)
        .find({"_id": {"$in": list(units)}}, session=session)
        .to_list()
    }
    deltas: Deltas = Deltas()
    updates: list[InsertOne[Doc] | ReplaceOne[Doc]] = []
    spans: list[InsertOne[Doc] | DeleteMany] = []
    for unit, after in units.items():
        before = counted.get(unit)
        if before is None:  # counted for the first time (one upkeep counts at a time)
            changes({}, after, deltas)
            updates.append(InsertOne({"_id": unit, **stored_unit(after)}))
        elif before != after:
            changes(before, after, deltas)
            updates.append(ReplaceOne({"_id": unit}, stored_unit(after)))
        if (before or {}).get(CROSS) != after.get(CROSS):
            spans += _span_writes(unit, after.get(CROSS, []))
    if updates:
        uow.write(COUNTED, *updates)
    if spans:
        uow.write(CROSS_SPANS, *spans)
    if added := _total_updates(deltas, fits):
        uow.write(COUNTERS, *added)
    return len(updates)


def _span_writes(account: str, entries: list[Doc]) -> list[InsertOne[Doc] | DeleteMany]:
    """The account's cross-selling spans in CROSS_SPANS replaced by those of `entries`."""
    found: list[InsertOne[Doc] | DeleteMany] = [DeleteMany({"account": account})]
    return found + [InsertOne(span) for span in spans_of(account, entries)]


def spans_of(account: str, entries: list[Doc]) -> list[Doc]:
    """The account's documents of CROSS_SPANS, from its CROSS entries."""
    return [
        {"account": account, **entry["key"], **span} for entry in entries for span in entry["w"]
    ]


def counter_id(family: str, pairs: counting.Pairs) -> str:
    return f"{family}:{json.dumps(pairs)}"


def _total_updates(deltas: Deltas, fits: bool) -> list[UpdateOne]:
    return [
        UpdateOne(
            {"_id": counter_id(family, pairs)},
            {
                "$inc": {
                    f"n.{name}": amount for name, amount in (narrow if fits else stored)(n).items()
                },
                "$setOnInsert": {"family": family, "key": dict(pairs)},
            },
            upsert=True,
        )
        for (family, pairs), n in counting.counted(deltas).items()
    ]


@asynccontextmanager
async def snapshot(store: Store) -> AsyncIterator[AsyncClientSession]:
    """Reads that see one point in time: totals, changes and profiles agree."""
    async with store.client.start_session(snapshot=True) as session:
        yield session


async def totals(
    store: Store, session: AsyncClientSession, family: str, match: Doc, by: list[str]
) -> list[Doc]:
    """The family's counters that match (`match` on key fields), summed per value of `by`: each
    group's `_id` and its amounts `n`, those that sum to 0 left out (and groups of none). Summed
    in Python: the counters that match are few (bounded by the keys' values, not by the data),
    and a pipeline unwinding their amounts took twice as long."""
    groups: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    async for counter in _matching(store, session, family, match):
        groups[tuple(counter["key"].get(name) for name in by)].update(counter["n"])
    found = []
    for values, n in groups.items():
        if kept := {name: amount for name, amount in n.items() if amount}:
            found.append({"_id": dict(zip(by, values, strict=True)), "n": kept})
    return found


async def amounts(
    store: Store, session: AsyncClientSession, family: str, match: Doc
) -> Counter[str]:
    """The family's counters that match (`match` on key fields), their amounts summed."""
    found: Counter[str] = Counter()
    async for counter in _matching(store, session, family, match):
        found.update(counter["n"])
    return found


def _matching(
    store: Store, session: AsyncClientSession, family: str, match: Doc
) -> AsyncIterator[Doc]:
    query = {"family": family, **{f"key.{k}": v for k, v in match.items()}}
    return integers(store.db, COUNTERS).find(query, {"key": 1, "n": 1}, session=session)


async def between(
    store: Store,
    session: AsyncClientSession,
    family: str,
    spans: list[counting.Span],
    match: Doc,
) -> Counter[str]:
    """The amounts of a period's family (SCORECARD, FUNNEL) counted at a time within the
    `spans`, of keys that match (`match` on key fields), summed: what a report adds to its blocks
    at either end, as counted with them (a slot's entries or a day's, found through an index and
    summed by MongoDB)."""
    scope = {f"key.{k}": v for k, v in match.items()}
    sides = [{"at": {"$gte": start, "$lt": end}, **scope} for start, end in spans]
    pipeline: list[Doc] = [
        {"$match": {"$or": [{family: {"$elemMatch": side}} for side in sides]}},
        {"$project": {"_id": 0, "entry": f"${family}"}},
        {"$unwind": "$entry"},  # a unit may hold other entries, elsewhen or elsewhere
        {"$match": {"$or": [{f"entry.{k}": v for k, v in side.items()} for side in sides]}},
        {"$project": {"n": {"$objectToArray": "$entry.n"}}},
        {"$unwind": "$n"},
        {"$group": {"_id": "$n.k", "sum": {"$sum": "$n.v"}}},
    ]
    found = await integers(store.db, COUNTED).aggregate(pipeline, session=session)
    return Counter({group["_id"]: group["sum"] async for group in found})


# The families whose entries say whether their account was dormant when counted (True, False;
# None for those no threshold turns: churned, archived, so that an index finds only the others).
TURNABLE = (LIFECYCLE, OWNERS)


async def dormancy_moves(
    store: Store, session: AsyncClientSession, family: str, before: datetime, match: Doc
) -> list[tuple[Doc, int]]:
    """The keys of the family's entries (LIFECYCLE, OWNERS) counted on the other side of the
    threshold `before` than they are on (`match` on key fields), and how many accounts each:
    what a report moves to the other side."""
    scope = {f"key.{k}": v for k, v in match.items()}
    woke = {"key.dormant": True, "activity": {"$gte": before}}
    sides = [{**scope, **side} for side in (_turning(before), woke)]
    pipeline: list[Doc] = [
        # $elemMatch: the index's bounds on both fields of the same entry are then combined.
        {"$match": {"$or": [{family: {"$elemMatch": side}} for side in sides]}},
        {"$unwind": f"${family}"},
        {"$match": {"$or": [{f"{family}.{k}": v for k, v in side.items()} for side in sides]}},
        {"$group": {"_id": f"${family}.key", "n": {"$sum": 1}}},
    ]
    found = await store.db[COUNTED].aggregate(pipeline, session=session)
    return [(group["_id"], group["n"]) for group in await found.to_list()]


def _turning(before: datetime) -> Doc:
    """An entry of the family counted awake, though not followed up since `before`."""
    return {"key.dormant": False, "activity": {"$lt": before}}


def _turned_dormant(family: str, before: datetime) -> Doc:
    return {family: {"$elemMatch": _turning(before)}}


async def cross_selling(
    store: Store, session: AsyncClientSession, since: datetime, until: datetime, match: Doc
) -> list[tuple[str, int]]:
    """Per owner, how many accounts' won deals of [since, until) hold more than one product line
    between them: those with a span that shows it in the period (counting.py), counted from
    CROSS_SPANS' index alone."""
    first = {"a": {"$gte": since}, "after": {"$lt": since}}  # an account's first span in it
    pipeline: list[Doc] = [
        {"$match": {**first, "b": {"$lt": until}, **match}},
        {"$group": {"_id": "$owner", "n": {"$sum": 1}}},
    ]
    found = await store.db[CROSS_SPANS].aggregate(pipeline, session=session)
    return [(group["_id"], group["n"]) for group in await found.to_list()]


# The marker of a database whose every account has been counted (a space: no customer id has one).
COUNTED_ALL = "every account"  # all counted, or noted to be


async def recount_all(store: Store) -> int:
    """Notes everything to count (read models kept before the counters), once per database: each
    account (with a profile, in the order they were created; those of facts alone too), then
    each fact on its own (`alone`: their accounts are counted already), each collection in the
    order they happened. The upkeep counts them in the background, and reports say how many
    notes are pending. Returns how many accounts it noted."""
    if await store.db[COUNTED].find_one({"_id": COUNTED_ALL}):
        return 0
    noted = 0
    without_profile: set[str] = set()  # accounts of facts alone, noted already (few)
    for collection, field in HAPPENED_AT.items():
        cursor = store.db[collection].find({}, {"account_id": 1}).sort(field, 1)
        while chunk := await cursor.to_list(NOTED_AT_ONCE * 10):
            facts: list[str] = []
            if collection == PROFILES:
                todo = await _not_counted(store, [document["_id"] for document in chunk])
            else:
                accounts = sorted({document["account_id"] for document in chunk})
                known = set(await store.db[PROFILES].distinct("_id", {"_id": {"$in": accounts}}))
                todo = await _not_counted(store, sorted(set(accounts) - known - without_profile))
                without_profile.update(todo)
                units = {fact_unit(collection, document["_id"]): document for document in chunk}
                facts = [units[unit]["_id"] for unit in await _not_counted(store, list(units))]
            notes: list[Doc] = [{"accounts": ids, "facts": {}, "wide": []} for ids in _split(todo)]
            if facts:
                notes.append({"accounts": [], "facts": {collection: facts}, "wide": [], "alone": 1})
            if notes:
                await store.db[TO_COUNT].insert_many(notes)
            noted += len(todo)
    await mark_counted(store)
    return noted


async def _not_counted(store: Store, units: list[str]) -> list[str]:
    done = set(await store.db[COUNTED].distinct("_id", {"_id": {"$in": units}}))
    return [unit for unit in units if unit not in done]


def _split(ids: list[str]) -> list[list[str]]:
    return [ids[n : n + NOTED_AT_ONCE] for n in range(0, len(ids), NOTED_AT_ONCE)]


async def mark_counted(store: Store) -> None:
    """Every account of the database is counted: batches keep them so from now on."""
    await store.db[COUNTED].update_one(
        {"_id": COUNTED_ALL}, {"$set": {"at": datetime.now(UTC)}}, upsert=True
    )


async def recount_turned_dormant(store: Store) -> int:
    """Counts again the accounts that have turned dormant since they were counted (so that the
    reports' corrections stay few)."""
    recounted = 0
    for family in TURNABLE:
        while True:
            now = datetime.now(UTC)
            found = (
                await store.db[COUNTED]
                .find(_turned_dormant(family, now - DORMANT_AFTER), {"_id": 1})
                .limit(RECOUNT_AT_ONCE)
                .to_list()
            )
            ids = [account["_id"] for account in found]
            changed = await store.run(functools.partial(recount, ids=ids, now=now)) if ids else 0
            if not changed:  # counted as they are: nothing more to do now
                break
            recounted += changed
    return recounted


class Upkeep:
    """Counts what batches noted, and counts again the accounts turned dormant; waits
    `interval_s` when there was nothing to count. Each instance runs one; a lease lets one of
    them count at a time."""

    def __init__(self, store: Store, interval_s: float = 0.2) -> None:
        self.store = store
        self.interval_s = interval_s
        # One instance counts at a time (two would only conflict over the same totals).
        self.lease = Lease(store.db, "report-counters", LEASE_S)
        self._task: asyncio.Task[None] | None = None

    async def run_forever(self) -> None:
        while True:
            counted = 0
            try:
                if await self.lease.hold():
                    counted = await count_noted(self.store)
                    if not counted:
                        await recount_turned_dormant(self.store)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                level = log.warning if is_transient(error) else log.error
                level("counter upkeep failed, trying again", error=repr(error))
            if not counted:  # else straight on with the next notes
                await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run_forever(), name="counter-upkeep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            try:
                await self.lease.release()
            except Exception as error:
                log.warning("could not release the counters' lease", error=repr(error))
