"""Scoring's state in MongoDB: each customer's features and last result, the win counts, the
strategy catalogue (with every version kept); and the queries the HTTP side answers with."""

from datetime import UTC, datetime
from typing import Any

from crm_runtime.store import Store, UnitOfWork
from pymongo import ReturnDocument

from crm_scoring.domain.features import Features, industry_key
from crm_scoring.domain.strategy import Strategy, StrategyDefinition
from crm_scoring.domain.win_probability import WinCounts, keys_for

CUSTOMERS = "customer_features"
WIN_COUNTS = "win_counts"
STRATEGIES = "strategies"
STRATEGY_VERSIONS = "strategy_versions"

Document = dict[str, Any]


async def create_indexes(store: Store) -> None:
    await store.db[CUSTOMERS].create_index("industry")
    await store.db[STRATEGY_VERSIONS].create_index([("strategy_id", 1), ("version", -1)])


class MongoState:
    """ScoringState inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        # Read once per transaction: one event may re-score many customers.
        self._counts: WinCounts | None = None
        self._strategies: list[Strategy] | None = None
        self._docs: dict[str, Document | None] = {}  # customer documents read in this transaction

    async def _doc(self, customer_id: str) -> Document | None:
        if customer_id not in self._docs:
            self._docs[customer_id] = await self.uow.db[CUSTOMERS].find_one(
                {"_id": customer_id}, session=self.uow.session
            )
        return self._docs[customer_id]

    async def features(self, customer_id: str) -> Features:
        stored = await self._doc(customer_id)
        # A customer may have a last result and no features yet (a deal re-scored it first).
        if stored is None or "features" not in stored:
            return Features()
        return Features.model_validate(stored["features"])

    async def save_features(self, customer_id: str, features: Features) -> None:
        industry = industry_key(features.industry)
        await self.uow.db[CUSTOMERS].update_one(
            {"_id": customer_id},
            {"$set": {"features": features.model_dump(mode="json"), "industry": industry}},
            upsert=True,
            session=self.uow.session,
        )
        self._docs.pop(customer_id, None)  # read again, in the transaction, as now written

    async def counts(self) -> WinCounts:
        if self._counts is None:
            found = await self.uow.db[WIN_COUNTS].find({}, session=self.uow.session).to_list()
            self._counts = WinCounts({doc["_id"]: (doc["won"], doc["lost"]) for doc in found})
        return self._counts

    async def learn(self, segment: dict[str, str], outcome: str) -> None:
        self._counts = None
        increment = {"won": 1, "lost": 0} if outcome == "won" else {"won": 0, "lost": 1}
        for key in keys_for(segment):
            await self.uow.db[WIN_COUNTS].update_one(
                {"_id": key}, {"$inc": increment}, upsert=True, session=self.uow.session
            )

    async def strategies(self) -> list[Strategy]:
        if self._strategies is None:
            found = (
                await self.uow.db[STRATEGIES]
                .find({"active": True}, session=self.uow.session)
                .sort("_id")
                .to_list()
            )
            self._strategies = [Strategy(strategy_id=doc.pop("_id"), **doc) for doc in found]
        return self._strategies

    async def last(self, customer_id: str) -> list[Any] | None:
        stored = await self._doc(customer_id)
        return stored.get("last") if stored else None

    async def save_last(self, customer_id: str, key: list[Any]) -> None:
        await self.uow.db[CUSTOMERS].update_one(
            {"_id": customer_id}, {"$set": {"last": key}}, upsert=True, session=self.uow.session
        )
        self._docs.pop(customer_id, None)  # read again, in the transaction, as now written

    async def similar(
        self, customer_id: str, industry: str, limit: int
    ) -> list[tuple[str, Features]]:
        query = {"industry": industry_key(industry), "_id": {"$ne": customer_id}}
        found = (
            await self.uow.db[CUSTOMERS]
            .find(query, session=self.uow.session)
            .sort("_id")
            .limit(limit)
            .to_list()
        )
        self._docs.update({doc["_id"]: doc for doc in found})
        return [(doc["_id"], Features.model_validate(doc["features"])) for doc in found]


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
    return {"customer_id": customer_id, "features": stored["features"], "last": stored.get("last")}
