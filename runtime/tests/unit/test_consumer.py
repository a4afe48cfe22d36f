"""The consumer's decisions, with an in-memory store and an in-memory dead-letter sink (fakes)."""

import json

from crm_contracts import CustomerCreated, CustomerCreatedPayload, CustomerScored
from crm_runtime.consumer import EventConsumer
from crm_runtime.dead_letters import describe, reason_of
from crm_runtime.records import Record
from crm_runtime.store import AlreadyApplied
from pymongo.errors import AutoReconnect


class InMemoryStore:
    def __init__(self) -> None:
        self.applied: set[str] = set()

    async def run(self, work, *, consumed=None, unpark=False):
        if consumed is not None and str(consumed.event_id) in self.applied:
            raise AlreadyApplied(str(consumed.event_id))
        result = await work(object())
        if consumed is not None:
            self.applied.add(str(consumed.event_id))
        return result


class InMemoryDeadLetters:
    def __init__(self) -> None:
        self.records: list[tuple[Record, BaseException]] = []

    async def put(self, record: Record, error: BaseException) -> None:
        self.records.append((record, error))


def created(name: str = "Acme") -> CustomerCreated:
    return CustomerCreated(
        producer="test", customer_id="c-1", payload=CustomerCreatedPayload(name=name)
    )


def record(value: bytes, offset: int = 0) -> Record:
    return Record("crm.customer.events", 0, offset, b"c-1", value)


def consumer_with(handler, attempts: int = 3):
    dead_letters = InMemoryDeadLetters()
    consumer = EventConsumer(
        InMemoryStore(),
        {CustomerCreated: [handler]},
        dead_letters,
        handler_attempts=attempts,
        max_backoff_s=0.001,
    )
    return consumer, dead_letters


async def test_a_valid_event_is_applied_once_and_its_duplicate_ignored():
    seen = []

    async def handler(event, uow):
        seen.append(event.event_id)

    consumer, dead_letters = consumer_with(handler)
    event = created()
    assert await consumer.process(record(event.to_bytes(), 0)) == "applied"
    assert await consumer.process(record(event.to_bytes(), 1)) == "duplicate"
    assert seen == [event.event_id]
    assert dead_letters.records == []


async def test_bytes_that_are_not_json_are_dead_lettered_as_malformed():
    consumer, dead_letters = consumer_with(None)
    assert await consumer.process(record(b"\x00not json")) == "dead-lettered"
    ((dead, error),) = dead_letters.records
    assert dead.value == b"\x00not json"
    assert reason_of(error) == "malformed"


async def test_an_event_breaking_its_schema_is_dead_lettered_with_the_field_at_fault():
    consumer, dead_letters = consumer_with(None)
    bad = json.loads(created().to_bytes())
    bad["payload"]["name"] = ""
    assert await consumer.process(record(json.dumps(bad).encode())) == "dead-lettered"
    ((_, error),) = dead_letters.records
    assert reason_of(error) == "schema-invalid"
    assert "payload.name" in describe(error)


async def test_an_event_nobody_here_handles_is_ignored():
    consumer, dead_letters = consumer_with(None)
    scored = CustomerScored.model_validate_json(
        json.dumps(
            {
                "producer": "s",
                "customer_id": "c-1",
                "payload": {
                    "score": 1,
                    "tier": "D",
                    "win_probability": 0.1,
                    "reasons": ["x"],
                    "rule_version": "r",
                },
            }
        )
    )
    assert await consumer.process(record(scored.to_bytes())) == "ignored"
    assert dead_letters.records == []


async def test_a_database_that_is_away_is_waited_for_and_nothing_is_skipped():
    failures = iter([AutoReconnect("down"), AutoReconnect("still down")])

    async def handler(event, uow):
        if (error := next(failures, None)) is not None:
            raise error

    consumer, dead_letters = consumer_with(handler, attempts=1)
    assert await consumer.process(record(created().to_bytes())) == "applied"
    assert dead_letters.records == []


async def test_a_handler_that_keeps_failing_dead_letters_the_event_after_its_attempts():
    calls = []

    async def handler(event, uow):
        calls.append(1)
        raise ValueError("bug")

    consumer, dead_letters = consumer_with(handler, attempts=3)
    assert await consumer.process(record(created().to_bytes())) == "dead-lettered"
    assert len(calls) == 3
    assert reason_of(dead_letters.records[0][1]) == "handler-failed"


async def test_a_handler_that_fails_once_is_tried_again():
    calls = []

    async def handler(event, uow):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("flaky")

    consumer, dead_letters = consumer_with(handler, attempts=3)
    assert await consumer.process(record(created().to_bytes())) == "applied"
    assert dead_letters.records == []
