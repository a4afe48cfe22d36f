"""Several instances per service (issue 12). Three instances of scoring and three of reporting share
their topics' six partitions while a stream of events is published; instances are killed with
SIGKILL and others added during it, so partitions move in the middle of batches. At the end every
score equals a single run of the same events, every report and customer view equals a single
reporting instance's that read the same topics, the outbox lease has moved to a live instance
within its lease time of its holder's death and was never held by two, and what was published
twice was applied once.

The services read a broker of this test's own: the contract topics then hold only this stream,
which the single instance and the in-memory run see whole."""

import asyncio
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from crm_contracts import topic_of
from crm_contracts.topics import SCORING_EVENTS
from crm_runtime.auth import Principal, Role, issue_token
from crm_runtime.lease import LEASES
from crm_runtime.store import OUTBOX, Store
from crm_scoring import adapters
from crm_scoring.engine import react
from crm_scoring.memory_state import InMemoryState
from crm_scoring.settings import ScoringSettings
from fleet import Fleet, applied, event_ids, settled, views
from histories import scored_history
from instances import OwnBroker
from pymongo import AsyncMongoClient

PARTITIONS = 6
OUTBOX_LEASE_S = 10.0  # the relay's (crm_runtime.outbox)
SLICES = 8

DEFAULT_MODEL = ScoringSettings.model_fields["model_version"].default  # the services'


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    own = OwnBroker(tmp_path_factory.mktemp("broker")).start()
    yield own
    own.stop()


@pytest.fixture
def fleet(broker, infra, auth_secret, tmp_path):
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "MONGODB_URI": infra.mongodb_uri,
        "CRM_AUTH_SECRET": auth_secret,
        "CRM_TOPIC_PARTITIONS": str(PARTITIONS),
    }
    started = Fleet(env, tmp_path)
    yield started
    started.stop()


@pytest.fixture
async def mongo(infra):
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    yield client
    await client.close()


async def publish(producer: AIOKafkaProducer, events: list) -> None:
    for event in events:
        await producer.send(topic_of(event.event_type), event.to_bytes(), key=event.key())
    await producer.flush()


async def holder_pid(db) -> int | None:
    lease = await db[LEASES].find_one({"_id": "outbox-relay"})
    return int(lease["holder"].split(":")[1]) if lease else None


async def lease_moves(db, killed: dict[str, Any]) -> dict[str, Any]:
    """The lease's first state under another holder, read as soon as it changes."""
    deadline = time.monotonic() + 3 * OUTBOX_LEASE_S
    while time.monotonic() < deadline:
        lease = await db[LEASES].find_one({"_id": "outbox-relay"})
        if lease and lease["holder"] != killed["holder"]:
            return lease
        await asyncio.sleep(0.05)
    raise AssertionError(f"the outbox lease is still {killed} after {3 * OUTBOX_LEASE_S} s")


async def test_three_instances_killed_and_added_mid_stream_end_as_one_instance_does(
    broker, fleet, mongo, namespace, eventually
):
    events = scored_history(customers=120, seed=23)
    stream_ids = [str(event.event_id) for event in events]
    scaled, single = f"{namespace}x", f"{namespace}y"
    scoring = Store(mongo, f"{scaled}_scoring")
    reporting = {ns: Store(mongo, f"{ns}_reporting") for ns in (scaled, single)}

    for service in ("scoring", "reporting"):
        for _ in range(3):
            await fleet.add(scaled, service)
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    by_slice = [
        events[len(events) * n // SLICES : len(events) * (n + 1) // SLICES] for n in range(SLICES)
    ]
    published: list[str] = []
    lease_kill: dict[str, Any] = {}
    try:
        for number, part in enumerate(by_slice):
            await publish(producer, part)
            published += [str(event.event_id) for event in part]
            # Kill or add once some of what was just published is applied, not all of it.
            half = len(published) - len(part) // 2

            async def under_way(at_least: int = half, ids: list[str] = published) -> bool:
                return await applied(scoring, ids) >= at_least

            await eventually(under_way)
            if number == 2:  # the outbox lease holder among scoring, and a reporting instance
                pid = await holder_pid(scoring.db)
                [holder] = [i for i in fleet.started if i.pid == pid]
                lease_kill = await scoring.db[LEASES].find_one({"_id": "outbox-relay"})
                holder.kill()
                lease_kill["moved"] = await lease_moves(scoring.db, lease_kill)
                next(i for i in fleet.started if i.service == "reporting").kill()
            elif number == 4:
                await fleet.add(scaled, "scoring")
                await fleet.add(scaled, "reporting")
            elif number == 6:  # whichever run now, in the middle of their batches
                for service in ("scoring", "reporting"):
                    next(
                        i
                        for i in fleet.started
                        if i.service == service and i.process.poll() is None
                    ).kill()
    finally:
        await producer.stop()
    await fleet.add(single, "reporting")  # reads the same topics from their start, alone

    async def everything_applied_and_counted() -> bool:
        return await settled(scoring, list(reporting.values()), stream_ids)

    await eventually(everything_applied_and_counted, timeout_s=300)

    # Scores: as the same events applied one by one in memory.
    reference = InMemoryState()
    for event in events:
        await react(reference, event, DEFAULT_MODEL)
    await reference.publish(DEFAULT_MODEL)
    assert await adapters.results(scoring) == reference.results
    assert len(reference.results) == 120

    # Reports and customer views: as the single instance's, from any live scaled instance.
    customers = sorted({event.customer_id for event in events})
    token = issue_token(
        Principal("u-admin", Role("admin"), None), fleet.env["CRM_AUTH_SECRET"], 600
    )
    live = [i for i in fleet.started if i.process.poll() is None and i.service == "reporting"]
    alone = next(i for i in live if i.name.startswith(single))
    scaled_views = await views(
        next(i for i in live if i.name.startswith(scaled)).url, token, customers
    )
    assert scaled_views == await views(alone.url, token, customers)
    assert sum(row.get("customers", 0) for row in scaled_views["value"]) == 120

    # The lease: taken by a live instance once the killed holder's had run out, never before.
    moved = lease_kill["moved"]
    taken_at = moved["expires_at"] - timedelta(seconds=OUTBOX_LEASE_S)
    assert lease_kill["expires_at"] <= taken_at + timedelta(seconds=0.5)
    assert taken_at - lease_kill["expires_at"] < timedelta(seconds=5)
    assert int(moved["holder"].split(":")[1]) in {i.pid for i in fleet.started}

    # Published twice (a killed relay's batch sent again) is applied once.
    on_topic = await event_ids(broker.bootstrap_servers, SCORING_EVENTS)
    emitted = {str(doc["_id"]) for doc in await scoring.db[OUTBOX].find({}, {"_id": 1}).to_list()}
    assert set(on_topic) == emitted
    for store in reporting.values():
        assert await applied(store, sorted(emitted)) == len(emitted)
    # Each customer's score history holds each of its scoring events once (the last 100).
    outbox = await scoring.db[OUTBOX].find({}, {"key": 1, "event_type": 1}).to_list()
    scored = Counter(
        bytes(d["key"]).decode() for d in outbox if d["event_type"] == "CustomerScored"
    )
    assert sum(scored.values()) > len(customers)
    for customer_id in customers:
        history = scaled_views[customer_id]["score_history"]
        assert len(history) == min(scored[customer_id], 100), customer_id
    print(
        f"lease taken {(taken_at - lease_kill['expires_at']).total_seconds():.2f} s after the "
        f"killed holder's ran out; scoring events {len(emitted)} in {len(on_topic)} records"
    )
