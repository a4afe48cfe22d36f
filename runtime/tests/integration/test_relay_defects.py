"""The outbox relay's order and its faults, on real mongod and Kafka: commit order rather than a
clock, and an event Kafka will never take set aside rather than blocking every event after it."""

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from bson import Timestamp
from crm_contracts import CustomerCreated, CustomerCreatedPayload, topic_of
from crm_runtime.kafka import make_broker, sender
from crm_runtime.metrics import Metrics
from crm_runtime.outbox import OutboxRelay
from crm_runtime.settings import ServiceSettings
from crm_runtime.store import OUTBOX, outbox_document
from faststream.kafka import KafkaBroker

TOPIC = topic_of("CustomerCreated")
POISON_BYTES = 1_500_000  # over the 1 MiB a Kafka record may have


@pytest.fixture
async def send(settings_for):
    broker = make_broker(settings_for(ServiceSettings, service_name="relay-test"))
    await broker.start()
    yield sender(broker)
    await broker.stop()


@pytest.fixture
async def send_past_the_client_check(infra):
    """A producer that lets a large record through, so that the broker refuses it when it
    acknowledges (as one would whose max_request_size is above the topic's limit)."""
    broker = KafkaBroker(
        infra.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        max_request_size=4 * POISON_BYTES,
    )
    await broker.start()
    yield sender(broker)
    await broker.stop()


def created(customer_id: str) -> CustomerCreated:
    return CustomerCreated(
        producer="relay-test", customer_id=customer_id, payload=CustomerCreatedPayload(name="Acme")
    )


def stamped(event: CustomerCreated, at: int, pos: int = 0) -> dict:
    """An outbox row as a transaction writes it, at cluster time `at`."""
    return {**outbox_document(event, pos), "at": Timestamp(at, 0)}


def poison(customer_id: str, at: int) -> dict:
    """A row Kafka will never take, written before events were limited in size."""
    return {
        "_id": str(uuid.uuid4()),
        "topic": TOPIC,
        "key": customer_id.encode(),
        "value": b"x" * POISON_BYTES,
        "event_type": "CustomerCreated",
        "correlation_id": str(uuid.uuid4()),
        "created_at": datetime.now(UTC),
        "at": Timestamp(at, 0),
        "pos": 0,
        "sent": False,
    }


async def arrived_in_order(kafka, event_ids: list[str]) -> list[str]:
    """The event ids of these events as they stand in their (one) partition, copies included."""
    wanted = set(event_ids)
    records = await kafka.read(
        TOPIC, lambda record: event_id_of(record.value) in wanted, expect=len(event_ids), settle_s=2
    )
    assert len({record.partition for record in records}) == 1, "one customer, one partition"
    return [event_id_of(record.value) for record in sorted(records, key=lambda r: r.offset)]


def event_id_of(value: bytes) -> str | None:
    try:
        return json.loads(value)["event_id"]
    except (ValueError, KeyError, TypeError):
        return None


async def test_events_are_published_in_commit_order_whatever_their_clocks_said(store, send, kafka):
    customer = f"c-order-{uuid.uuid4().hex[:6]}"
    events = [created(customer) for _ in range(4)]
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    legacy = {
        name: value
        for name, value in outbox_document(events[0], 0).items()
        if name != "pos"  # written before rows had a cluster time
    }
    legacy["created_at"] = an_hour_ago + timedelta(minutes=3)
    rows = [
        legacy,
        {**stamped(events[1], 1), "created_at": an_hour_ago + timedelta(minutes=2)},
        {**stamped(events[2], 1, pos=1), "created_at": an_hour_ago + timedelta(minutes=1)},
        {**stamped(events[3], 2), "created_at": an_hour_ago},
    ]
    await store.db[OUTBOX].insert_many(list(reversed(rows)))

    assert await OutboxRelay(store, send).publish_pending() == 4

    ids = [str(event.event_id) for event in events]
    assert await arrived_in_order(kafka, ids) == ids


async def test_transactions_on_one_customer_publish_in_the_order_they_committed(store, send, kafka):
    """Each transaction appends to the same document, so they conflict and MongoDB serialises
    them (retrying the losers): Kafka must show their events in that serial order."""
    customer = f"c-serial-{uuid.uuid4().hex[:6]}"

    async def append(uow):
        event = created(customer)
        await uow.db["effects"].update_one(
            {"_id": customer},
            {"$push": {"order": str(event.event_id)}},
            upsert=True,
            session=uow.session,
        )
        await asyncio.sleep(random.uniform(0, 0.02))  # let the others run into this write
        uow.emit(event)

    await asyncio.gather(*(store.run(append) for _ in range(8)))
    committed = (await store.db["effects"].find_one({"_id": customer}))["order"]
    while await OutboxRelay(store, send).publish_pending():
        pass

    assert len(committed) == 8
    assert await arrived_in_order(kafka, committed) == committed


