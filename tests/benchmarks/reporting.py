"""Reporting under load, each figure next to a simple baseline in the same run.

    make bench-reporting      (or: cd tests/benchmarks && ../../.venv/bin/python reporting.py)
    ... reporting.py --quick  (10,000 events, 10 s of freshness, 10,000 customers)
    ... reporting.py --size 1m --reports-only   (report latency at a million customers)

1. Projection: a topic of mixed events (published first) applied to the read models (customer
   360, timeline, facts; one transaction per partition batch, with the inbox), events per second
   from the first commit to the last (the group join is not counted), against the baseline: one
   plain MongoDB update per event, one round trip each (no transaction, no inbox, no facts).
2. Freshness: publish to visible, at a steady 1,000 events/s for 60 s from another process.
   Visible: the event's inbox entry, committed in the same transaction as its effects on the
   read models, seen by a change stream; counted: its batch's note to count deleted by the
   upkeep that counted it for the reports. Median and 99th percentile.
3. Report latency: every report, with its defaults and with a region filter, and the customer
   360, over read models of `--size` (100,000 customers and 300,000 facts; 1m: 1,000,000 and
   3,000,000), inserted in bulk (read_models.py) and counted at once (at_once.py); against a
   plain indexed count (follow-ups of the last 30 days). 50 requests each (after 3 not timed),
   fewer where they take over 30 s in all.
Each runs the service as deployed: its counting upkeep in a process of its own (CRM_WORKERS=only).
"""

import argparse
import asyncio
import dataclasses
import gc
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import read_models
from crm_reporting import adapters, at_once, counters
from crm_reporting.bootstrap import spec
from crm_runtime.auth import Principal, Role, issue_token
from crm_runtime.service import Service
from crm_runtime.settings import ServiceSettings
from crm_runtime.store import INBOX
from pipeline import (
    INFRA,
    infra_running,
    infra_urls,
    new_topic,
    start_and_apply,
    workers_apart,
)
from pymongo import AsyncMongoClient
from scoring import mixed_events, publish

SECRET = uuid.uuid4().hex


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1]


def reporting_service(urls: dict[str, str], topic: str) -> Service:
    """The service's own parts (handlers, reports, start-up), on the bench's topic; its counting
    upkeep runs elsewhere (`workers_apart`)."""
    settings = ServiceSettings(
        service_name=f"bench{uuid.uuid4().hex[:6]}",
        namespace="bench",
        log_level="WARNING",
        auth_secret=SECRET,
        kafka_bootstrap_servers=urls["KAFKA_BOOTSTRAP_SERVERS"],
        mongodb_uri=urls["MONGODB_URI"],
        workers="elsewhere",
    )
    return Service(dataclasses.replace(spec(), subscribes_to=[topic]), settings)


async def projection(urls: dict[str, str], count: int) -> tuple[float, float, float, int]:
    topic = await new_topic(urls["KAFKA_BOOTSTRAP_SERVERS"])
    events = mixed_events(count, seed=11)
    await publish(urls["KAFKA_BOOTSTRAP_SERVERS"], topic, events)
    # What the baseline needs, and no more: a service process does not hold the whole history,
    # whose objects every full garbage collection would walk.
    customer_ids = [event.customer_id for event in events]
    del events
    gc.collect()
    service = reporting_service(urls, topic)
    async with workers_apart("reporting", service.settings):
        started, first = await start_and_apply(service, topic, count)
        rate = (count - first) / (time.perf_counter() - started)
        while await counters.pending(service.store):  # and the reports' counters show them all
            await asyncio.sleep(0.05)
        counted = (count - first) / (time.perf_counter() - started)
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
    return rate, counted, baseline, profiles


async def _publish_steadily(
    bootstrap: str, topic: str, seconds: int, per_second: int
) -> tuple[dict[str, float], float]:
    """Mixed events at a steady pace: when each was sent, by id, and how long it took."""
    from aiokafka import AIOKafkaProducer

    events = mixed_events(seconds * per_second, seed=5)
    records = [(str(e.event_id), e.to_bytes(), e.key()) for e in events]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    sent: dict[str, float] = {}
    started, n = time.time(), 0
    while n < len(records):  # what is due, every 5 ms: not a sleep per event, which cost
        due = min(len(records), int((time.time() - started) * per_second) + 1)
        for event_id, value, key in records[n:due]:  # the bench's two cores a third of one
            sent[event_id] = time.time()
            await producer.send(topic, value, key=key)
        n = due
        await asyncio.sleep(0.005)
    await producer.flush()
    took = time.time() - started
    await producer.stop()
    return sent, took


