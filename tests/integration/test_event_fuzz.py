"""Event fuzzing: thousands of bad records drawn by Hypothesis from the contracts (tests/support/
bad_records.py), valid events interleaved with them, published onto every contract topic of a
broker of the test's own and read by the reporting service (which reads them all). Every bad record
is dead-lettered once, with a reason it was drawn for; every valid one is applied; the consumer
never stops and its lag returns to 0. FUZZ_RECORDS sets how many bad records (default 10,000)."""

import json
import os
import random
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from bad_records import bad_record, drawn, extended_event, oversized, valid_event
from crm_contracts import ALL_TOPICS, dead_letter_topic, topic_of
from crm_reporting.bootstrap import bootstrap, spec
from crm_reporting.settings import ReportingSettings
from crm_runtime.dead_letters import DEAD_LETTERS
from crm_runtime.kafka import ensure_topics
from crm_runtime.metrics import consumer_lag
from crm_runtime.store import INBOX
from hypothesis import strategies as st
from instances import OwnBroker

BAD = int(os.environ.get("FUZZ_RECORDS", "10000"))
GOOD = 1000
HANDLED = {kind.__name__ for kind in spec().handlers}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    own = OwnBroker(tmp_path_factory.mktemp("broker")).start()
    yield own
    own.stop()


async def dead_letters_on(bootstrap_servers: str, count: int) -> list:
    """The first `count` records of the dead-letter topics."""
    reader = AIOKafkaConsumer(
        *(dead_letter_topic(topic) for topic in ALL_TOPICS),
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
    )
    await reader.start()
    try:
        found: list = []
        while len(found) < count:
            for records in (await reader.getmany(timeout_ms=1000)).values():
                found += records
        return found
    finally:
        await reader.stop()


async def send_event(producer: AIOKafkaProducer, event: dict):
    """Where the contract puts it: its type's topic, keyed by its customer."""
    value, key = json.dumps(event).encode(), event["customer_id"].encode()
    return await producer.send(topic_of(event["event_type"]), value, key=key)


async def send_event_now(broker: OwnBroker, event: dict):
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await producer.start()
    try:
        return await send_event(producer, event)
    finally:
        await producer.stop()


async def test_bad_records_are_dead_lettered_with_their_reasons_and_the_valid_ones_applied(
    broker, settings_for, running, eventually
):
    bad = drawn(bad_record(), BAD) + drawn(oversized(), 3)
    handled = st.one_of(valid_event(), extended_event()).filter(
        lambda event: event["event_type"] in HANDLED
    )
    good = drawn(handled, GOOD)
    mixed: list = [("bad", record) for record in bad] + [("good", event) for event in good]
    random.Random(7).shuffle(mixed)
    settings = settings_for(ReportingSettings, kafka_bootstrap_servers=broker.bootstrap_servers)
    await ensure_topics(settings)

    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await producer.start()
    sent = []
    try:
        for kind, item in mixed:
            if kind == "bad":
                sent.append((item, await producer.send(item.topic, item.value, key=item.key)))
            else:
                sent.append((item, await send_event(producer, item)))
        placed = [(item, await delivery) for item, delivery in sent]
    finally:
        await producer.stop()
    where = {(m.topic, m.partition, m.offset): item for item, m in placed}
    good_ids = [event["event_id"] for event in good]

    service = await running(bootstrap(settings))

    async def all_handled() -> bool:
        db = service.store.db
        return (
            await db[DEAD_LETTERS].count_documents({}) == len(bad)
            and await db[INBOX].count_documents({"_id": {"$in": good_ids}}) == len(good)
            and sum((await consumer_lag(settings, list(ALL_TOPICS))).values()) == 0
        )

    await eventually(all_handled, timeout_s=600)

    letters = await dead_letters_on(broker.bootstrap_servers, len(bad))
    reasons: Counter[str] = Counter()
    sources = set()
    for letter in letters:
        headers = {name: value.decode() for name, value in letter.headers}
        source = (
            headers["dlt.source.topic"],
            int(headers["dlt.source.partition"]),
            int(headers["dlt.source.offset"]),
        )
        item = where[source]
        sources.add(source)
        assert not isinstance(item, dict), f"a valid event was dead-lettered: {headers}"
        assert headers["dlt.reason"] in item.reasons, (item.kind, headers)
        assert headers["dlt.error"] and letter.value == item.value
        reasons[headers["dlt.reason"]] += 1
    assert len(sources) == len(bad), "each bad record dead-lettered once"

    # Still consuming: a valid event published after all that is applied.
    last = {**good[0], "event_id": str(uuid.uuid4())}
    await (await send_event_now(broker, last))

    async def last_applied() -> bool:
        return await service.store.db[INBOX].count_documents({"_id": last["event_id"]}) == 1

    await eventually(last_applied)
    print(f"{len(bad)} bad records dead-lettered; by reason: {dict(sorted(reasons.items()))}")
