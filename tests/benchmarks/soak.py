"""A soak: the whole system under a steady load for a long while, watching memory and lag.

    make soak   (or: .venv/bin/python tests/benchmarks/soak.py [--minutes 30] [--rate 40]
                 [--traced customer,reporting]: those under tracemalloc, where memory grew)

Starts the four services and their workers as processes on a Kafka broker and a mongod of the
soak's own (so that no history of earlier runs is read first, and make test may run beside it),
first 10,000 customers created by the ERP (`--customers-before`), then every second: customers
created and follow-ups logged through HTTP, and
visits and deals published onto Kafka by an outside producer (`rate` events a second in all),
and a report read. Every `--every` seconds it prints each process's resident memory and each
consumer's lag. At the end: each process's memory after the warm-up (the first fifth) against
its last sample, and the largest lag; memory growth over 10 % after warm-up is named.
"""

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from crm_contracts import CustomerCreated, DealClosed, VisitLogged, topic_of

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from instances import STACK, Instance, OwnBroker  # noqa: E402

ADMIN = {"username": "soak-admin", "password": uuid.uuid4().hex}
# Customers there before the load, from the ERP. A new model snapshot re-scores every customer it
# moves, and each CustomerScored goes to the customer and reporting consumers: on an empty system
# those bursts grew with the customers the soak made, and with them each consumer's largest batch
# and its memory (reporting +48 % in 30 min), until a burst fills a batch (6,000 records,
# consumer_batch_size). Started with more customers than that, the largest batch comes in the
# warm-up, as on a system in use.
CUSTOMERS_BEFORE = 10_000
TRACED = Path(__file__).resolve().parent / "traced.py"
GROWTH_LIMIT = 0.10


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(logs: Path, broker: OwnBroker, traced: set[str]) -> dict[str, Instance]:
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "MONGODB_URI": broker.mongodb_uri,
        "CRM_NAMESPACE": f"soak{uuid.uuid4().hex[:6]}",
        "CRM_AUTH_SECRET": uuid.uuid4().hex * 2,
        "CRM_ADMIN_USERNAME": ADMIN["username"],
        "CRM_ADMIN_PASSWORD": ADMIN["password"],
        "CRM_LOG_LEVEL": "WARNING",
    }
    running = {}
    for name, (package, workers) in STACK.items():
        under_tracer = [sys.executable, str(TRACED), f"crm_{package}", str(logs / name)]
        command = under_tracer if name in traced else None
        env = {**common, "CRM_WORKERS": workers}
        running[name] = Instance(name, package, env, logs, command)
    for instance in running.values():
        instance.wait_healthy()
    return running