async def publish_and_watch(args: argparse.Namespace) -> dict[str, Any]:
    """Run in a process of its own, so that watching costs the service's event loop nothing:
    publishes, and watches the service's database for each event's inbox entry (visible; in the
    transaction of its effects on the read models) and for its batch's note to count (inserted
    in the same transaction, so at the same cluster time) deleted by the upkeep that counted it
    (counted). Latencies in ms, and the pace the events were published at."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(args.mongodb, tz_aware=True)
    db = client[args.database]
    seen: dict[str, float] = {}
    batch_of: dict[str, Any] = {}  # event id: its transaction's cluster time
    note_at: dict[Any, Any] = {}  # cluster time: the note inserted then
    counted_at: dict[Any, float] = {}  # note: when it was deleted
    kinds = {"$match": {"operationType": {"$in": ["insert", "delete"]}}}
    shown = {"$project": {"documentKey": 1, "clusterTime": 1, "operationType": 1, "ns": 1}}
    stream = await db.watch([kinds, shown])

    async def watch() -> None:
        async for change in stream:
            key, kind = change["documentKey"]["_id"], change["operationType"]
            if change["ns"]["coll"] == INBOX and kind == "insert":
                seen[key], batch_of[key] = time.time(), change["clusterTime"]
            elif change["ns"]["coll"] == adapters.TO_COUNT:
                if kind == "insert":
                    note_at[change["clusterTime"]] = key
                else:
                    counted_at[key] = time.time()

    watching = asyncio.create_task(watch())
    sent, took = await _publish_steadily(
        args.bootstrap, args.publish_to, args.seconds, args.per_second
    )
    deadline = time.time() + 120
    while time.time() < deadline and (
        any(event_id not in seen for event_id in sent)
        or await db[adapters.TO_COUNT].count_documents({})
    ):
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # the last deletions reach the stream
    watching.cancel()
    await stream.close()
    await client.close()
    visible = [(seen[event_id] - at) * 1000 for event_id, at in sent.items() if event_id in seen]
    counted = [
        (counted_at.get(note_at.get(batch_of[event_id]), seen[event_id]) - at) * 1000
        for event_id, at in sent.items()
        if event_id in seen
    ]
    missing = len(sent) - len(visible)
    return {"visible": visible, "counted": counted, "pace": len(sent) / took, "missing": missing}


async def freshness(
    urls: dict[str, str], seconds: int, per_second: int
) -> tuple[list[float], list[float], float]:
    """Latencies in ms, to visible and to counted (publish_and_watch), and the rate the events
    were published at."""
    bootstrap = urls["KAFKA_BOOTSTRAP_SERVERS"]
    topic = await new_topic(bootstrap)
    service = reporting_service(urls, topic)
    async with workers_apart("reporting", service.settings):
        await service.start()
        await asyncio.sleep(3)  # the group settles: joining is not measured
        publisher = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            *("--publish-to", topic, "--bootstrap", bootstrap),
            *("--mongodb", urls["MONGODB_URI"], "--database", service.settings.database_name),
            *("--seconds", str(seconds), "--per-second", str(per_second)),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await publisher.communicate()
        await service.stop()
    client = AsyncMongoClient(urls["MONGODB_URI"])
    await client.drop_database(service.settings.database_name)
    await client.close()
    watched = json.loads(out)
    assert not watched["missing"], f"{watched['missing']} events never became visible"
    return watched["visible"], watched["counted"], watched["pace"]


SIZES = {"quick": (10_000, 30_000), "default": (100_000, 300_000), "1m": (1_000_000, 3_000_000)}
REPORTS = [
    ("scorecard", "/reports/scorecard", {}),
    ("funnel", "/reports/funnel", {}),
    ("value", "/reports/value", {}),
    ("lifecycle", "/reports/lifecycle", {}),
    ("forecast", "/reports/forecast", {}),
    ("period forecast", "/reports/forecast/period", {"period": f"{datetime.now(UTC).year}"}),
    (
        "period forecast by mode",
        "/reports/forecast/period",
        {"period": f"{datetime.now(UTC).year}", "by": "mode"},
    ),
    (  # every salesperson's modes: 2,000 rows, an export rather than a page
        "period forecast by mode per salesperson",
        "/reports/forecast/period",
        {"period": f"{datetime.now(UTC).year}", "by": "mode", "group": "salesperson"},
    ),
    (
        "period forecast by origin, one salesperson",
        "/reports/forecast/period",
        {"period": f"{datetime.now(UTC).year}", "by": "origin", "salesperson_id": "sp-1"},
    ),
]


WARM_UP = 3


async def _timed(call: Any, requests: int, budget_s: float) -> list[float]:
    """Milliseconds of each call: `requests` of them, fewer where they take longer than
    `budget_s` in all (at least 3), after WARM_UP calls not timed (the first after the bulk load
    find MongoDB's cache full of what it wrote, not of what they read)."""
    for _ in range(WARM_UP):
        await call()
    timings: list[float] = []
    started = time.perf_counter()
    while len(timings) < requests and (
        len(timings) < 3 or time.perf_counter() - started < budget_s
    ):
        began = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - began) * 1000)
    return timings


