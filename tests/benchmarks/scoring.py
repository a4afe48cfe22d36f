"""Scoring's throughput, on the real local Kafka and mongod, in two parts (each a few minutes at
most; --quick for smaller sizes):

1. events scored per second from a topic of mixed events, next to a consume+decode loop on the same
   topic in the same run (aiokafka, parse every record, commit per batch: no database);
2. the time a new model snapshot takes to re-score every customer it moves, with 100 000 customers
   stored and a first snapshot of a few thousand deals that moves nearly all of them.

    .venv/bin/python tests/benchmarks/scoring.py [--quick] [--events N] [--customers N]

The scoring service runs as in production (bootstrap: partition batches, one MongoDB transaction per
batch with its inbox entries, CustomerScored through the outbox, the snapshot writer beside it) but
on a topic of its own, and its relay sends to a topic of its own, so the real topics get no
benchmark traffic.
"""

import argparse
import asyncio
import gc
import random
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from crm_contracts import (
    CustomerCreated,
    CustomerCreatedPayload,
    DealClosed,
    DealClosedPayload,
    FinancialsRecorded,
    FinancialsRecordedPayload,
    StageChanged,
    StageChangedPayload,
    VisitLogged,
    VisitLoggedPayload,
    parse_event,
)
from crm_runtime.service import tune_collector
from crm_runtime.settings import ServiceSettings
from crm_runtime.store import Store
from crm_scoring import adapters
from crm_scoring.adapters import Snapshots
from crm_scoring.bootstrap import bootstrap
from crm_scoring.domain.assessment import assess
from crm_scoring.domain.features import Features
from crm_scoring.domain.win_probability import WinModel, keys_for
from crm_scoring.engine import key_of
from crm_scoring.settings import ScoringSettings
from crm_scoring.snapshots import SnapshotWriter
from pipeline import (
    INFRA,
    infra_running,
    infra_urls,
    new_topic,
    start_and_apply,
    workers_apart,
)
from pymongo import AsyncMongoClient, InsertOne

MODEL = "value-v1"

INDUSTRIES = [
    "cold chain",
    "automotive",
    "electronics",
    "chemicals",
    "retail",
    "mining",
    "textiles",
    "paper",
]
REGIONS = ["east", "south", "north", "central", "west"]


def mixed_events(count: int, seed: int = 7) -> list:
    """A customer's CustomerCreated first, then its financials, follow-ups, stage moves and
    deals."""
    rng = random.Random(seed)
    customers = max(1, count // 20)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = []
    for n in range(customers):
        customer_id = f"bench-{n}"
        events.append(
            CustomerCreated(
                producer="bench",
                customer_id=customer_id,
                payload=CustomerCreatedPayload(
                    name=f"Bench {n}",
                    industry=rng.choice(INDUSTRIES),
                    region=rng.choice(REGIONS),
                    size=rng.choice(["micro", "small", "medium", "large"]),
                    monthly_freight_volume_tons=rng.uniform(0, 2000),
                ),
            )
        )
    while len(events) < count:
        customer_id = f"bench-{rng.randrange(customers)}"
        at = start + timedelta(minutes=len(events))
        kind = rng.random()
        if kind < 0.75:
            payload = VisitLoggedPayload(
                followup_id=str(uuid.UUID(int=rng.getrandbits(128))),
                salesperson_id="sp",
                channel=rng.choice(["visit", "call", "email"]),
                subject="bench",
                started_at=at,
                ended_at=at + timedelta(minutes=30),
            )
            events.append(
                VisitLogged(
                    producer="bench", customer_id=customer_id, occurred_at=at, payload=payload
                )
            )
        elif kind < 0.87:
            events.append(
                StageChanged(
                    producer="bench",
                    customer_id=customer_id,
                    occurred_at=at,
                    payload=StageChangedPayload(
                        opportunity_id=customer_id,
                        from_stage="qualified",
                        to_stage="proposal",
                        win_probability=0.5,
                        seconds_in_previous_stage=60,
                    ),
                )
            )
        elif kind < 0.95:
            events.append(
                FinancialsRecorded(
                    producer="bench",
                    customer_id=customer_id,
                    occurred_at=at,
                    payload=FinancialsRecordedPayload(
                        statements=[{"year": 2025, "revenue": "1000"}],
                        ratios=[{"year": 2025, "current_ratio": rng.uniform(0.5, 2)}],
                    ),
                )
            )
        else:
            won = rng.random() < 0.4
            facts = {"amount": "1000", "currency": "CNY"} if won else {"lost_reason": "price"}
            events.append(
                DealClosed(
                    producer="bench",
                    customer_id=customer_id,
                    occurred_at=at,
                    payload=DealClosedPayload(
                        deal_id=str(uuid.UUID(int=rng.getrandbits(128))),
                        outcome="won" if won else "lost",
                        **facts,
                    ),
                )
            )
    return events[:count]


async def publish(bootstrap: str, topic: str, events: list) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=262144
    )
    await producer.start()
    started = time.perf_counter()
    pending = []
    for event in events:
        pending.append(await producer.send(topic, event.to_bytes(), key=event.key()))
        if len(pending) >= 5000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    await producer.stop()
    return time.perf_counter() - started


