"""A consumer's batch that began before a snapshot and committed after the snapshot's round went
past its customers, on a real mongod: the round's result (of the features before the batch) was
stored first, the batch's CustomerScored (of the older snapshot) was announced last. The catch-up
must leave the announced result equal to the stored one, the latest snapshot's."""

import uuid
from datetime import UTC, datetime

from crm_contracts import (
    CustomerCreated,
    CustomerScored,
    FollowupRevoked,
    FollowupRevokedPayload,
    parse_event,
)
from crm_runtime.outbox import COMMIT_ORDER
from crm_runtime.store import Store, UnitOfWork
from crm_scoring import adapters
from crm_scoring.adapters import Snapshots
from crm_scoring.domain.win_probability import WinModel, keys_for
from crm_scoring.engine import announced
from crm_scoring.handlers import score
from crm_scoring.settings import ScoringSettings
from crm_scoring.snapshots import SnapshotWriter
from pymongo import AsyncMongoClient, InsertOne

MODEL = "value-v1"
T0 = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


class SnapshotsReadBefore(Snapshots):
    """A batch that read the latest snapshot before the next one was built (a fake: the real
    race needs a transaction to stay open across a snapshot's build and round)."""

    async def latest(self, db, session=None) -> WinModel:
        return WinModel()


async def apply(store: Store, snapshots: Snapshots, *events) -> None:
    async def handle(event, uow: UnitOfWork) -> None:
        await score(event, uow, MODEL, snapshots)

    await store.run_batch(list(events), handle)


async def test_a_late_batch_is_caught_up_so_that_the_last_announced_result_is_the_stored_one(
    infra, namespace
):
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    store = Store(client, f"{namespace}_scoring_catch_up_{uuid.uuid4().hex[:8]}")
    try:
        await adapters.create_indexes(store)
        writer = SnapshotWriter(store, Snapshots(), ScoringSettings(model_version=MODEL))
        customer = CustomerCreated(
            producer="customer",
            customer_id="c-1",
            occurred_at=T0,
            payload={"name": "C1", "industry": "retail", "region": "east"},
        )
        await apply(store, Snapshots(), customer)
        # Deals of the customer's industry: the next snapshot moves its win probability.
        segment = {"industry": "retail", "region": "east"}
        await store.db[adapters.DEALS].bulk_write(
            [
                InsertOne(
                    {
                        "_id": f"d-{n}",
                        "customer_id": "other",
                        "outcome": "won",
                        "keys": keys_for(segment),
                        "pending": True,
                    }
                )
                for n in range(6)
            ]
        )
        await writer.build()
        while await writer.step():  # the round re-scores the customer, features as they were
            pass
        # The late batch: features change (a follow-up revoked, which the score does not count),
        # scored with the snapshot it read before the round.
        revoked = FollowupRevoked(
            producer="followup",
            customer_id="c-1",
            occurred_at=T0,
            payload=FollowupRevokedPayload(followup_id="fu-unknown", reason="entered by mistake"),
        )
        await apply(store, SnapshotsReadBefore(), revoked)
        while await writer.step():  # the catch-up
            pass

        assert await writer.settled()
        stored = (await adapters.results(store))["c-1"]
        rows = await store.db["outbox"].find({}).sort(COMMIT_ORDER).to_list()
        announced_last = [
            event
            for event in (parse_event(row["value"]) for row in rows)
            if isinstance(event, CustomerScored)
        ][-1]
        latest = await Snapshots().latest(store.db)
        assert latest.version == 1 and stored is not None and stored[2] != announced(0.5)
        assert announced_last.payload.model_snapshot == 1
        assert announced(announced_last.payload.win_probability) == stored[2]
        assert announced_last.payload.score == stored[0]
    finally:
        await client.drop_database(store.db.name)
        await client.close()
