"""Reporting under load, each figure next to a simple baseline in the same run.

    make bench-reporting      (or: cd tests/benchmarks && ../../.venv/bin/python reporting.py)
    ... reporting.py --quick  (10,000 events, 10 s of freshness, 10,000 customers)

1. Projection: a topic of mixed events (published first) applied to the read models (customer
   360, timeline, facts; one transaction per partition batch, with the inbox), events per second
   from the first commit to the last (the group join is not counted), against the baseline: one
   plain MongoDB update per event, one round trip each (no transaction, no inbox, no facts).
2. Freshness: publish to visible, at a steady 1,000 events/s for 60 s from another process.
   Visible: the event's inbox entry, committed in the same transaction as its effects on the
   read models, seen by a change stream. Median and 99th percentile.
3. Report latency: the value and lifecycle reports over `--customers` customer profiles, against a
   plain count of the same collection.
"""

import argparse
import asyncio
import gc
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from crm_reporting import adapters
from crm_reporting.handlers import EVENT_HANDLERS
from crm_reporting.reports import router as reports
from crm_runtime.auth import Principal, Role, issue_token
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from crm_runtime.store import INBOX
from pipeline import INFRA, infra_running, infra_urls, new_topic
from pymongo import AsyncMongoClient
from scoring import mixed_events, publish

SECRET = uuid.uuid4().hex


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1]


def reporting_service(urls: dict[str, str], topic: str) -> Service:
    settings = ServiceSettings(
        service_name=f"bench{uuid.uuid4().hex[:6]}",
        namespace="bench",
        log_level="WARNING",
        auth_secret=SECRET,
        kafka_bootstrap_servers=urls["KAFKA_BOOTSTRAP_SERVERS"],
        mongodb_uri=urls["MONGODB_URI"],
    )
    return Service(
        ServiceSpec(
            title="bench",
            subscribes_to=[topic],
            handlers=EVENT_HANDLERS,
            routers=[reports],
            create_indexes=adapters.create_indexes,
        ),
        settings,
    )


def applied(service: Service, topic: str) -> int:
    """Records of `topic` the service has applied and committed."""
    value = service.metrics.registry.get_sample_value(
        "crm_events_total", {"topic": topic, "outcome": "applied"}
    )
    return int(value or 0)


async def projection(urls: dict[str, str], count: int) -> tuple[float, float, int]:
    topic = await new_topic(urls["KAFKA_BOOTSTRAP_SERVERS"])
    events = mixed_events(count, seed=11)
    await publish(urls["KAFKA_BOOTSTRAP_SERVERS"], topic, events)
    # What the baseline needs, and no more: a service process does not hold the whole history,
    # whose objects every full garbage collection would walk.
    customer_ids = [event.customer_id for event in events]
    del events
    gc.collect()
    service = reporting_service(urls, topic)
    await service.start()
    while not (first := applied(service, topic)):
        await asyncio.sleep(0.02)
    started = time.perf_counter()
    while applied(service, topic) < count:
        await asyncio.sleep(0.02)
    rate = (count - first) / (time.perf_counter() - started)
    profiles = await service.store.db[adapters.PROFILES].estimated_document_count()
    await service.stop()
    client = AsyncMongoClient(urls["MONGODB_URI"])
    await client.drop_database(service.settings.database_name)

    plain = client["bench_plain"]["counts"]
    await plain.drop()
    started = time.perf_counter()
    for customer_id in customer_ids:  # the baseline: one update per event, one round trip each
        await plain.update_one({"_id": customer_id}, {"$inc": {"events": 1}}, upsert=True)
    baseline = count / (time.perf_counter() - started)
    await client.drop_database("bench_plain")
    await client.close()
    return rate, baseline, profiles


def publish_steadily(bootstrap: str, topic: str, seconds: int, per_second: int) -> None:
    """Run in a process of its own: mixed events at a steady pace; prints each event's id and
    when it was sent, as JSON."""
    from aiokafka import AIOKafkaProducer

    async def run() -> dict[str, float]:
        events = mixed_events(seconds * per_second, seed=5)
        records = [(str(e.event_id), e.to_bytes(), e.key()) for e in events]
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        sent: dict[str, float] = {}
        started = time.time()
        for n, (event_id, value, key) in enumerate(records):
            if (ahead := started + n / per_second - time.time()) > 0:
                await asyncio.sleep(ahead)
            sent[event_id] = time.time()
            await producer.send(topic, value, key=key)
        await producer.flush()
        sent["took"] = time.time() - started
        await producer.stop()
        return sent

    print(json.dumps(asyncio.run(run())))