async def consume_and_decode(bootstrap: str, topic: str, count: int) -> float:
    """The ceiling without a database: consume, parse every record, commit per batch; polls as
    large as the service's."""
    polls = ServiceSettings.model_fields
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"plain-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=polls["consumer_partition_fetch_bytes"].default,
    )
    await consumer.start()
    started, seen, first = 0.0, 0, 0
    while seen < count:
        batches = await consumer.getmany(
            timeout_ms=1000, max_records=polls["consumer_batch_size"].default
        )
        for records in batches.values():
            for record in records:
                parse_event(record.value)
            seen += len(records)
        if batches:
            await consumer.commit()
            if not first:  # timed from the first batch done, as the service is
                started, first = time.perf_counter(), seen
    elapsed = time.perf_counter() - started
    await consumer.stop()
    return (count - first) / elapsed


def settings_for(urls: dict[str, str], **overrides) -> ScoringSettings:
    return ScoringSettings(
        service_name=f"bench{uuid.uuid4().hex[:6]}",
        namespace="bench",
        log_level="WARNING",
        auth_secret=uuid.uuid4().hex * 2,
        kafka_bootstrap_servers=urls["KAFKA_BOOTSTRAP_SERVERS"],
        mongodb_uri=urls["MONGODB_URI"],
        **overrides,
    )


async def scoring(urls: dict[str, str], topic: str, count: int) -> dict[str, float]:
    """Events scored per second, from the first batch committed to the last (the group join is not
    counted), its snapshot writer in a process of its own as deployed; then how long the last
    snapshot took to settle after that."""
    service = bootstrap(settings_for(urls, topics=[topic], workers="elsewhere"))
    real_send = service.relay.send

    async def to_bench_topic(_topic, key, value, headers):
        return await real_send(f"{topic}.out", key, value, headers)

    service.relay.send = to_bench_topic
    writer = SnapshotWriter(service.store, Snapshots(), service.settings)  # to ask, not to run
    try:
        async with workers_apart("scoring", service.settings):
            started, first = await start_and_apply(service, topic, count)
            done = time.perf_counter()
            while not await writer.settled():
                await asyncio.sleep(0.2)
            settled = time.perf_counter()
        db = service.store.db
        return {
            "rate": (count - first) / (done - started),
            "settle_s": settled - done,
            "emitted": await db["outbox"].count_documents({}),
            "snapshots": (await Snapshots().latest(db)).version,
            "deals": await db[adapters.DEALS].count_documents({}),
        }
    finally:
        await service.stop()
        client: AsyncMongoClient = AsyncMongoClient(urls["MONGODB_URI"])
        await client.drop_database(service.store.db.name)
        await client.close()


