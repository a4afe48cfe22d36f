"""The consumer on a real broker: dead letters with reasons, exactly-once effects, committed
offsets."""

import asyncio
import json
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition
from crm_contracts import CustomerCreated, CustomerCreatedPayload, dead_letter_topic
from crm_runtime import fences
from crm_runtime.dead_letters import DEAD_LETTERS
from crm_runtime.records import Record
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from fastapi import APIRouter
from pymongo import InsertOne


async def remember(event, uow):
    await uow.db["seen"].insert_one(
        {"event_id": str(event.event_id), "name": event.payload.name}, session=uow.session
    )


@pytest.fixture
async def topic(infra, namespace):
    name = f"test.{namespace}.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(name, 1, 1), NewTopic(dead_letter_topic(name), 1, 1)])
    await admin.close()
    return name


@pytest.fixture
async def service(topic, settings_for, running):
    spec = ServiceSpec(title="test", subscribes_to=[topic], handlers={CustomerCreated: [remember]})
    return await running(
        Service(spec, settings_for(ServiceSettings, service_name=topic.rsplit(".", 1)[1]))
    )


def created(name: str) -> CustomerCreated:
    return CustomerCreated(
        producer="test", customer_id="c-1", payload=CustomerCreatedPayload(name=name)
    )


async def test_bad_messages_are_dead_lettered_with_reasons_and_the_next_good_one_applied(
    topic, service, kafka, eventually
):
    schema_invalid = json.loads(created("x").to_bytes())
    schema_invalid["payload"]["name"] = ""
    schema_invalid["customer_id"] = "has spaces"
    await kafka.publish(topic, b"{not json at all", key=b"c-bad-1")
    await kafka.publish(topic, json.dumps(schema_invalid).encode(), key=b"c-bad-2")
    good = created("After The Bad Ones")
    await kafka.publish(topic, good.to_bytes(), key=b"c-1")

    dead = await kafka.read(dead_letter_topic(topic), lambda record: True, expect=2, settle_s=1)
    headers = [{k: v.decode() for k, v in record.headers} for record in dead]
    assert [h["dlt.reason"] for h in headers] == ["malformed", "schema-invalid"]
    assert [h["dlt.source.offset"] for h in headers] == ["0", "1"]
    assert dead[0].value == b"{not json at all" and dead[0].key == b"c-bad-1"
    assert "payload.name" in headers[1]["dlt.error"] and "customer_id" in headers[1]["dlt.error"]
    assert all(h["dlt.source.topic"] == topic for h in headers)

    seen = await eventually(
        lambda: service.store.db["seen"].find_one({"event_id": str(good.event_id)})
    )
    assert seen["name"] == "After The Bad Ones"
    assert await service.store.db[DEAD_LETTERS].count_documents({}) == 2


async def test_the_same_event_twice_is_applied_once_and_offsets_are_committed_after_it(
    topic, service, kafka, infra, eventually
):
    event = created("Twice Ltd")
    await kafka.publish(topic, event.to_bytes(), key=event.key())
    await kafka.publish(topic, event.to_bytes(), key=event.key())

    async def committed():
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(service.settings.consumer_group)
        finally:
            await admin.close()
        offset = offsets.get(TopicPartition(topic, 0))
        return offset is not None and offset.offset == 2

    await eventually(committed)
    assert await service.store.db["seen"].count_documents({"event_id": str(event.event_id)}) == 1
    assert (
        await service.store.db["processed_events"].count_documents({"_id": str(event.event_id)})
        == 1
    )


async def test_ready_reports_the_lag_and_metrics_count_outcomes_and_dead_letters(
    topic, service, kafka, http, eventually
):
    good = created("Counted Ltd")
    await kafka.publish(topic, b"garbage", key=b"c-1")
    await kafka.publish(topic, good.to_bytes(), key=b"c-1")
    await eventually(lambda: service.store.db["seen"].find_one({"event_id": str(good.event_id)}))
    async with http(service, role=None) as probe:

        async def caught_up():
            service.readiness._checked_at = 0  # no cache in a test
            answer = await probe.get("/ready")
            return (
                answer.status_code == 200 and answer.json()["lag"]["total"] == 0 and answer.json()
            )

        ready = await eventually(caught_up)
        metrics = (await probe.get("/metrics")).text
    assert (
        ready["mongodb"] == "ok"
        and ready["kafka"] == "ok"
        and f"{topic}:0" in ready["lag"]["partitions"]
    )
    # Its own topic's: the service also reads every user's access changes.
    assert f'crm_events_total{{outcome="applied",topic="{topic}"}} 1.0' in metrics
    assert 'crm_dead_letters_total{reason="malformed"} 1.0' in metrics
    assert 'crm_http_request_seconds_count{method="GET",route="/ready",status="200"}' in metrics
    assert 'crm_consumer_lag{partition="0",topic="' + topic + '"} 0.0' in metrics
    # What the consumer noted itself, without asking Kafka, says the same.
    noted = await service.store.db[fences.FENCES].find_one({"_id": fences.fence_of(topic, 0)})
    assert (noted["applied_to"], noted["end"]) == (2, 2)
    assert (await fences.lag(service.store.db))["total"] == 0


