"""The single writer of the win-probability model (one instance at a time, by a lease): it turns
the deals recorded since the last snapshot into the next one, then re-scores every customer whose
announced result the new snapshot changes.

- A snapshot is built every `snapshot_every_deals` waiting deals, or once a deal has waited
  `snapshot_every_s`, in one transaction: the new counts, the deals marked as counted, and the
  re-scoring restarted where it stands.
- The re-scoring goes round the customers by id in pages, each page one transaction (customers'
  results, kept apart from the documents the consumer writes; their CustomerScored; the progress):
  a crash resumes where the last page ended. A snapshot built meanwhile takes over from where the
  round is, and goes once round from there. Customers are never re-scored with an older snapshot
  than their last result's: each page uses the latest.
- A consumer's batch that scored with a snapshot older than the latest when it committed (it began
  before that snapshot) is caught up from what it recorded (adapters.SCORED): its customers are
  re-scored where the latest snapshot moves their result as the batch left it.
Each distinct segment's estimate is computed once per snapshot; only the customers it moves are
read in full."""

import asyncio
import time
import uuid

import structlog
from crm_runtime.lease import Lease
from crm_runtime.retry import is_transient
from crm_runtime.store import Store, UnitOfWork
from pymongo import DeleteMany, DeleteOne, InsertOne, UpdateOne

from crm_scoring.adapters import (
    CUSTOMERS,
    DEALS,
    RESCORED,
    SCORED,
    SNAPSHOTS,
    Document,
    MongoState,
    Snapshots,
    latest_result,
    snapshot_document,
)
from crm_scoring.domain.win_probability import WinModel, recount
from crm_scoring.engine import Scored, moved_by, rescore_moved, snapshot_due
from crm_scoring.handlers import scored
from crm_scoring.settings import ScoringSettings

log = structlog.get_logger(__name__)
PROGRESS = "rescoring"
ROUND = "round"
KEEP_SNAPSHOTS = 10
LEASE = "scoring-model-snapshots"