async def freshness(
    urls: dict[str, str], seconds: int, per_second: int
) -> tuple[list[float], float]:
    """Latencies in ms, and the rate the events were published at."""
    bootstrap = urls["KAFKA_BOOTSTRAP_SERVERS"]
    topic = await new_topic(bootstrap)
    service = reporting_service(urls, topic)
    await service.start()
    await asyncio.sleep(3)  # the group settles: joining is not measured
    seen: dict[str, float] = {}
    inserts = [{"$match": {"operationType": "insert"}}, {"$project": {"documentKey": 1}}]
    stream = await service.store.db[INBOX].watch(inserts)

    async def watch() -> None:
        async for change in stream:
            seen[change["documentKey"]["_id"]] = time.time()

    watching = asyncio.create_task(watch())
    publisher = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--publish-to",
        topic,
        "--bootstrap",
        bootstrap,
        "--seconds",
        str(seconds),
        "--per-second",
        str(per_second),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await publisher.communicate()
    sent: dict[str, float] = json.loads(out)
    took = sent.pop("took")
    deadline = time.time() + 120
    while any(event_id not in seen for event_id in sent) and time.time() < deadline:
        await asyncio.sleep(0.2)
    watching.cancel()
    await stream.close()
    await service.stop()
    client = AsyncMongoClient(urls["MONGODB_URI"])
    await client.drop_database(service.settings.database_name)
    await client.close()
    missing = [event_id for event_id in sent if event_id not in seen]
    assert not missing, f"{len(missing)} events never became visible"
    return [(seen[event_id] - at) * 1000 for event_id, at in sent.items()], len(sent) / took


async def report_latency(
    urls: dict[str, str], customers: int, requests: int = 40
) -> dict[str, tuple[float, float]]:
    client = AsyncMongoClient(urls["MONGODB_URI"], tz_aware=True)
    service = reporting_service(urls, await new_topic(urls["KAFKA_BOOTSTRAP_SERVERS"]))
    profiles = service.store.db[adapters.PROFILES]
    rng = random.Random(5)
    now = datetime.now(UTC)
    batch = []
    for n in range(customers):
        batch.append(
            {
                "_id": f"c-{n}",
                "owner_id": f"sp-{n % 50}",
                "status": "active",
                "created_at": now - timedelta(days=rng.randrange(720)),
                "last_followup_at": now - timedelta(days=rng.randrange(200)),
                "segment": {
                    "tier": rng.choice("ABCD"),
                    "region": rng.choice(["east", "west", "north"]),
                    "industry": rng.choice(["retail", "mining", "cold chain"]),
                    "band": rng.choice(["under 50t", "50-200t", "200-500t"]),
                    "monthly_freight_volume_tons": rng.uniform(0, 500),
                },
            }
        )
        if len(batch) == 5000:
            await profiles.insert_many(batch)
            batch = []
    if batch:
        await profiles.insert_many(batch)
    await service.start()
    token = issue_token(Principal("bench", Role.MANAGER), SECRET, 600)
    timings: dict[str, list[float]] = {"value": [], "lifecycle": [], "baseline count": []}
    transport = httpx.ASGITransport(app=service.http)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://r", headers={"Authorization": f"Bearer {token}"}
    ) as http:
        for _ in range(requests):
            for name, path, params in (
                ("value", "/reports/value", {"by": ["tier", "region", "industry", "band"]}),
                ("lifecycle", "/reports/lifecycle", {}),
            ):
                started = time.perf_counter()
                answer = await http.get(path, params=params)
                assert answer.status_code == 200, answer.text
                timings[name].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await profiles.count_documents({"status": "active"})
            timings["baseline count"].append((time.perf_counter() - started) * 1000)
    await service.stop()
    await client.drop_database(service.settings.database_name)
    await client.close()
    return {
        name: (percentile(values, 50), percentile(values, 99)) for name, values in timings.items()
    }


async def main(args: argparse.Namespace) -> None:
    events = args.events or (10_000 if args.quick else 100_000)
    customers = args.customers or (10_000 if args.quick else 100_000)
    seconds = args.seconds or (10 if args.quick else 60)
    was_running = infra_running()
    urls = infra_urls()
    try:
        rate, baseline, profiles = await projection(urls, events)
        print(f"projection of {events} mixed events ({profiles} customers), one instance, 2 cores:")
        print(f"  read models (batch transactions, inbox, 360, facts): {rate:8.0f} events/s")
        print(f"  baseline, one plain MongoDB update per event:         {baseline:8.0f} events/s")
        print(f"  ratio: {rate / baseline:.1f}x")
        latencies, pace = await freshness(urls, seconds, args.per_second)
        print(
            f"freshness, publish to visible, {pace:.0f} events/s for {seconds} s: "
            f"p50 {percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms, "
            f"max {max(latencies):.0f} ms ({len(latencies)} events)"
        )
        latency = await report_latency(urls, customers)
        print(f"report latency, p50 and p99 over 40 requests, {customers} customers:")
        for name, (p50, p99) in latency.items():
            print(f"  {name:<15} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
    finally:
        if not was_running:
            subprocess.run([*INFRA, "stop"], check=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about a minute")
    parser.add_argument("--events", type=int, help="projection: 100,000 (quick: 10,000)")
    parser.add_argument("--customers", type=int, help="report latency: 100,000 (quick: 10,000)")
    parser.add_argument("--seconds", type=int, help="freshness: 60 (quick: 10)")
    parser.add_argument("--per-second", type=int, default=1000, help="freshness pace")
    parser.add_argument("--publish-to", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish_to:
        publish_steadily(args.bootstrap, args.publish_to, args.seconds, args.per_second)
    else:
        asyncio.run(main(args))