async def test_the_consumer_notes_how_far_each_partition_is_behind_its_end(topic, service):
    events = [created(name) for name in ("One", "Two")]
    records = [Record(topic, 0, 40 + n, b"c-1", e.to_bytes()) for n, e in enumerate(events)]
    other = Record("other.topic", 1, 7, b"c-1", created("Three").to_bytes())

    await service.consumer.process_batch([*records, other], {(topic, 0): 50, ("other.topic", 1): 8})

    lag = await fences.lag(service.store.db)
    assert lag["total"] == 50 - 42 and lag["at"] is not None


async def test_ready_says_503_and_why_when_mongodb_is_away(settings_for, http):
    settings = settings_for(
        ServiceSettings,
        service_name="nowhere",
        mongodb_timeout_ms=500,
        mongodb_uri="mongodb://127.0.0.1:1/?directConnection=true",
    )
    service = Service(ServiceSpec(title="test"), settings)  # never started: nothing to reach
    async with http(service, role=None) as probe:
        answer = await probe.get("/ready")
        live = await probe.get("/health")
    assert (
        answer.status_code == 503 and answer.json()["ready"] is False and "mongodb" in answer.json()
    )
    assert answer.json()["mongodb"] != "ok" and live.status_code == 200
    await service.client.close()


async def test_a_write_refused_when_the_batch_commits_dead_letters_only_the_event_that_queued_it(
    topic, settings_for, running
):
    async def remember_later(event, uow):
        taken = event.payload.name == "Clash Ltd"  # queues an insert MongoDB will refuse
        uow.write("seen", InsertOne({"_id": "taken" if taken else str(event.event_id)}))

    spec = ServiceSpec(
        title="test", subscribes_to=[topic], handlers={CustomerCreated: [remember_later]}
    )
    service = await running(Service(spec, settings_for(ServiceSettings, service_name="clash")))
    await service.store.db["seen"].insert_one({"_id": "taken"})
    events = [created(name) for name in ("One", "Two", "Clash Ltd", "Three", "Four")]
    records = [
        Record(topic, 0, offset, b"c-1", event.to_bytes()) for offset, event in enumerate(events)
    ]

    outcomes = await service.consumer.process(records)

    assert outcomes == ["applied", "applied", "dead-lettered", "applied", "applied"]
    seen = {doc["_id"] for doc in await service.store.db["seen"].find().to_list()}
    assert seen == {"taken"} | {str(e.event_id) for e in events if e.payload.name != "Clash Ltd"}
    (dead,) = await service.store.db[DEAD_LETTERS].find().to_list()
    assert dead["event_id"] == str(events[2].event_id) and "E11000" in dead["error"], dead


class Counting:
    """A worker that counts the ticks it ran, in the database."""

    def __init__(self, service):
        self.store, self._task = service.store, None

    async def _tick(self):
        while True:
            await self.store.db["ticks"].update_one({"_id": "ticks"}, {"$inc": {"n": 1}}, True)
            await asyncio.sleep(0.05)

    def start(self):
        self._task = asyncio.create_task(self._tick())

    async def stop(self):
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_workers_run_in_a_process_of_their_own_and_the_other_one_runs_none(
    topic, settings_for, running, kafka, http, eventually
):
    ping = APIRouter()
    ping.get("/ping")(lambda: {"pong": True})
    spec = ServiceSpec(
        title="test",
        routers=[ping],
        subscribes_to=[topic],
        handlers={CustomerCreated: [remember]},
        workers=[Counting],
    )
    name = topic.rsplit(".", 1)[1]
    events = await running(
        Service(spec, settings_for(ServiceSettings, service_name=name, workers="elsewhere"))
    )
    workers = await running(
        Service(spec, settings_for(ServiceSettings, service_name=name, workers="only"))
    )

    event = created("Split Ltd")
    await kafka.publish(topic, event.to_bytes(), key=event.key())
    await eventually(lambda: events.store.db["seen"].find_one({"event_id": str(event.event_id)}))
    await eventually(lambda: workers.store.db["ticks"].find_one({"n": {"$gte": 3}}))
    assert events.workers == [] and len(workers.workers) == 1
    assert workers.topics == [] and not workers._tasks  # no relay, no sweeper, no consumer
    assert await events.store.db["seen"].count_documents({}) == 1  # applied once, by one of them
    async with http(workers, role=None) as probe:
        ready, health = await probe.get("/ready"), await probe.get("/health")
        routed = await probe.get("/ping")
    assert ready.status_code == 200 and ready.json()["mongodb"] == "ok"
    assert "kafka" not in ready.json() and health.status_code == 200
    assert routed.status_code == 404  # the API is the other process's
    async with http(events, role=None) as probe:
        assert (await probe.get("/ping")).json() == {"pong": True}
