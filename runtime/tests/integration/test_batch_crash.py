"""A process killed in the middle of a batch: on restart the batch is delivered again, and every
event's effect, inbox entry and outgoing event is there exactly once."""

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from crm_contracts import CustomerCreated, CustomerCreatedPayload, dead_letter_topic
from crm_runtime.store import INBOX, OUTBOX
from pymongo import AsyncMongoClient

SCRIPT = Path(__file__).with_name("batch_crash.py")
EVENTS = 600


@pytest.fixture
async def topic(infra, namespace):
    name = f"test.{namespace}.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(name, 3, 1), NewTopic(dead_letter_topic(name), 3, 1)])
    await admin.close()
    return name


@pytest.fixture
async def database(infra, namespace):
    client = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    yield client[f"{namespace}_batchcrash"]
    await client.close()


def service(infra, namespace: str, topic: str, die_at: int) -> subprocess.Popen[bytes]:
    arguments = [infra.kafka_bootstrap_servers, infra.mongodb_uri, namespace, topic, str(die_at)]
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_a_process_killed_in_the_middle_of_a_batch_applies_nothing_twice(
    infra, namespace, topic, database, kafka, eventually
):
    events = [
        CustomerCreated(
            producer="test", customer_id=f"c-{i:04}", payload=CustomerCreatedPayload(name=f"N{i}")
        )
        for i in range(EVENTS)
    ]
    for event in events:
        await kafka.publish(topic, event.to_bytes(), key=event.customer_id.encode())

    # Dies while applying the 450th event: what its batches did before is either committed
    # whole (offsets not yet) or not at all.
    crashed = service(infra, namespace, topic, die_at=450)
    assert await asyncio.to_thread(crashed.wait, 120) == 9
    before = await database[INBOX].count_documents({"event_type": "CustomerCreated"})
    assert before < EVENTS

    restarted = service(infra, namespace, topic, die_at=0)
    try:

        async def all_applied() -> bool:
            inbox = await database[INBOX].count_documents({"event_type": "CustomerCreated"})
            return inbox == EVENTS and await database["counts"].count_documents({}) == EVENTS

        await eventually(all_applied)
        await asyncio.sleep(2)  # anything redelivered late would be counted now
    finally:
        restarted.kill()
        restarted.wait()

    counts = await database["counts"].find({}).to_list()
    assert sorted(c["_id"] for c in counts) == sorted(e.customer_id for e in events)
    assert {c["n"] for c in counts} == {1}
    assert await database[INBOX].count_documents({"event_type": "CustomerCreated"}) == EVENTS
    assert await database[OUTBOX].count_documents({}) == EVENTS
    emitted = await database[OUTBOX].find({}, {"value": 1}).to_list()
    causes = sorted(json.loads(row["value"])["causation_id"] for row in emitted)
    assert causes == sorted(str(event.event_id) for event in events)
