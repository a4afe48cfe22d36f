"""Scoring's state in MongoDB: each customer's features and last result, the deals learnt, the
model snapshots, the strategy catalogue (with every version kept); and the queries the HTTP side
answers with.

A partition batch reads each customer document it touches once (one `$in` query over the batch's
customers) and writes each changed one once, before the commit; the snapshot and the strategies
are read once per batch. Nothing shared is written per event: a deal is one document of its own,
counted into the next snapshot by the single writer (snapshots.py)."""

from collections import OrderedDict
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm_runtime.store import Store, UnitOfWork
from pymongo import InsertOne, ReturnDocument, UpdateMany, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from crm_scoring.domain.features import Features
from crm_scoring.domain.strategy import Strategy, StrategyDefinition
from crm_scoring.domain.win_probability import WinCounts, WinModel, keys_for
from crm_scoring.engine import ResultKey, Scored

CUSTOMERS = "customer_features"
# The single writer's results (a new snapshot's re-scoring) are kept apart from the customers'
# documents, which only the consumer writes: the two never contend for a document. A customer's
# result is the one of the later snapshot; the consumer's on a tie (its features are newer).
RESCORED = "rescored_customers"
DEALS = "deals_learned"
SNAPSHOTS = "model_snapshots"
# Which customers each batch scored with which snapshot, and which of them it announced: a batch
# that commits after a newer snapshot's re-scoring went past its customers is caught up from here
# (snapshots.py).
SCORED = "scored_batches"
STRATEGIES = "strategies"
STRATEGY_VERSIONS = "strategy_versions"

Document = dict[str, Any]


async def create_indexes(store: Store) -> None:
    await store.db[STRATEGY_VERSIONS].create_index([("strategy_id", 1), ("version", -1)])
    await store.db[DEALS].create_index("customer_id")
    await store.db[DEALS].create_index("pending", partialFilterExpression={"pending": True})
    await store.db[SCORED].create_index("version")
    # Customers were once found by industry: no longer. Asked first, since dropping waits for
    # every transaction on the collection (those of a process killed: until they time out).
    if "industry_1" in await store.db[CUSTOMERS].index_information():
        with suppress(OperationFailure):
            await store.db[CUSTOMERS].drop_index("industry_1")


class Snapshots:
    """The model snapshots this process has read, by version: a snapshot never changes, so each
    is read from MongoDB once; a batch only asks which version is the latest."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._by_version: OrderedDict[int, WinModel] = OrderedDict()

    async def latest(
        self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None
    ) -> WinModel:
        head = await db[SNAPSHOTS].find_one({}, {"_id": 1}, sort=[("_id", -1)], session=session)
        if head is None:
            return WinModel()
        version: int = head["_id"]
        if version not in self._by_version:
            found = await db[SNAPSHOTS].find_one({"_id": version}, session=session)
            assert found is not None  # snapshots are removed oldest first, many versions later
            self._by_version[version] = snapshot_of(found)
            while len(self._by_version) > self.keep:
                self._by_version.popitem(last=False)
        return self._by_version[version]


def latest_result(customer: Document, rescored: Document | None) -> ResultKey | None:
    """The customer's last result: the single writer's if of a later snapshot than the one the
    consumer last scored it with."""
    if rescored is not None and rescored["version"] > customer.get("scored_with", -1):
        result: ResultKey = rescored["last"]
        return result
    return customer.get("last")


async def results(store: Store) -> dict[str, ResultKey | None]:
    """Every customer's last result, by id."""
    rescored = {doc["_id"]: doc for doc in await store.db[RESCORED].find({}).to_list()}
    customers = await store.db[CUSTOMERS].find({}, {"last": 1, "scored_with": 1}).to_list()
    return {doc["_id"]: latest_result(doc, rescored.get(doc["_id"])) for doc in customers}


def snapshot_of(document: Document) -> WinModel:
    counts = {key: (won, lost) for key, won, lost in document["counts"]}
    return WinModel(document["_id"], WinCounts(counts))


def snapshot_document(model: WinModel) -> Document:
    return {
        "_id": model.version,
        # A list, not a mapping: keys hold user text ("industry=a.b"), which field names cannot.
        "counts": [[key, won, lost] for key, (won, lost) in sorted(model.counts.by_key.items())],
        "won": model.counts.won,
        "lost": model.counts.lost,
        "built_at": datetime.now(UTC),
    }


