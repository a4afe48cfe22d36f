"""Scoring's state in MongoDB: each customer's features and last result, the win counts, the
strategy catalogue (with every version kept)."""

from datetime import UTC, datetime
from typing import Any

from crm_runtime.store import Store, UnitOfWork
from pymongo import ReturnDocument

from crm_scoring.domain.features import Features
from crm_scoring.domain.strategy import Strategy, StrategyDefinition
from crm_scoring.domain.win_probability import WinCounts, keys_for

CUSTOMERS = "customer_features"
WIN_COUNTS = "win_counts"
STRATEGIES = "strategies"
STRATEGY_VERSIONS = "strategy_versions"


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
        self._docs: dict[str, dict | None] = {}  # customer documents read in this transaction

    async def _doc(self, customer_id: str) -> dict | None:
        if customer_id not in self._docs:
            self._docs[customer_id] = await self._find_one(CUSTOMERS, {"_id": customer_id})
        return self._docs[customer_id]

    def _find_one(self, collection: str, query: dict) -> Any:
        return self.uow.db[collection].find_one(query, session=self.uow.session)

    async def features(self, customer_id: str) -> Features:
        stored = await self._doc(customer_id)
        return Features.model_validate(stored["features"]) if stored else Features()

    async def save_features(self, customer_id: str, features: Features) -> None:
        industry = features.industry.strip().lower() if features.industry else None
        await self.uow.db[CUSTOMERS].update_one(
            {"_id": customer_id},
            {"$set": {"features": features.model_dump(mode="json"), "industry": industry}},
            upsert=True,
            session=self.uow.session,
        )

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
                .to_list()
            )
            self._strategies = [Strategy(strategy_id=doc.pop("_id"), **doc) for doc in found]
        return self._strategies

    async def last(self, customer_id: str) -> list | None:
        stored = await self._doc(customer_id)
        return stored.get("last") if stored else None

    async def save_last(self, customer_id: str, key: list) -> None:
        await self.uow.db[CUSTOMERS].update_one(
            {"_id": customer_id}, {"$set": {"last": key}}, upsert=True, session=self.uow.session
        )

    async def similar(
        self, customer_id: str, industry: str, limit: int
    ) -> list[tuple[str, Features]]:
        query = {"industry": industry.strip().lower(), "_id": {"$ne": customer_id}}
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
    store: Store, strategy_id: str, definition: StrategyDefinition, by: str
) -> dict:
    """A new version of the strategy; every version stays readable."""

    async def work(uow: UnitOfWork) -> dict:
        after = await uow.db[STRATEGIES].find_one_and_update(
            {"_id": strategy_id},
            {"$set": definition.model_dump(mode="json"), "$inc": {"version": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=uow.session,
        )
        await uow.db[STRATEGY_VERSIONS].insert_one(
            {
                "strategy_id": strategy_id,
                **{k: v for k, v in after.items() if k != "_id"},
                "saved_by": by,
                "saved_at": datetime.now(UTC),
            },
            session=uow.session,
        )
        return after

    return await store.run(work)