def snapshot_correlation(model: WinModel) -> uuid.UUID:
    """What the CustomerScored events of one snapshot's re-scoring share."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"crm-scoring-snapshot-{model.version}")


class SnapshotWriter:
    def __init__(self, store: Store, snapshots: Snapshots, settings: ScoringSettings) -> None:
        self.store = store
        self.snapshots = snapshots
        self.settings = settings
        self.model_version = settings.model_version
        self.lease = Lease(store.db, LEASE, settings.snapshot_lease_s)
        self._built_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    # --- building ---------------------------------------------------------------------------

    async def due(self) -> bool:
        every = self.settings.snapshot_every_deals
        waiting = await self.store.db[DEALS].count_documents({"pending": True}, limit=every)
        waited = time.monotonic() - self._built_at
        return snapshot_due(waiting, waited, every, self.settings.snapshot_every_s)

    async def build(self) -> int | None:
        """The next snapshot from the deals waiting (None when none wait)."""

        async def work(uow: UnitOfWork) -> int | None:
            latest = await self.snapshots.latest(uow.db, uow.session)
            waiting = (
                await uow.db[DEALS]
                .find({"pending": True}, session=uow.session)
                .sort("_id")
                .limit(self.settings.snapshot_max_deals)
                .to_list()
            )
            if not waiting:
                return None
            changes = [(deal["outcome"], deal.get("counted"), deal["keys"]) for deal in waiting]
            model = WinModel(latest.version + 1, recount(latest.counts, changes))
            uow.write(
                DEALS,
                *(
                    UpdateOne(
                        {"_id": deal["_id"]},
                        {"$set": {"counted": deal["keys"]}, "$unset": {"pending": ""}},
                    )
                    for deal in waiting
                ),
            )
            uow.write(SNAPSHOTS, InsertOne(snapshot_document(model)))
            uow.write(SNAPSHOTS, DeleteMany({"_id": {"$lte": model.version - KEEP_SNAPSHOTS}}))
            progress = await uow.db[PROGRESS].find_one({"_id": ROUND}, session=uow.session)
            at = progress["ranges"][0][0] if progress and progress["ranges"] else ""
            # Once round, from where the round stands: customers before it come last.
            ranges = [[at, None], ["", at]] if at else [["", None]]
            uow.write(
                PROGRESS,
                UpdateOne(
                    {"_id": ROUND},
                    {"$set": {"version": model.version, "ranges": ranges}},
                    upsert=True,
                ),
            )
            return model.version

        version = await self.store.run(work)
        self._built_at = time.monotonic()
        if version is not None:
            log.info("model snapshot built", version=version)
        return version

    # --- re-scoring -------------------------------------------------------------------------

    async def step(self) -> bool:
        """One transaction of re-scoring: a late batch caught up, or a page of the round. False
        when there is nothing left to do."""
        return await self.store.run(self._catch_up) or await self.store.run(self._page)

    async def _catch_up(self, uow: UnitOfWork) -> bool:
        state = MongoState(uow, self.snapshots, writer=True)
        model = await state.model()
        # A batch that scored with the latest snapshot is up to date; the next snapshot's round
        # will go past its customers after it.
        await uow.db[SCORED].delete_many({"version": {"$gte": model.version}}, session=uow.session)
        late = await uow.db[SCORED].find_one(
            {"version": {"$lt": model.version}}, session=uow.session
        )
        if late is None:
            return False
        # Compared with the results as the late batch left them: only the customers whose
        # probability the snapshot moves from there are read in full and re-scored.
        await self._rescore(uow, state, model, await state.as_left_by(late))
        uow.write(SCORED, DeleteOne({"_id": late["_id"]}))
        return True

    async def _page(self, uow: UnitOfWork) -> bool:
        progress = await uow.db[PROGRESS].find_one({"_id": ROUND}, session=uow.session)
        if progress is None or not progress["ranges"]:
            return False
        state = MongoState(uow, self.snapshots, writer=True)
        model = await state.model()
        (after, upto), *rest = progress["ranges"]
        query: Document = {"_id": {"$gt": after, **({"$lte": upto} if upto else {})}}
        size = self.settings.rescore_page_size
        found = (
            await uow.db[CUSTOMERS]
            .find(query, {"segment": 1, "last": 1, "scored_with": 1}, session=uow.session)
            .sort("_id")
            .limit(size)
            .to_list()
        )
        ids = [doc["_id"] for doc in found]
        rescored = {
            doc["_id"]: doc
            for doc in await uow.db[RESCORED]
            .find({"_id": {"$in": ids}}, session=uow.session)
            .to_list()
        }
        customers = [
            Scored(doc["_id"], doc.get("segment"), latest_result(doc, rescored.get(doc["_id"])))
            for doc in found
        ]
        await self._rescore(uow, state, model, customers)
        ranges = rest if len(found) < size else [[found[-1]["_id"], upto], *rest]
        uow.write(PROGRESS, UpdateOne({"_id": ROUND}, {"$set": {"ranges": ranges}}))
        return True

    async def _rescore(
        self, uow: UnitOfWork, state: MongoState, model: WinModel, customers: list[Scored]
    ) -> None:
        moved = set(moved_by(model, customers, self.model_version))
        await state.prefetch(moved)
        moved_customers = [customer for customer in customers if customer.customer_id in moved]
        rescored_now = await rescore_moved(state, moved_customers, self.model_version)
        correlation_id = snapshot_correlation(model)
        for customer_id, assessment in rescored_now:
            uow.emit(scored(customer_id, assessment, correlation_id, None))
        for customer in moved_customers:
            if customer.segment is None:
                # Stored before segments were: stored now, so that the next round reads less.
                features = await state.features(customer.customer_id)
                await state.save_features(customer.customer_id, features)

    async def settled(self) -> bool:
        """No deal waits, the round is done, no batch is left to catch up: every customer's
        result is the latest snapshot's (once the consumer is idle)."""
        db = self.store.db
        latest = await self.snapshots.latest(db)
        progress = await db[PROGRESS].find_one({"_id": ROUND})
        return (
            await db[DEALS].count_documents({"pending": True}, limit=1) == 0
            and (progress is None or not progress["ranges"])
            and await db[SCORED].count_documents({"version": {"$lt": latest.version}}, limit=1) == 0
        )

    # --- running ----------------------------------------------------------------------------

    async def work(self) -> None:
        """What there is to do now, while the lease holds."""
        while await self.lease.hold():
            if await self.due():
                await self.build()
            if not await self.step():
                return

    async def run_forever(self) -> None:
        while True:
            try:
                await self.work()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if is_transient(error):
                    log.warning("model snapshot writer waits for MongoDB", error=repr(error))
                else:
                    log.error("model snapshot writer failed, trying again", error=repr(error))
            await asyncio.sleep(self.settings.snapshot_poll_interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run_forever(), name="model-snapshots")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        try:
            await self.lease.release()
        except Exception as error:
            log.warning("could not release the snapshot lease", error=repr(error))