@dataclass
class _Batch:
    """What one transaction has read and changed; kept in the unit of work's memo."""

    docs: dict[str, Document] = field(default_factory=dict)  # as read; {} for a new customer
    rescored: dict[str, Document] = field(default_factory=dict)  # the single writer's results
    features: dict[str, Features] = field(default_factory=dict)
    last: dict[str, tuple[ResultKey, int]] = field(default_factory=dict)  # changed results
    dirty: set[str] = field(default_factory=set)
    deals: dict[str, tuple[str, str]] = field(default_factory=dict)  # new: id -> customer, outcome
    model: WinModel | None = None
    strategies: list[Strategy] | None = None


class MongoState:
    """ScoringState inside one transaction (a partition batch, or a page of a re-scoring): what
    the engine reads is read once, what it changes is written once before the commit.

    A consumer's batch writes the customers' documents and notes which snapshot it scored them
    with (adapters.SCORED); the single writer (`writer`) writes its results apart (RESCORED)."""

    MEMO = "scoring"

    def __init__(self, uow: UnitOfWork, snapshots: Snapshots, writer: bool = False) -> None:
        self.uow = uow
        self.snapshots = snapshots
        self.writer = writer
        batch = uow.memo.get(self.MEMO)
        if batch is None:
            batch = uow.memo[self.MEMO] = _Batch()
        self.batch: _Batch = batch

    async def prefetch(self, customer_ids: Iterable[str]) -> None:
        """Reads the customers not read yet, in one query."""
        wanted = sorted(set(customer_ids) - self.batch.docs.keys())
        if not wanted:
            return
        query, session = {"_id": {"$in": wanted}}, self.uow.session
        found = await self.uow.db[CUSTOMERS].find(query, session=session).to_list()
        rescored = await self.uow.db[RESCORED].find(query, session=session).to_list()
        self.batch.docs.update({customer_id: {} for customer_id in wanted})
        self.batch.docs.update((doc["_id"], doc) for doc in found)
        self.batch.rescored.update((doc["_id"], doc) for doc in rescored)

    async def as_left_by(self, batch: Document) -> list[Scored]:
        """The customers of a consumer's batch (adapters.SCORED) as it left them. What it
        announced is taken as their last result, whatever the single writer stored before it
        committed (a result of the features before the batch, maybe): its CustomerScored came
        later. Stored as such where another was."""
        ids, announced = batch["customers"], set(batch.get("announced", []))
        await self.prefetch(ids)
        version = (await self.model()).version
        customers = []
        for customer_id in ids:
            doc = self.batch.docs[customer_id]
            last = latest_result(doc, self.batch.rescored.get(customer_id))
            if customer_id in announced and doc.get("last") not in (None, last):
                last = doc["last"]
                self.batch.last[customer_id] = (last, version)
                self._changed(customer_id)
            customers.append(Scored(customer_id, doc.get("segment"), last))
        return customers

    async def _doc(self, customer_id: str) -> Document:
        if customer_id not in self.batch.docs:
            # The first read of a batch reads every customer the batch's events are about.
            await self.prefetch([customer_id, *(event.customer_id for event in self.uow.events)])
        return self.batch.docs[customer_id]

    async def features(self, customer_id: str) -> Features:
        if customer_id not in self.batch.features:
            stored = (await self._doc(customer_id)).get("features")
            self.batch.features[customer_id] = (
                Features() if stored is None else Features.model_validate(stored)
            )
        return self.batch.features[customer_id]

    async def save_features(self, customer_id: str, features: Features) -> None:
        await self._doc(customer_id)
        self.batch.features[customer_id] = features
        self._changed(customer_id)

    async def learn(self, deal_id: str, customer_id: str, outcome: str) -> None:
        self.batch.deals.setdefault(deal_id, (customer_id, outcome))

    async def model(self) -> WinModel:
        if self.batch.model is None:
            # A consumer's batch reads the latest snapshot as committed now, not as of its
            # transaction's start (a snapshot never changes once written): it first asks when
            # re-scoring, just before it commits, so it is seldom older than the latest by then
            # and seldom needs catching up (snapshots.py).
            session = self.uow.session if self.writer else None
            self.batch.model = await self.snapshots.latest(self.uow.db, session)
        return self.batch.model

    async def strategies(self) -> list[Strategy]:
        if self.batch.strategies is None:
            found = (
                await self.uow.db[STRATEGIES]
                .find({"active": True}, session=self.uow.session)
                .sort("_id")
                .to_list()
            )
            self.batch.strategies = [Strategy(strategy_id=doc.pop("_id"), **doc) for doc in found]
        return self.batch.strategies

    async def last(self, customer_id: str) -> ResultKey | None:
        if customer_id in self.batch.last:
            return self.batch.last[customer_id][0]
        return latest_result(await self._doc(customer_id), self.batch.rescored.get(customer_id))

    async def save_last(self, customer_id: str, key: ResultKey, snapshot: int) -> None:
        await self._doc(customer_id)
        self.batch.last[customer_id] = (key, snapshot)
        self._changed(customer_id)

    def _changed(self, customer_id: str) -> None:
        self.batch.dirty.add(customer_id)
        self.uow.before_commit(self.MEMO, self._write)

    def _write(self) -> None:
        """Each changed customer's one write; its new deals, and its deals counted under another
        segment if its segment changed; and, for a consumer's batch, which snapshot it used."""
        batch, customers = self.batch, []
        deals: list[UpdateOne | UpdateMany] = []
        for customer_id in sorted(batch.dirty):
            changed: Document = {}
            if customer_id in batch.features:
                features = batch.features[customer_id]
                segment = features.segment()
                changed |= {"features": features.model_dump(mode="json"), "segment": segment}
                if features.deals and segment != batch.docs[customer_id].get("segment"):
                    keys = keys_for(segment)
                    deals.append(
                        UpdateMany(
                            {"customer_id": customer_id, "keys": {"$ne": keys}},
                            {"$set": {"keys": keys, "pending": True}},
                        )
                    )
            if customer_id in batch.last:
                key, snapshot = batch.last[customer_id]
                if self.writer:
                    result = {"$set": {"last": key, "version": snapshot}}
                    self.uow.write(RESCORED, UpdateOne({"_id": customer_id}, result, upsert=True))
                else:
                    changed |= {"last": key, "scored_with": snapshot}
            if changed:
                customers.append(UpdateOne({"_id": customer_id}, {"$set": changed}, upsert=True))
        for deal_id, (customer_id, outcome) in batch.deals.items():
            keys = keys_for(self._segment(customer_id))
            first = {"customer_id": customer_id, "outcome": outcome, "keys": keys, "pending": True}
            deals.append(UpdateOne({"_id": deal_id}, {"$setOnInsert": first}, upsert=True))
        if customers:
            self.uow.write(CUSTOMERS, *customers)
        if deals:
            self.uow.write(DEALS, *deals)
        if not self.writer and batch.model is not None and batch.dirty:
            scored = {
                "version": batch.model.version,
                "customers": sorted(batch.dirty),
                "announced": sorted(batch.dirty & batch.last.keys()),
            }
            self.uow.write(SCORED, InsertOne(scored))
        batch.dirty.clear()
        batch.deals.clear()

    def _segment(self, customer_id: str) -> dict[str, str]:
        if customer_id in self.batch.features:
            return self.batch.features[customer_id].segment()
        return dict(self.batch.docs.get(customer_id, {}).get("segment") or {})