async def test_an_event_kafka_refuses_when_queued_is_set_aside_and_the_others_go_on(
    store, send, kafka
):
    customer = f"c-poison-{uuid.uuid4().hex[:6]}"
    events = [created(customer) for _ in range(4)]
    rows = [stamped(event, at) for event, at in zip(events, [1, 2, 4, 5], strict=True)]
    refused = poison(customer, 3)
    await store.db[OUTBOX].insert_many([*rows, refused])
    metrics = Metrics()
    relay = OutboxRelay(store, send, counted_set_aside=metrics.set_aside.inc)

    assert await relay.publish_pending() == 4
    assert await relay.publish_pending() == 0
    assert await relay.publish_pending() == 0

    set_aside = await store.db[OUTBOX].find_one({"_id": refused["_id"]})
    assert set_aside["sent"] is False
    assert "MessageSizeTooLargeError" in set_aside["set_aside"]
    assert isinstance(set_aside["set_aside_at"], datetime)
    assert metrics.registry.get_sample_value("crm_outbox_set_aside_total") == 1
    ids = [str(event.event_id) for event in events]
    assert await arrived_in_order(kafka, ids) == ids, "each once, in order"


async def test_an_event_the_broker_refuses_is_set_aside_and_those_after_it_wait_for_a_new_producer(
    store, send, send_past_the_client_check, kafka
):
    customer = f"c-refused-{uuid.uuid4().hex[:6]}"
    events = [created(customer) for _ in range(4)]
    rows = [stamped(event, at) for event, at in zip(events, [1, 2, 4, 5], strict=True)]
    refused = poison(customer, 3)
    await store.db[OUTBOX].insert_many([*rows, refused])

    # The broker refuses the poison when it acknowledges; the idempotent producer then fails the
    # partition's later records (OutOfOrderSequenceNumber): not their fault, so they wait.
    assert await OutboxRelay(store, send_past_the_client_check).publish_pending() == 2
    set_aside = await store.db[OUTBOX].find({"set_aside": {"$exists": True}}).to_list()
    assert [row["_id"] for row in set_aside] == [refused["_id"]]
    assert "MessageSizeTooLargeError" in set_aside[0]["set_aside"]

    restarted = OutboxRelay(store, send)
    assert await restarted.publish_pending() == 2
    assert await restarted.publish_pending() == 0
    ids = [str(event.event_id) for event in events]
    assert await arrived_in_order(kafka, ids) == ids, "each once, in order"


class FlakySend:
    """Kafka for now unable to take one event: when it is queued, or when it is acknowledged."""

    def __init__(self, event_id: str, when: str) -> None:
        self.event_id, self.when = event_id, when
        self.published: list[str] = []

    async def __call__(self, topic, key, value, headers):
        event_id = event_id_of(value)
        if event_id == self.event_id and self.when == "queued":
            raise KafkaConnectionError("broker away")

        async def acknowledged():
            if event_id == self.event_id and self.when == "acknowledged":
                raise KafkaTimeoutError()
            self.published.append(event_id)

        return acknowledged()


@pytest.mark.parametrize("when", ["queued", "acknowledged"])
async def test_an_event_kafka_cannot_take_for_now_stays_pending_for_the_next_pass(store, when):
    events = [created("c-flaky") for _ in range(3)]
    await store.db[OUTBOX].insert_many(
        [stamped(event, at) for at, event in enumerate(events, start=1)]
    )
    ids = [str(event.event_id) for event in events]
    flaky = FlakySend(ids[1], when)

    await OutboxRelay(store, flaky).publish_pending()
    # Refused when queued, it holds back the ones after it, which would overtake it; refused at
    # acknowledgement, those queued with it went already.
    assert flaky.published == ([ids[0]] if when == "queued" else [ids[0], ids[2]])
    assert await store.db[OUTBOX].count_documents({"set_aside": {"$exists": True}}) == 0

    flaky.event_id = "none"
    await OutboxRelay(store, flaky).publish_pending()
    assert sorted(flaky.published) == sorted(ids)
    assert await store.db[OUTBOX].count_documents({"sent": False}) == 0


async def test_a_producer_not_connected_sets_nothing_aside(store, settings_for):
    await store.db[OUTBOX].insert_one(stamped(created("c-unconnected"), 1))
    broker = make_broker(settings_for(ServiceSettings, service_name="relay-test"))  # not started

    assert await OutboxRelay(store, sender(broker)).publish_pending() == 0
    assert await store.db[OUTBOX].count_documents({"sent": False, "set_aside": None}) == 1