async def populate(urls: dict[str, str], bootstrap: str, how_many: int) -> list[str]:
    """`how_many` customers created by the ERP, once every consumer has applied them."""
    ids = [f"erp-soak-{n}" for n in range(how_many)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        for customer_id in ids:
            event = CustomerCreated(
                producer="erp",
                customer_id=customer_id,
                payload={"name": f"Shipper {customer_id}", "region": "east"},
            )
            await producer.send(topic_of(event.event_type), event.to_bytes(), key=event.key())
        await producer.flush()
    finally:
        await producer.stop()
    consumers = [url for name, url in urls.items() if is_consumer(name)]
    idle_since = time.monotonic()
    # Idle for 10 s: their CustomerScored come a while after the customers, and are applied too.
    while time.monotonic() - idle_since < 10:
        await asyncio.sleep(2)
        if any([await asyncio.to_thread(lag, url) != 0 for url in consumers]):
            idle_since = time.monotonic()
    return ids


async def load(
    urls: dict[str, str],
    bootstrap: str,
    rate: int,
    until: float,
    sent: list[int],
    customers: list[str],
) -> None:
    """`rate` events a second: a fifth through HTTP (customers, follow-ups), the rest on Kafka,
    about `customers` and those it makes."""
    async with httpx.AsyncClient(timeout=30) as http:
        login = await http.post(f"{urls['customer']}/auth/login", json=ADMIN)
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        rng = random.Random(7)
        try:
            while time.monotonic() < until:
                second = time.monotonic()
                for _ in range(max(1, rate // 10)):
                    made = await http.post(
                        f"{urls['customer']}/customers",
                        json={"name": f"Soak {uuid.uuid4().hex[:8]}", "region": "east"},
                        headers=headers,
                    )
                    if made.status_code == 201:
                        customers.append(made.json()["customer"]["id"])
                for customer_id in rng.sample(customers, min(len(customers), rate // 10)):
                    now = datetime.now(UTC).isoformat()
                    await http.post(
                        f"{urls['followup']}/followups",
                        json={
                            "customer_id": customer_id,
                            "salesperson_id": "soak",
                            "channel": "call",
                            "subject": "soak",
                            "started_at": now,
                            "ended_at": now,
                        },
                        headers=headers,
                    )
                for _ in range(rate - 2 * (rate // 10)):
                    if customers:
                        event = outside_event(rng.choice(customers), rng)
                        topic = topic_of(event.event_type)
                        await producer.send(topic, event.to_bytes(), key=event.key())
                await http.get(f"{urls['reporting']}/reports/scorecard", headers=headers)
                sent[0] += rate
                await asyncio.sleep(max(0.0, 1 - (time.monotonic() - second)))
        finally:
            await producer.stop()


def outside_event(customer_id: str, rng: random.Random) -> VisitLogged | DealClosed:
    now = datetime.now(UTC)
    if rng.random() < 0.8:
        return VisitLogged(
            producer="call-centre",
            customer_id=customer_id,
            payload={
                "followup_id": uuid.uuid4().hex,
                "salesperson_id": "soak",
                "channel": "call",
                "subject": "call centre",
                "started_at": now,
                "ended_at": now,
            },
        )
    won = rng.random() < 0.4
    facts = {"amount": "1000.00", "currency": "CNY"} if won else {"lost_reason": "price"}
    return DealClosed(
        producer="erp",
        customer_id=customer_id,
        payload={"deal_id": uuid.uuid4().hex, "outcome": "won" if won else "lost", **facts},
    )


def is_consumer(name: str) -> bool:
    """A service's process, not its workers' ("scoring-workers"): the one with a lag."""
    return "-" not in name


def lag(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/ready", timeout=10).json().get("lag", {}).get("total")
    except (httpx.HTTPError, ValueError):
        return None


async def watch(
    running: dict[str, Instance], every: float, until: float, samples: list, traced: set[str]
) -> None:
    started = time.monotonic()
    warmed_up = started + (until - started) / 5
    while time.monotonic() < until:
        await asyncio.sleep(every)
        if warmed_up and time.monotonic() >= warmed_up:
            snapshot(running, traced)  # the first, compared with the last at the end
            warmed_up = 0.0
        memory = {name: rss_mib(i.pid) for name, i in running.items()}
        lags = {
            n: await asyncio.to_thread(lag, i.url) for n, i in running.items() if is_consumer(n)
        }
        samples.append((time.monotonic() - started, memory, lags))
        print(
            f"{time.monotonic() - started:7.0f} s  "
            + "  ".join(f"{n} {m:.0f} MiB" for n, m in memory.items())
            + "  | lag "
            + " ".join(f"{n} {v}" for n, v in lags.items()),
            flush=True,
        )


def snapshot(running: dict[str, Instance], traced: set[str]) -> None:
    for name in traced:
        os.kill(running[name].pid, signal.SIGUSR1)


def growth_by_place(logs: Path, traced: set[str], top: int = 8) -> None:
    """Where the traced processes' memory grew between the snapshot after the warm-up and the
    last one: the places that allocated most, by the stack (innermost frame last)."""
    for name in sorted(traced):
        first = tracemalloc.Snapshot.load(str(logs / f"{name}-1.snapshot"))
        last = tracemalloc.Snapshot.load(str(logs / f"{name}-2.snapshot"))
        print(f"\n{name}: allocated after the warm-up, by place")
        for stat in last.compare_to(first, "traceback")[:top]:
            print(f"  {stat.size_diff / 1024:+9.0f} KiB {stat.count_diff:+8d} blocks")
            for frame in stat.traceback.format()[-2 * tracemalloc.get_traceback_limit() :]:
                print(f"      {frame.strip()}")


def verdict(samples: list) -> int:
    warm = samples[len(samples) // 5]
    last = samples[-1]
    grown = []
    print("\nmemory after warm-up -> at the end")
    for name, after_warm_up in warm[1].items():
        end = last[1][name]
        growth = (end - after_warm_up) / after_warm_up if after_warm_up else 0.0
        print(f"  {name:<18} {after_warm_up:7.0f} -> {end:7.0f} MiB ({growth:+.1%})")
        if growth > GROWTH_LIMIT:
            grown.append(name)
    largest = max((v for _, _, lags in samples for v in lags.values() if v is not None), default=0)
    print(f"largest lag seen: {largest} records; last: {last[2]}")
    if grown:
        print(f"memory grew over {GROWTH_LIMIT:.0%} after warm-up: {', '.join(grown)}")
        return 1
    print(f"every process within {GROWTH_LIMIT:.0%} of its memory after warm-up")
    return 0


async def main(args: argparse.Namespace) -> int:
    logs = ROOT / ".local" / "soak"
    logs.mkdir(parents=True, exist_ok=True)
    broker = OwnBroker(Path(tempfile.mkdtemp(prefix="soak-servers-")), mongod=True).start()
    running: dict[str, Instance] = {}
    try:
        traced = set(filter(None, args.traced.split(",")))
        running = start(logs, broker, traced)
        urls = {name: instance.url for name, instance in running.items()}
        began = time.monotonic()
        customers = await populate(urls, broker.bootstrap_servers, args.customers_before)
        print(f"{len(customers):,} customers there before, in {time.monotonic() - began:.0f} s")
        until = time.monotonic() + args.minutes * 60
        samples: list = []
        sent = [0]
        await asyncio.gather(
            load(urls, broker.bootstrap_servers, args.rate, until, sent, customers),
            watch(running, args.every, until, samples, traced),
        )
        print(f"\n{sent[0]:,} events in {args.minutes} min ({args.rate}/s); logs in {logs}")
        if traced:
            snapshot(running, traced)
            await asyncio.sleep(30)  # a snapshot of a few hundred MiB takes a while to write
            growth_by_place(logs, traced)
        return verdict(samples)
    finally:
        for instance in running.values():
            instance.stop()
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=int, default=40, help="events a second, in all")
    parser.add_argument("--every", type=float, default=30, help="seconds between samples")
    parser.add_argument(
        "--customers-before", type=int, default=CUSTOMERS_BEFORE, help="created before the load"
    )
    parser.add_argument(
        "--traced",
        default="",
        help="processes (customer,reporting…) to run under tracemalloc: where memory grew",
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
