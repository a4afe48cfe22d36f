"""Results are a function of the event history (ARCHITECTURE.md): the same events, applied by the
live service through two different partition layouts, cross-topic orders, batch splits and
snapshot timings — one run quiet, the other with its process killed mid-stream and started again
— end with every customer's same score, tier and win probability, and the same as a replay in
memory."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from crm_contracts import (
    DealClosed,
    Event,
)
from crm_runtime.store import Store
from crm_scoring import adapters
from crm_scoring.adapters import Snapshots
from crm_scoring.bootstrap import bootstrap
from crm_scoring.engine import react
from crm_scoring.memory_state import InMemoryState
from crm_scoring.settings import ScoringSettings
from crm_scoring.snapshots import SnapshotWriter
from histories import CUSTOMER_TOPIC_EVENTS, scored_history
from pymongo import AsyncMongoClient


async def create_topics(bootstrap_servers: str, partitions: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(name, count, 1) for name, count in partitions.items()])
    await admin.close()


async def publish(kafka, topics: tuple[str, str], events: list[Event]) -> None:
    customer_topic, follow_up_topic = topics
    for event in events:
        topic = customer_topic if isinstance(event, CUSTOMER_TOPIC_EVENTS) else follow_up_topic
        await kafka.publish(topic, event.to_bytes(), key=event.key())


class Run:
    """One run's database, read from the test."""

    def __init__(self, namespace: str, service_name: str, client: AsyncMongoClient) -> None:
        self.store = Store(client, f"{namespace}_{service_name}")
        self.writer = SnapshotWriter(self.store, Snapshots(), ScoringSettings())

    async def applied(self, events: list[Event]) -> int:
        ids = [str(event.event_id) for event in events]
        return await self.store.db["processed_events"].count_documents({"_id": {"$in": ids}})

    async def final(self) -> dict[str, Any]:
        customers = await self.store.db[adapters.CUSTOMERS].find({}).sort("_id").to_list()
        model = await Snapshots().latest(self.store.db)
        return {
            "results": await adapters.results(self.store),
            "features": {doc["_id"]: doc["features"] for doc in customers},
            "counts": dict(model.counts.by_key),
            "snapshot": model.version,
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_process(
    infra, namespace: str, service_name: str, topics: tuple[str, str], logs
) -> asyncio.subprocess.Process:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "MONGODB_URI": infra.mongodb_uri,
        "CRM_NAMESPACE": namespace,
        "CRM_SERVICE_NAME": service_name,
        "CRM_HTTP_PORT": str(port),
        "CRM_AUTH_SECRET": uuid.uuid4().hex * 2,
        "CRM_TOPICS": f'["{topics[0]}", "{topics[1]}"]',
        "CRM_CONSUMER_BATCH_SIZE": "40",
        "CRM_SNAPSHOT_LEASE_S": "2",
        "CRM_OUTBOX_POLL_INTERVAL_S": "0.2",
        "CRM_RETRY_MAX_BACKOFF_S": "1",
        "CRM_LOG_LEVEL": "INFO",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crm_scoring", env=env, stdout=logs, stderr=subprocess.STDOUT
    )
    # A restart may wait for what the killed process left open in MongoDB (up to a minute).
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            assert process.returncode is None, "the scoring service exited at start"
            try:
                if (
                    await http.get(f"http://127.0.0.1:{port}/health", timeout=1)
                ).status_code == 200:
                    return process
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    process.kill()
    await process.wait()
    raise AssertionError("the scoring service did not come up")


@pytest.fixture
def logs(tmp_path):
    """Where the scoring processes write (read it when the test fails)."""
    with open(tmp_path / "scoring.log", "wb") as file:
        yield file


@pytest.fixture
async def client(infra):
    mongo: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    yield mongo
    await mongo.close()


async def test_the_same_events_end_in_the_same_scores_whatever_the_interleaving_and_crashes(
    infra, namespace, kafka, settings_for, running, eventually, client, logs
):
    events = scored_history()
    deals = [event for event in events if isinstance(event, DealClosed)]
    assert len(deals) > 50
    customer_events = [e for e in events if isinstance(e, CUSTOMER_TOPIC_EVENTS)]
    follow_up_events = [e for e in events if not isinstance(e, CUSTOMER_TOPIC_EVENTS)]
    tag = uuid.uuid4().hex[:8]

    # Quiet: one partition for customer events, two for follow-ups, in time order; small
    # batches, a snapshot every few deals.
    quiet_topics = (f"det.{tag}.quiet.customer", f"det.{tag}.quiet.followup")
    await create_topics(infra.kafka_bootstrap_servers, dict(zip(quiet_topics, (1, 2), strict=True)))
    quiet_name = f"scoring-det-quiet-{tag}"
    await running(
        bootstrap(
            settings_for(
                ScoringSettings,
                service_name=quiet_name,
                topics=list(quiet_topics),
                consumer_batch_size=7,
                snapshot_every_deals=3,
                snapshot_every_s=0.1,
            )
        )
    )
    await publish(kafka, quiet_topics, events)
    quiet = Run(namespace, quiet_name, client)

    # Crashed: three partitions each; every follow-up first (deals before their customers are
    # known), the process killed part-way, then the customer events; larger batches, snapshots
    # at the defaults.
    crashed_topics = (f"det.{tag}.crashed.customer", f"det.{tag}.crashed.followup")
    await create_topics(
        infra.kafka_bootstrap_servers, dict(zip(crashed_topics, (3, 3), strict=True))
    )
    crashed_name = f"scoring-det-crashed-{tag}"
    crashed = Run(namespace, crashed_name, client)
    first = await start_process(infra, namespace, crashed_name, crashed_topics, logs)
    try:
        await publish(kafka, crashed_topics, follow_up_events)

        async def some_applied() -> bool:
            return await crashed.applied(follow_up_events) >= len(follow_up_events) // 4

        await eventually(some_applied)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    killed_at = await crashed.applied(events)
    await publish(kafka, crashed_topics, customer_events)
    second = await start_process(infra, namespace, crashed_name, crashed_topics, logs)
    try:
        for run in (quiet, crashed):

            async def all_applied_and_settled(run: Run = run) -> bool:
                return await run.applied(events) == len(events) and await run.writer.settled()

            await eventually(all_applied_and_settled, timeout_s=240)
        finals = [await quiet.final(), await crashed.final()]
    finally:
        second.terminate()
        await asyncio.wait_for(second.wait(), 30)
    assert killed_at < len(events), "the process was killed before the history ended"

    reference, model = InMemoryState(), ScoringSettings.model_fields["model_version"].default
    for event in events:
        await react(reference, event, model)
    await reference.publish(model)

    quiet_final, crashed_final = finals
    assert len(quiet_final["results"]) == 45
    assert crashed_final["results"] == quiet_final["results"] == reference.results
    assert crashed_final["features"] == quiet_final["features"]
    assert (
        crashed_final["counts"] == quiet_final["counts"] == dict(reference.snapshot.counts.by_key)
    )
    probabilities = {key[2] for key in quiet_final["results"].values()}
    assert len(probabilities) > 3, "the model tells customers apart"
