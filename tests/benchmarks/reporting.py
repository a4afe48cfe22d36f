"""Reporting under load, each figure next to a simple baseline in the same run.

    .venv/bin/python tests/benchmarks/reporting.py [--events 100000] [--customers 100000]

1. Projection: events applied per second to the read models from a topic of mixed events, against
   one plain MongoDB update per event (no transaction, no inbox, no facts).
2. Freshness: publish-to-visible (applied in the read models the reports query) at a steady
   100 events/s, median and 99th percentile.
3. Report latency: the value and lifecycle reports over `--customers` customer profiles, against a
   plain count of the same collection.
"""

import argparse
import asyncio
import random
import statistics
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from crm_contracts import VisitLogged, VisitLoggedPayload
from crm_reporting import adapters
from crm_reporting.handlers import EVENT_HANDLERS
from crm_reporting.reports import router as reports
from crm_runtime.auth import Principal, Role, issue_token
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from pipeline import INFRA, NOT_ACCESS, infra_running, infra_urls, new_topic
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


async def projection(urls: dict[str, str], count: int) -> tuple[float, float]:
    topic = await new_topic(urls["KAFKA_BOOTSTRAP_SERVERS"])
    events = mixed_events(count, seed=11)
    await publish(urls["KAFKA_BOOTSTRAP_SERVERS"], topic, events)
    service = reporting_service(urls, topic)
    projected = sum(
        1 for event in events if type(event) in EVENT_HANDLERS
    )  # the others are read and ignored
    started = time.perf_counter()
    await service.start()
    inbox = service.store.db["processed_events"]
    while await inbox.count_documents(NOT_ACCESS) < projected:
        await asyncio.sleep(1)
    rate = count / (time.perf_counter() - started)
    await service.stop()

    client = AsyncMongoClient(urls["MONGODB_URI"])
    plain = client["bench_plain"]["counts"]
    await plain.drop()
    started = time.perf_counter()
    for event in events:  # the baseline: one update per event, nothing else
        await plain.update_one({"_id": event.customer_id}, {"$inc": {"events": 1}}, upsert=True)
    baseline = count / (time.perf_counter() - started)
    await client.close()
    return rate, baseline


async def freshness(urls: dict[str, str], seconds: int = 30, per_second: int = 100) -> list[float]:
    from aiokafka import AIOKafkaProducer

    topic = await new_topic(urls["KAFKA_BOOTSTRAP_SERVERS"])
    service = reporting_service(urls, topic)
    await service.start()
    await asyncio.sleep(3)  # the group settles: joining is not measured
    producer = AIOKafkaProducer(bootstrap_servers=urls["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    await producer.start()
    published: dict[str, float] = {}
    started = time.time()
    for n in range(seconds * per_second):
        await asyncio.sleep(max(0.0, started + n / per_second - time.time()))
        at = datetime.now(UTC)
        event = VisitLogged(
            producer="bench",
            customer_id=f"fresh-{n % 500}",
            payload=VisitLoggedPayload(
                followup_id=str(uuid.uuid4()),
                salesperson_id="sp",
                channel="call",
                subject="s",
                started_at=at,
                ended_at=at + timedelta(minutes=1),
            ),
        )
        await producer.send(topic, event.to_bytes(), key=event.key())
        published[str(event.event_id)] = time.time()
    await producer.stop()
    inbox = service.store.db["processed_events"]
    while await inbox.count_documents(NOT_ACCESS) < len(published):
        await asyncio.sleep(0.5)
    applied = await inbox.find(NOT_ACCESS, {"applied_at": 1}).to_list()
    await service.stop()
    return [(doc["applied_at"].timestamp() - published[doc["_id"]]) * 1000 for doc in applied]


async def report_latency(
    urls: dict[str, str], customers: int, requests: int = 40
) -> dict[str, float]:
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    was_running = infra_running()
    urls = infra_urls()
    try:
        rate, baseline = await projection(urls, args.events)
        fresh = await freshness(urls)
        latency = await report_latency(urls, args.customers)
    finally:
        if not was_running:
            subprocess.run([*INFRA, "stop"], check=False)
    print(f"projection of {args.events} mixed events, one instance, 2 cores:")
    print(f"  read models (transaction, inbox, customer 360, facts): {rate:8.0f} events/s")
    print(f"  baseline, one plain MongoDB update per event:          {baseline:8.0f} events/s")
    print(
        f"freshness at a steady 100 events/s, publish to applied: "
        f"p50 {percentile(fresh, 50):.0f} ms, "
        f"p99 {percentile(fresh, 99):.0f} ms ({len(fresh)} events)"
    )
    print(f"report latency, p50 and p99 over 40 requests, {args.customers} customers:")
    for name, (p50, p99) in latency.items():
        print(f"  {name:<15} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
