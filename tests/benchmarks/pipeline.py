"""Throughput and latency of the event pipeline on the real local Kafka and mongod.

    make bench            (or: .venv/bin/python tests/benchmarks/pipeline.py [--quick] [--events N])

Three figures, measured in one run on the same broker and database:
- baseline: raw aiokafka, produce N records then consume them, no database: the ceiling;
- consume: the runtime's consumer (parse; per partition batch one MongoDB transaction with the
  inbox entries and the effects; offset commit after the batch): events/s and end-to-end latency
  from publish to durable (measured when the batch's transaction has committed);
- outbox: N state changes committed with their events, then the relay publishing them to Kafka.
"""

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from crm_contracts import CustomerCreated, CustomerCreatedPayload
from crm_runtime.outbox import OutboxRelay
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from crm_runtime.store import Store
from pymongo import AsyncMongoClient, InsertOne

ROOT = Path(__file__).resolve().parents[2]


INFRA = [sys.executable, str(ROOT / "deploy/local/infra.py")]


# Every service also reads users' access changes (crm.user.events): the benches count their own.
NOT_ACCESS = {"event_type": {"$ne": "UserAccessChanged"}}


def infra_running() -> bool:
    return "running" in subprocess.run([*INFRA, "status"], capture_output=True, text=True).stdout


def infra_urls() -> dict[str, str]:
    started = subprocess.run([*INFRA, "start"], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)


def applied(service: Service, topic: str) -> int:
    """Records of `topic` the service has applied and committed."""
    value = service.metrics.registry.get_sample_value(
        "crm_events_total", {"topic": topic, "outcome": "applied"}
    )
    return int(value or 0)


async def start_and_apply(service: Service, topic: str, count: int) -> tuple[float, int]:
    """Starts the service and waits until it has applied `count` records of `topic`; returns
    when its first batch was committed and how many records that batch held (the group join
    is not timed)."""
    await service.start()
    while not (first := applied(service, topic)):
        await asyncio.sleep(0.02)
    started = time.perf_counter()
    while applied(service, topic) < count:
        await asyncio.sleep(0.02)
    return started, first


