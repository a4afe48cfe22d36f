"""Events scored per second from a topic of mixed events, next to a plain consume-only loop on the
same topic in the same run (the ceiling: no parsing, no database).

    .venv/bin/python tests/benchmarks/scoring.py [--events 100000]

The scoring service runs as in production (batches, one MongoDB transaction per event with its inbox
marker, CustomerScored through the outbox) but on a topic of its own, and its relay sends to a
topic of its own, so the real topics get no benchmark traffic.
"""

import argparse
import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
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
)
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from crm_scoring.handlers import EVENT_HANDLERS
from pipeline import INFRA, NOT_ACCESS, infra_running, infra_urls, new_topic

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


async def consume_only(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"plain-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    started, seen = time.perf_counter(), 0
    while seen < count:
        batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
        seen += sum(len(records) for records in batches.values())
        if batches:
            await consumer.commit()
    elapsed = time.perf_counter() - started
    await consumer.stop()
    return count / elapsed


async def scoring(urls: dict[str, str], topic: str, count: int) -> tuple[float, int]:
    settings = ServiceSettings(
        service_name=f"bench{uuid.uuid4().hex[:6]}",
        namespace="bench",
        log_level="WARNING",
        auth_secret=uuid.uuid4().hex,
        kafka_bootstrap_servers=urls["KAFKA_BOOTSTRAP_SERVERS"],
        mongodb_uri=urls["MONGODB_URI"],
    )
    service = Service(
        ServiceSpec(
            title="bench",
            subscribes_to=[topic],
            handlers=EVENT_HANDLERS,
            dependencies={"model_version": "value-v1"},
        ),
        settings,
    )
    real_send = service.relay.send

    async def to_bench_topic(_topic, key, value, headers):
        return await real_send(f"{topic}.out", key, value, headers)

    service.relay.send = to_bench_topic
    started = time.perf_counter()
    await service.start()
    inbox = service.store.db["processed_events"]
    while (done := await inbox.count_documents(NOT_ACCESS)) < count:
        await asyncio.sleep(1)
    elapsed = time.perf_counter() - started
    emitted = await service.store.db["outbox"].count_documents({})
    await service.stop()
    return done / elapsed, emitted


async def main() -> None:
    import subprocess

    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    count = parser.parse_args().events
    was_running = infra_running()
    urls = infra_urls()
    try:
        topic = await new_topic(urls["KAFKA_BOOTSTRAP_SERVERS"])
        events = mixed_events(count)
        publish_s = await publish(urls["KAFKA_BOOTSTRAP_SERVERS"], topic, events)
        plain = await consume_only(urls["KAFKA_BOOTSTRAP_SERVERS"], topic, count)
        rate, emitted = await scoring(urls, topic, count)
    finally:
        if not was_running:
            subprocess.run([*INFRA, "stop"], check=False)
    print(
        f"events: {count} mixed ({count // 20} customers; 75% follow-ups, 12% stage moves, "
        "8% financials, "
        f"5% deals), 3 partitions, one instance, 2 cores; published in {publish_s:.1f} s"
    )
    print(f"consume only (aiokafka, commit per batch) : {plain:9.0f} events/s")
    print(
        f"scored (parse, features, model, inbox, outbox, commit): {rate:9.0f} events/s "
        f"({rate / plain:.1%} of consume-only); {emitted} CustomerScored emitted"
    )


if __name__ == "__main__":
    asyncio.run(main())
