"""Several instances per service as processes on a test's own broker (instances.py), and what the
scale-out and fault suites check once they have settled: every event applied, reports and
customer views as another reading of the same topics gives them."""

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from crm_reporting import counters
from crm_runtime.store import INBOX, OUTBOX, PARKED, Store
from crm_scoring.adapters import Snapshots
from crm_scoring.settings import ScoringSettings
from crm_scoring.snapshots import SnapshotWriter
from histories import T0
from instances import Instance

PERIOD = {
    "since": (T0 - timedelta(days=400)).isoformat(),
    "until": (T0 + timedelta(days=400)).isoformat(),
}
REPORTS = {
    "scorecard": PERIOD,
    "funnel": PERIOD,
    "value": {"by": ["tier", "region"]},
    "lifecycle": {},
    "forecast": {},
}


class Fleet:
    """The instances started, by service; all stopped at the end."""

    def __init__(self, env: dict[str, str], logs) -> None:
        self.env = {
            "CRM_CONSUMER_BATCH_SIZE": "50",  # small batches: a kill lands in the middle of one
            "CRM_OUTBOX_POLL_INTERVAL_S": "0.2",
            "CRM_RETRY_MAX_BACKOFF_S": "1",
            "CRM_LOG_LEVEL": "INFO",
            **env,
        }
        self.logs = logs
        self.started: list[Instance] = []

    async def add(self, namespace: str, service: str) -> Instance:
        number = sum(1 for i in self.started if i.name.startswith(f"{namespace}-{service}")) + 1
        env = {**self.env, "CRM_NAMESPACE": namespace}
        instance = Instance(f"{namespace}-{service}-{number}", service, env, self.logs)
        self.started.append(instance)
        return await asyncio.to_thread(instance.wait_healthy)

    def live(self, service: str | None = None, namespace: str = "") -> list[Instance]:
        return [
            i
            for i in self.started
            if i.process.poll() is None
            and (service is None or i.service == service)
            and i.name.startswith(namespace)
        ]

    def stop(self) -> None:
        for instance in self.started:
            instance.stop()


async def applied(store: Store, ids: list[str]) -> int:
    return await store.db[INBOX].count_documents({"_id": {"$in": ids}})


async def settled(scoring: Store, reporting: list[Store], events: list[str]) -> bool:
    """Every event applied by scoring, none parked; the last model snapshot's rescoring done; the
    outbox sent; every event and scoring event applied and counted by each reporting database,
    none parked. (A parked event is in the inbox already: it waits for its customer, and is
    applied again once the customer comes, after that customer's batch.)"""
    if await applied(scoring, events) < len(events) or await parked(scoring):
        return False
    if not await SnapshotWriter(scoring, Snapshots(), ScoringSettings()).settled():
        return False
    if not await sent(scoring):
        return False
    scored = [str(doc["_id"]) for doc in await scoring.db[OUTBOX].find({}, {"_id": 1}).to_list()]
    for store in reporting:
        if await applied(store, events + scored) < len(events) + len(scored):
            return False
        if await counters.pending(store) or await parked(store):
            return False
    return True


async def sent(store: Store) -> bool:
    """Whether every event the service made is on Kafka (its outbox has none unsent)."""
    return not await store.db[OUTBOX].count_documents({"sent": {"$ne": True}}, limit=1)


async def parked(store: Store) -> bool:
    return bool(await store.db[PARKED].count_documents({}, limit=1))


async def topic_records(bootstrap_servers: str, *topics: str) -> list[Any]:
    """Every record on `topics`, topic by topic and partition by partition, duplicates included."""
    reader = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        partitions = reader.assignment()
        while len({tp.topic for tp in partitions}) < len(topics):
            await asyncio.sleep(0.1)
            partitions = reader.assignment()
        ends = await reader.end_offsets(list(partitions))
        found: dict[Any, list[Any]] = {tp: [] for tp in partitions}
        while any([await reader.position(tp) < end for tp, end in ends.items()]):
            for tp, records in (await reader.getmany(timeout_ms=1000)).items():
                found[tp] += records
        order = sorted(found, key=lambda tp: (topics.index(tp.topic), tp.partition))
        return [record for tp in order for record in found[tp] if record.offset < ends[tp]]
    finally:
        await reader.stop()


async def event_ids(bootstrap_servers: str, topic: str) -> list[str]:
    """The event id of every record on `topic`, duplicates included."""
    records = await topic_records(bootstrap_servers, topic)
    return [json.loads(record.value)["event_id"] for record in records]


async def views(url: str, token: str, customers: list[str]) -> dict[str, Any]:
    """Every report's rows and every customer's view (without what says when it was read)."""
    seen: dict[str, Any] = {}
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        for name, params in REPORTS.items():
            answer = await client.get(f"/reports/{name}", params=params)
            assert answer.status_code == 200, answer.text
            seen[name] = answer.json()["rows"]
        at_once = asyncio.Semaphore(8)

        async def view(customer_id: str) -> None:
            async with at_once:
                answer = await client.get(f"/customers/{customer_id}")
            assert answer.status_code == 200, answer.text
            seen[customer_id] = {k: v for k, v in answer.json().items() if k != "as_of"}

        await asyncio.gather(*[view(customer_id) for customer_id in customers])
    return seen