async def report_latency(
    urls: dict[str, str], customers: int, facts: int, days: int, requests: int = 50
) -> dict[str, list[float]]:
    """Each report with its defaults and with a region filter, the customer 360, and a plain
    indexed count (follow-ups in the last 30 days), over read models of the given size."""
    client = AsyncMongoClient(urls["MONGODB_URI"], tz_aware=True)
    service = reporting_service(urls, await new_topic(urls["KAFKA_BOOTSTRAP_SERVERS"]))
    db = service.store.db
    started = time.perf_counter()
    counts = await read_models.fill(db, customers, facts, days=days)
    print(f"  generated {counts} in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    await adapters.create_indexes(service.store)
    print(f"  indexes built in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    units = await at_once.count_at_once(service.store)  # as a rebuild counts its fresh database
    print(f"  {units} accounts and facts counted at once in {time.perf_counter() - started:.0f} s")
    await service.start()  # nothing left to count: every account counted
    token = issue_token(Principal("bench", Role.MANAGER), SECRET, 3600)
    timings: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=service.http)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://r",
        headers={"Authorization": f"Bearer {token}"},
        timeout=600,
    ) as http:

        def asking(path: str, params: dict[str, Any]) -> Any:
            async def call() -> None:
                answer = await http.get(path, params=params)
                assert answer.status_code == 200, answer.text

            return call

        rng = random.Random(3)

        async def one_customer() -> None:
            await asking(f"/customers/c-{rng.randrange(customers)}", {})()

        month_ago = datetime.now(UTC) - timedelta(days=30)

        async def plain_count() -> None:
            await db[adapters.FOLLOWUPS].count_documents({"at": {"$gte": month_ago}})

        timings["baseline count"] = await _timed(plain_count, requests, 30)
        for name, path, params in REPORTS:
            timings[name] = await _timed(asking(path, params), requests, 30)
            if "by" in params:  # per service line, the forecast has no region filter
                continue
            region = {**params, "region": read_models.REGIONS[0]}
            timings[f"{name} (region)"] = await _timed(asking(path, region), requests, 30)
        timings["customer 360"] = await _timed(one_customer, requests, 30)
    await service.stop()
    await client.drop_database(service.settings.database_name)
    await client.close()
    return timings


async def main(args: argparse.Namespace) -> None:
    events = args.events or (10_000 if args.quick else 100_000)
    customers, facts = SIZES[args.size or ("quick" if args.quick else "default")]
    seconds = args.seconds or (10 if args.quick else 60)
    was_running = infra_running()
    urls = infra_urls()
    try:
        if not args.reports_only:
            rate, counted, baseline, profiles = await projection(urls, events)
            print(f"projection of {events} mixed events ({profiles} customers), one instance:")
            print(f"  read models (batch transactions, inbox, 360, facts): {rate:8.0f} events/s")
            print(
                f"  ... and counted for the reports (counters.py):        {counted:8.0f} events/s"
            )
            print(
                f"  baseline, one plain MongoDB update per event:         {baseline:8.0f} events/s"
            )
            print(f"  ratio: {rate / baseline:.1f}x applied, {counted / baseline:.1f}x counted")
            latencies, counted_latencies, pace = await freshness(urls, seconds, args.per_second)
            print(f"freshness at {pace:.0f} events/s for {seconds} s ({len(latencies)} events):")
            for name, values in (("visible", latencies), ("counted", counted_latencies)):
                print(
                    f"  publish to {name}: p50 {percentile(values, 50):.0f} ms, "
                    f"p99 {percentile(values, 99):.0f} ms, max {max(values):.0f} ms"
                )
        print(f"report latency, {customers} customers and {facts} facts over {args.days} days:")
        for name, values in (await report_latency(urls, customers, facts, args.days)).items():
            print(
                f"  {name:<20} p50 {percentile(values, 50):8.1f} ms   "
                f"p99 {percentile(values, 99):8.1f} ms   ({len(values)} requests)"
            )
    finally:
        if not was_running:
            subprocess.run([*INFRA, "stop"], check=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about a minute")
    parser.add_argument("--events", type=int, help="projection: 100,000 (quick: 10,000)")
    parser.add_argument(
        "--size",
        choices=list(SIZES),
        help="report latency: customers and facts; default 100,000 and 300,000, "
        "1m: 1,000,000 and 3,000,000 (quick: 10,000 and 30,000)",
    )
    parser.add_argument("--reports-only", action="store_true", help="report latency only")
    parser.add_argument(
        "--days",
        type=int,
        default=read_models.DAYS,
        help="report latency: the history's span (default two years); 100,000 customers over "
        "73 days have a day's and an hour's facts, and a period's cross-selling accounts, of "
        "1,000,000 over two years",
    )
    parser.add_argument("--seconds", type=int, help="freshness: 60 (quick: 10)")
    parser.add_argument("--per-second", type=int, default=1000, help="freshness pace")
    parser.add_argument("--publish-to", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--mongodb", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish_to:
        print(json.dumps(asyncio.run(publish_and_watch(args))))
    else:
        asyncio.run(main(args))