async def rescore(urls: dict[str, str], customers: int, deals: int) -> dict[str, float]:
    """`customers` stored as scored with the empty model, `deals` waiting: the time to build the
    snapshot and re-score everyone it moves."""
    rng = random.Random(11)
    settings = settings_for(urls, snapshot_max_deals=max(deals, 1))
    client: AsyncMongoClient = AsyncMongoClient(urls["MONGODB_URI"], tz_aware=True)
    store = Store(client, settings.database_name)
    await adapters.create_indexes(store)
    try:
        seeded = time.perf_counter()
        empty, at = WinModel(), datetime(2026, 11, 1, tzinfo=UTC)
        docs, segments = [], []
        for n in range(customers):
            features = Features(
                industry=rng.choice(INDUSTRIES),
                region=rng.choice(REGIONS),
                size=rng.choice(["micro", "small", "medium", "large"]),
                nature="other",
                monthly_freight_volume_tons=rng.uniform(0, 2000),
                as_of=at,
            )
            segment = features.segment()
            segments.append(segment)
            docs.append(
                InsertOne(
                    {
                        "_id": f"bench-{n:06d}",
                        "features": features.model_dump(mode="json"),
                        "segment": segment,
                        "last": key_of(assess(features, empty, [], MODEL)),
                        "scored_with": 0,
                    }
                )
            )
        for start in range(0, len(docs), 10_000):
            await store.db[adapters.CUSTOMERS].bulk_write(docs[start : start + 10_000])
        waiting = []
        for n in range(deals):
            segment = rng.choice(segments)
            # Industries win at different rates, so that every value comes to count.
            won = rng.random() < 0.2 + 0.6 * INDUSTRIES.index(segment["industry"]) / len(INDUSTRIES)
            waiting.append(
                InsertOne(
                    {
                        "_id": f"deal-{n}",
                        "customer_id": "bench-000000",
                        "outcome": "won" if won else "lost",
                        "keys": keys_for(segment),
                        "pending": True,
                    }
                )
            )
        await store.db[adapters.DEALS].bulk_write(waiting)
        seeded = time.perf_counter() - seeded
        writer = SnapshotWriter(store, Snapshots(), settings)
        del docs, waiting, segments
        tune_collector()  # as the service does once started
        started = time.perf_counter()
        await writer.build()
        built = time.perf_counter()
        while await writer.step():
            pass
        done = time.perf_counter()
        assert await writer.settled()
        announced = await store.db["outbox"].count_documents({})
        # A snapshot that moves few customers: every one is checked, few are read in full.
        more = [
            InsertOne(
                {
                    "_id": f"deal-more-{n}",
                    "customer_id": "bench-000000",
                    "outcome": "won" if n % 2 else "lost",
                    "keys": keys_for(segment),
                    "pending": True,
                }
            )
            for n, segment in enumerate([{"industry": "mining"}] * 2)
        ]
        await store.db[adapters.DEALS].bulk_write(more)
        again = time.perf_counter()
        await writer.build()
        while await writer.step():
            pass
        checked = time.perf_counter()
        return {
            "seed_s": seeded,
            "build_s": built - started,
            "rescore_s": done - built,
            "announced": announced,
            "check_s": checked - again,
            "moved_again": await store.db["outbox"].count_documents({}) - announced,
        }
    finally:
        await client.drop_database(store.db.name)
        await client.close()


async def out_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(f"{topic}.out", 3, 1)])
    await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 000 events, 20 000 customers")
    parser.add_argument("--events", type=int)
    parser.add_argument("--customers", type=int)
    args = parser.parse_args()
    count = args.events or (20_000 if args.quick else 100_000)
    customers = args.customers or (20_000 if args.quick else 100_000)
    was_running = infra_running()
    urls = infra_urls()
    bootstrap_servers = urls["KAFKA_BOOTSTRAP_SERVERS"]
    try:
        topic = await new_topic(bootstrap_servers)
        await out_topic(bootstrap_servers, topic)
        publish_s = await publish(bootstrap_servers, topic, mixed_events(count))
        gc.collect()  # the events published are not kept: the service's heap is its own
        plain = await consume_and_decode(bootstrap_servers, topic, count)
        scored = await scoring(urls, topic, count)
        rescored = await rescore(urls, customers, deals=3000)
    finally:
        if not was_running:
            subprocess.run([*INFRA, "stop"], check=False)
    print(
        f"events: {count} mixed ({count // 20} customers; 75% follow-ups, 12% stage moves, "
        "8% financials, "
        f"5% deals), 3 partitions, one instance, 2 cores; published in {publish_s:.1f} s"
    )
    print(f"consume+decode (aiokafka, parse, commit per batch): {plain:9.0f} events/s")
    print(
        f"scored (parse, features, model, inbox, outbox, commit): {scored['rate']:9.0f} events/s "
        f"({scored['rate'] / plain:.1%} of consume+decode); {scored['emitted']} CustomerScored "
        f"emitted; {scored['deals']} deals in {scored['snapshots']} snapshots, the last settled "
        f"{scored['settle_s']:.1f} s after the last event"
    )
    print(
        f"re-scoring after a snapshot: {customers} customers, 3000 deals: snapshot built in "
        f"{rescored['build_s']:.2f} s, everyone it moves re-scored in "
        f"{rescored['rescore_s']:.1f} s "
        f"({customers / rescored['rescore_s']:.0f} customers/s; "
        f"{rescored['announced']} CustomerScored emitted); a next snapshot moving few: "
        f"{rescored['check_s']:.1f} s to check them all ({rescored['moved_again']} re-scored)"
    )


if __name__ == "__main__":
    asyncio.run(main())