async def save_strategy(
    uow: UnitOfWork, strategy_id: str, definition: StrategyDefinition, by: str
) -> Document:
    """The strategy's next version, also kept apart with who saved it and when."""
    after = await uow.db[STRATEGIES].find_one_and_update(
        {"_id": strategy_id},
        {"$set": definition.model_dump(mode="json"), "$inc": {"version": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
        session=uow.session,
    )
    assert after is not None  # upserted
    await uow.db[STRATEGY_VERSIONS].insert_one(
        {
            "strategy_id": strategy_id,
            **{k: v for k, v in after.items() if k != "_id"},
            "saved_by": by,
            "saved_at": datetime.now(UTC),
        },
        session=uow.session,
    )
    return strategy(after)


def strategy(document: Document) -> Document:
    """A stored strategy as the API shows it."""
    return {"strategy_id": document["_id"], **{k: v for k, v in document.items() if k != "_id"}}


async def all_strategies(store: Store) -> list[Document]:
    return [strategy(doc) for doc in await store.db[STRATEGIES].find({}).sort("_id").to_list()]


async def strategy_versions(store: Store, strategy_id: str) -> list[Document]:
    """Every saved version of the strategy, the latest first; none for an unknown strategy."""
    cursor = store.db[STRATEGY_VERSIONS].find({"strategy_id": strategy_id}, {"_id": 0})
    return list(await cursor.sort("version", -1).to_list())


async def customer_features(store: Store, customer_id: str) -> Document | None:
    """What scoring knows of the customer and its last result; None before any event about it."""
    stored = await store.db[CUSTOMERS].find_one({"_id": customer_id})
    if stored is None:
        return None
    rescored = await store.db[RESCORED].find_one({"_id": customer_id})
    return {
        "customer_id": customer_id,
        "features": stored.get("features"),
        "last": latest_result(stored, rescored),
    }
