"""The transactional outbox on real mongod and Kafka, with a relay process that really dies."""

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from crm_contracts import CustomerCreated, CustomerCreatedPayload, topic_of
from crm_runtime import outbox
from crm_runtime.consumer import EventConsumer
from crm_runtime.kafka import make_broker, sender
from crm_runtime.lease import LEASES
from crm_runtime.outbox import OutboxRelay
from crm_runtime.records import Record
from crm_runtime.settings import ServiceSettings
from crm_runtime.store import OUTBOX, Store
from pymongo import AsyncMongoClient

CRASH_SCRIPT = Path(__file__).with_name("relay_crash.py")


@pytest.fixture
async def store(infra, namespace):
    client = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    yield Store(client, f"{namespace}_outbox_test")
    await client.close()


@pytest.fixture
async def relay(store, settings_for):
    broker = make_broker(settings_for(ServiceSettings, service_name="outbox-test"))
    await broker.start()
    yield OutboxRelay(store, sender(broker))
    await broker.stop()


def commit_then_die(infra, store: Store, when: str) -> str:
    crashed = subprocess.run(
        [
            sys.executable,
            str(CRASH_SCRIPT),
            infra.mongodb_uri,
            store.db.name,
            infra.kafka_bootstrap_servers,
            when,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == (3 if when == "before-publish" else 4), crashed.stderr
    return crashed.stdout.split()[0]


async def test_an_event_committed_before_the_relay_died_arrives_once_after_a_restart(
    infra, store, relay, kafka
):
    event_id = commit_then_die(infra, store, "before-publish")
    assert (await store.db[OUTBOX].find_one({"_id": event_id}))["sent"] is False

    assert await relay.publish_pending() >= 1

    arrived = await kafka.read(
        topic_of("CustomerCreated"), kafka.where(event_id=event_id), settle_s=2
    )
    assert len(arrived) == 1
    assert (await store.db[OUTBOX].find_one({"_id": event_id}))["sent"] is True
    assert await relay.publish_pending() == 0


async def test_a_relay_that_died_after_publishing_publishes_again_and_the_consumer_applies_once(
    infra, store, relay, kafka
):
    event_id = commit_then_die(infra, store, "after-publish")
    await relay.publish_pending()

    copies = await kafka.read(topic_of("CustomerCreated"), kafka.where(event_id=event_id), expect=2)
    assert len(copies) == 2, "at least once: the record the dead relay sent, and the re-publication"

    applied = []

    async def count(event, uow):
        await uow.db["effects"].insert_one({"event_id": str(event.event_id)}, session=uow.session)
        applied.append(event.event_id)

    consumer = EventConsumer(store, {CustomerCreated: [count]}, dead_letters=None)
    outcomes = [(await consumer.process([Record.of(copy)]))[0] for copy in copies]
    assert outcomes == ["applied", "duplicate"]
    assert await store.db["effects"].count_documents({"event_id": event_id}) == 1


async def test_a_failed_transaction_keeps_neither_the_state_nor_the_event(store):
    event = CustomerCreated(
        producer="test", customer_id="c-rollback", payload=CustomerCreatedPayload(name="X")
    )

    async def work(uow):
        await uow.db["customers"].insert_one({"_id": "c-rollback"}, session=uow.session)
        uow.emit(event)
        raise RuntimeError("the handler changed its mind")

    with pytest.raises(RuntimeError):
        await store.run(work)
    assert await store.db["customers"].find_one({"_id": "c-rollback"}) is None
    assert await store.db[OUTBOX].find_one({"_id": str(event.event_id)}) is None


async def test_only_one_relay_holds_the_lease_at_a_time(store, relay):
    other = OutboxRelay(store, relay.send)
    assert await relay.lease.hold() is True
    assert await other.lease.hold() is False
    assert await relay.lease.hold() is True
    await relay.lease.release()
    assert await other.lease.hold() is True, "a released lease is taken at once"


class AnHourAhead(datetime):
    """The clock of a host that runs an hour ahead."""

    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + timedelta(hours=1)


async def test_a_lease_ends_by_the_database_servers_clock_whatever_the_hosts_clock_says(
    store, relay, monkeypatch
):
    async def held_by_another_relay_for(ms: int) -> None:
        await store.db[LEASES].update_one(
            {"_id": "outbox-relay"},
            [{"$set": {"holder": "elsewhere:1", "expires_at": {"$add": ["$$NOW", ms]}}}],
            upsert=True,
        )

    monkeypatch.setattr(outbox, "datetime", AnHourAhead)

    await held_by_another_relay_for(10_000)
    assert await relay.lease.hold() is False, "10 s are left on the server's clock"
    await held_by_another_relay_for(-1_000)
    assert await relay.lease.hold() is True, "the lease ended on the server's clock"
    await relay.lease.release()