@contextlib.asynccontextmanager
async def workers_apart(package: str, settings: ServiceSettings) -> AsyncIterator[None]:
    """The background workers of the service `settings` name, in a process of their own as
    deployed (python -m crm_<package>, CRM_WORKERS=only), once it serves; stopped by its PID."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = settings.auth_secret.get_secret_value() if settings.auth_secret else uuid.uuid4().hex
    env = {
        **os.environ,
        "MONGODB_URI": settings.mongodb_uri.get_secret_value(),
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "CRM_SERVICE_NAME": settings.service_name,
        "CRM_NAMESPACE": settings.namespace,
        "CRM_WORKERS": "only",
        "CRM_HTTP_PORT": str(port),
        "CRM_LOG_LEVEL": "WARNING",
        "CRM_AUTH_SECRET": secret,
    }
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", f"crm_{package}", env=env)
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 60
            while process.returncode is None and time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"{package}'s workers did not come up within 60 s")
        yield
    finally:
        process.terminate()
        await process.wait()


async def new_topic(bootstrap: str, partitions: int = 3) -> str:
    name = f"bench.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics(
        [NewTopic(name, partitions, 1), NewTopic(f"{name}.dlt", partitions, 1)]
    )
    await admin.close()
    return name


def events(count: int) -> list[CustomerCreated]:
    return [
        CustomerCreated(
            producer="bench",
            customer_id=f"c-{i % 500}",
            payload=CustomerCreatedPayload(name=f"Bench {i}", monthly_freight_volume_tons=i),
        )
        for i in range(count)
    ]


async def baseline(bootstrap: str, count: int) -> float:
    topic = await new_topic(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    started = time.perf_counter()
    await asyncio.gather(
        *[await producer.send(topic, e.to_bytes(), key=e.key()) for e in events(count)]
    )
    seen = 0
    while seen < count:
        batches = await consumer.getmany(timeout_ms=1000)
        seen += sum(len(records) for records in batches.values())
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await producer.stop()
    return count / elapsed


async def consume(
    urls: dict[str, str], count: int, pace_per_s: float | None = None
) -> tuple[float, list[float]]:
    """All at once (pace None): throughput, latency includes queueing. Paced: latency at that
    load."""
    topic = await new_topic(urls["KAFKA_BOOTSTRAP_SERVERS"])
    latencies: list[float] = []
    done = asyncio.Event()

    async def apply(event, uow):
        uow.write("effects", InsertOne({"_id": str(event.event_id)}))

    settings = ServiceSettings(
        service_name=f"bench{topic[-8:]}",
        namespace="bench",
        log_level="WARNING",
        auth_secret=uuid.uuid4().hex,
        kafka_bootstrap_servers=urls["KAFKA_BOOTSTRAP_SERVERS"],
        mongodb_uri=urls["MONGODB_URI"],
    )
    service = Service(
        ServiceSpec(title="bench", subscribes_to=[topic], handlers={CustomerCreated: [apply]}),
        settings,
    )
    applying = service.consumer.process

    async def durable(records):
        """A partition's batch, timed once its transaction has committed."""
        outcomes = await applying(records)
        now = datetime.now(UTC)
        for record in records:
            if record.topic != topic:
                continue  # the service also follows crm.user.events, with events of other runs
            occurred_at = datetime.fromisoformat(json.loads(record.value)["occurred_at"])
            latencies.append((now - occurred_at).total_seconds() * 1000)
        if len(latencies) >= count:
            done.set()
        return outcomes

    service.consumer.process = durable  # type: ignore[method-assign]
    await service.start()
    await asyncio.sleep(3)  # let the group settle, so joining is not measured
    producer = AIOKafkaProducer(bootstrap_servers=urls["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    await producer.start()
    started = time.perf_counter()
    for i, event in enumerate(events(count)):
        if pace_per_s:
            await asyncio.sleep(max(0.0, started + i / pace_per_s - time.perf_counter()))
        await producer.send(
            topic,
            event.model_copy(update={"occurred_at": datetime.now(UTC)}).to_bytes(),
            key=event.key(),
        )
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.perf_counter() - started
    await producer.stop()
    await service.client.drop_database(service.store.db.name)  # a bench keeps no data
    await service.stop()
    return count / elapsed, latencies


async def outbox(urls: dict[str, str], count: int) -> tuple[float, float]:
    """The relay sends to a topic of its own, so the contract topics get no benchmark traffic."""
    topic = await new_topic(urls["KAFKA_BOOTSTRAP_SERVERS"])
    client = AsyncMongoClient(urls["MONGODB_URI"], tz_aware=True)
    store = Store(client, f"bench_outbox_{topic[-8:]}")
    await store.ensure_indexes()
    producer = AIOKafkaProducer(
        bootstrap_servers=urls["KAFKA_BOOTSTRAP_SERVERS"], acks="all", enable_idempotence=True
    )
    await producer.start()

    async def send(_topic, key, value, headers):
        return await producer.send(topic, value, key=key)

    relay = OutboxRelay(store, send, poll_interval_s=0.05)
    relaying = asyncio.create_task(relay.run_forever())
    started = time.perf_counter()
    for event in events(count):

        async def work(uow, event=event):
            await uow.db["state"].insert_one({"_id": str(event.event_id)}, session=uow.session)
            uow.emit(event)

        await store.run(work)
    committed = time.perf_counter() - started
    while await store.db["outbox"].count_documents({"sent": False}):
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    relaying.cancel()
    await producer.stop()
    await client.drop_database(store.db.name)
    await client.close()
    return count / committed, count / elapsed


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2,000 events instead of 20,000")
    parser.add_argument("--events", type=int)
    args = parser.parse_args()
    count = args.events or (2_000 if args.quick else 20_000)
    was_running = infra_running()
    urls = infra_urls()
    try:
        await baseline(urls["KAFKA_BOOTSTRAP_SERVERS"], 2_000)  # warms a freshly started broker
        base = await baseline(urls["KAFKA_BOOTSTRAP_SERVERS"], count)
        rate, burst_latencies = await consume(urls, count)
        _, latencies = await consume(urls, 500, pace_per_s=100)
        commit_rate, relay_rate = await outbox(urls, count)
    finally:
        if not was_running:
            subprocess.run([*INFRA, "stop"], check=False)
    print(f"events: {count} (3 partitions, 500 customer keys), 1 consumer instance, 2 cores")
    print(f"baseline  raw aiokafka produce+consume, no database : {base:9.0f} events/s")
    print(
        f"consume   parse + batch transaction + inbox + commit: {rate:9.0f} events/s "
        f"({rate / base:.1%} of baseline)"
    )
    for label, values in (("all at once", burst_latencies), ("at 100/s", latencies)):
        print(
            f"          latency publish -> applied, {label:<11}: "
            f"p50 {percentile(values, 50):7.1f} ms  "
            f"p95 {percentile(values, 95):7.1f} ms  p99 {percentile(values, 99):7.1f} ms  "
            f"max {max(values):7.1f} ms"
        )
    print(f"outbox    state + event commits                     : {commit_rate:9.0f} commits/s")
    print(f"          commit then relay to Kafka, end to end    : {relay_rate:9.0f} events/s")


if __name__ == "__main__":
    asyncio.run(main())
