"""The consumer's decisions, with an in-memory store and an in-memory dead-letter sink (fakes).
The fake store keeps the real one's contract for a batch: all or nothing, duplicates by event id,
a handler's error raised as EventFailed naming the event, transient faults and the writes' own
failures at commit raised as they are."""

import asyncio
import json

from crm_contracts import CustomerCreated, CustomerCreatedPayload, CustomerScored
from crm_runtime.consumer import EventConsumer
from crm_runtime.dead_letters import describe, reason_of
from crm_runtime.records import Record
from crm_runtime.retry import is_transient
from crm_runtime.store import EventFailed
from pymongo.errors import AutoReconnect, OperationFailure


class RefusedAtCommit(Exception):
    pass


class InMemoryStore:
    def __init__(self) -> None:
        self.applied: list[str] = []
        self.transactions = 0
        self.refuses = lambda event: False  # whose queued writes the database refuses at commit
        self.largest = None  # the most events a transaction may hold before it exceeds its time
        self.refusals = 0

    async def run_batch(self, events, apply, *, parked=None, unpark=False, fence=None):
        if self.largest is not None and len(events) > self.largest:
            self.refusals += 1
            raise OperationFailure(
                "transaction exceeded its lifetime limit",
                code=290,
                details={"errorLabels": ["TransientTransactionError"]},
            )
        applied, outcomes, refused = list(self.applied), [], False
        for index, event in enumerate(events):
            if str(event.event_id) in applied:
                outcomes.append("duplicate")
                continue
            try:
                await apply(event, object())
            except Exception as error:
                if is_transient(error):
                    raise
                raise EventFailed(index, error) from error
            applied.append(str(event.event_id))
            outcomes.append("applied")
            if self.refuses(event):
                refused = True
        if refused:
            raise RefusedAtCommit("a write of the batch was refused")
        self.applied = applied
        self.transactions += 1
        return outcomes


class InMemoryDeadLetters:
    def __init__(self) -> None:
        self.records: list[tuple[Record, BaseException]] = []
        self.reasons: list[str] = []

    async def put(self, record: Record, error: BaseException, event_id=None, reason=None) -> None:
        self.records.append((record, error))
        self.reasons.append(reason or reason_of(error))


def created(name: str = "Acme", customer_id: str = "c-1") -> CustomerCreated:
    return CustomerCreated(
        producer="test", customer_id=customer_id, payload=CustomerCreatedPayload(name=name)
    )


def record(value: bytes, offset: int = 0) -> Record:
    """On the customer topic, keyed by its customer as the contract says (b"c-1" if it has none)."""
    try:
        key = json.loads(value)["customer_id"].encode()
    except (ValueError, KeyError, TypeError, AttributeError):
        key = b"c-1"
    return Record("crm.customer.events", 0, offset, key, value)


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
    assert await consumer.process([record(event.to_bytes(), 0)]) == ["applied"]
    assert await consumer.process([record(event.to_bytes(), 1)]) == ["duplicate"]
    assert seen == [event.event_id]
    assert dead_letters.records == []


async def test_bytes_that_are_not_json_are_dead_lettered_as_malformed():
    consumer, dead_letters = consumer_with(None)
    assert await consumer.process([record(b"\x00not json")]) == ["dead-lettered"]
    ((dead, error),) = dead_letters.records
    assert dead.value == b"\x00not json"
    assert reason_of(error) == "malformed"


async def test_an_event_breaking_its_schema_is_dead_lettered_with_the_field_at_fault():
    consumer, dead_letters = consumer_with(None)
    bad = json.loads(created().to_bytes())
    bad["payload"]["name"] = ""
    assert await consumer.process([record(json.dumps(bad).encode())]) == ["dead-lettered"]
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
    on_its_topic = Record("crm.scoring.events", 0, 0, b"c-1", scored.to_bytes())
    assert await consumer.process([on_its_topic]) == ["ignored"]
    assert dead_letters.records == []


async def test_a_valid_event_keyed_otherwise_than_by_its_customer_is_dead_lettered_not_applied():
    consumer, dead_letters = consumer_with(None)
    event = created(customer_id="c-7")
    wrong = [
        Record("crm.customer.events", 0, 0, b"c-8", event.to_bytes()),
        Record("crm.customer.events", 0, 1, None, event.to_bytes()),
    ]
    assert await consumer.process(wrong) == ["dead-lettered"] * 2
    assert dead_letters.reasons == ["wrong-key"] * 2
    assert "is not the customer id 'c-7'" in str(dead_letters.records[0][1])


async def test_a_valid_event_on_another_contract_topic_is_dead_lettered_not_applied():
    consumer, dead_letters = consumer_with(None)
    on_followups = Record("crm.followup.events", 0, 0, b"c-1", created().to_bytes())
    assert await consumer.process([on_followups]) == ["dead-lettered"]
    assert dead_letters.reasons == ["wrong-topic"]
    assert "goes on crm.customer.events" in str(dead_letters.records[0][1])


async def test_a_topic_outside_the_contract_may_hold_any_event_type():
    seen = []

    async def handler(event, uow):
        seen.append(event.event_id)

    consumer, dead_letters = consumer_with(handler)
    event = created()
    own_topic = Record("bench.topic", 0, 0, b"c-1", event.to_bytes())
    assert await consumer.process([own_topic]) == ["applied"]
    assert seen == [event.event_id] and dead_letters.records == []


async def test_a_database_that_is_away_is_waited_for_and_nothing_is_skipped():
    failures = iter([AutoReconnect("down"), AutoReconnect("still down")])

    async def handler(event, uow):
        if (error := next(failures, None)) is not None:
            raise error

    consumer, dead_letters = consumer_with(handler, attempts=1)
    assert await consumer.process([record(created().to_bytes())]) == ["applied"]
    assert dead_letters.records == []


async def test_a_handler_that_keeps_failing_dead_letters_the_event_after_its_attempts():
    calls = []

    async def handler(event, uow):
        calls.append(1)
        raise ValueError("bug")

    consumer, dead_letters = consumer_with(handler, attempts=3)
    assert await consumer.process([record(created().to_bytes())]) == ["dead-lettered"]
    assert len(calls) == 3
    assert reason_of(dead_letters.records[0][1]) == "handler-failed"


async def test_a_handler_that_fails_once_is_tried_again():
    calls = []

    async def handler(event, uow):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("flaky")

    consumer, dead_letters = consumer_with(handler, attempts=3)
    assert await consumer.process([record(created().to_bytes())]) == ["applied"]
    assert dead_letters.records == []


async def test_a_partition_batch_is_one_transaction():
    seen = []

    async def handler(event, uow):
        seen.append(event.payload.name)

    consumer, _ = consumer_with(handler)
    events = [created(f"n{i}", f"c-{i}") for i in range(5)]
    outcomes = await consumer.process([record(e.to_bytes(), i) for i, e in enumerate(events)])
    assert outcomes == ["applied"] * 5
    assert seen == [f"n{i}" for i in range(5)]
    assert consumer.store.transactions == 1


async def test_a_failing_event_is_taken_out_and_the_others_commit_in_order():
    seen = []

    async def handler(event, uow):
        if event.payload.name == "bad":
            raise ValueError("bug")
        seen.append(event.payload.name)

    consumer, dead_letters = consumer_with(handler, attempts=2)
    names = ["a", "b", "bad", "c", "d"]
    events = [created(name, f"c-{i}") for i, name in enumerate(names)]
    outcomes = await consumer.process([record(e.to_bytes(), i) for i, e in enumerate(events)])
    assert outcomes == ["applied", "applied", "dead-lettered", "applied", "applied"]
    assert consumer.store.applied == [str(e.event_id) for e in events if e.payload.name != "bad"]
    assert [r.offset for r, _ in dead_letters.records] == [2]


async def test_a_duplicate_within_one_batch_is_applied_once():
    seen = []

    async def handler(event, uow):
        seen.append(event.event_id)

    consumer, _ = consumer_with(handler)
    event = created()
    outcomes = await consumer.process([record(event.to_bytes(), 0), record(event.to_bytes(), 1)])
    assert outcomes == ["applied", "duplicate"]
    assert seen == [event.event_id]


async def test_after_the_batch_deadline_a_failing_event_is_not_tried_again():
    calls = []

    async def handler(event, uow):
        calls.append(1)
        raise ValueError("bug")

    consumer, dead_letters = consumer_with(handler, attempts=5)
    consumer.batch_deadline_s = 0
    assert await consumer.process([record(created().to_bytes())]) == ["dead-lettered"]
    assert len(calls) == 1
    assert len(dead_letters.records) == 1


async def test_a_batch_refused_at_commit_is_halved_until_the_event_behind_it_is_dead_lettered():
    async def handler(event, uow):
        pass

    consumer, dead_letters = consumer_with(handler)
    consumer.store.refuses = lambda event: event.payload.name == "Refused"
    names = ["A", "B", "Refused", "C", "D", "E"]
    events = [created(name) for name in names]
    outcomes = await consumer.process(
        [record(event.to_bytes(), offset) for offset, event in enumerate(events)]
    )

    assert outcomes == ["applied", "applied", "dead-lettered", "applied", "applied", "applied"]
    assert sorted(consumer.store.applied) == sorted(
        str(event.event_id) for event in events if event.payload.name != "Refused"
    )
    ((dead, error),) = dead_letters.records
    assert dead.offset == 2 and isinstance(error, RefusedAtCommit)


async def test_a_batch_the_database_keeps_refusing_for_a_transient_reason_is_halved():
    async def handler(event, uow):
        pass

    consumer, dead_letters = consumer_with(handler)
    consumer.store.largest = 2
    events = [created(f"Customer {n}") for n in range(8)]
    records = [record(event.to_bytes(), offset) for offset, event in enumerate(events)]

    outcomes = await asyncio.wait_for(consumer.process(records), timeout=10)

    assert outcomes == ["applied"] * 8 and not dead_letters.records
    assert consumer.store.applied == [str(event.event_id) for event in events]
    assert consumer.store.transactions == 4 and consumer.store.refusals == 1 + 2


async def test_an_event_a_handler_cannot_emit_is_dead_lettered_as_the_handlers_failure():
    async def handler(event, uow):
        CustomerCreated.model_validate({"producer": "test"})  # an event the handler got wrong

    consumer, dead_letters = consumer_with(handler, attempts=1)
    assert await consumer.process([record(created().to_bytes())]) == ["dead-lettered"]
    assert dead_letters.reasons == ["handler-failed"], "the record itself is valid"


async def test_a_batch_of_thousands_of_failing_events_is_dead_lettered_without_deep_recursion():
    async def handler(event, uow):
        if event.payload.name.startswith("Bad"):
            raise ValueError("a handler bug")

    consumer, dead_letters = consumer_with(handler, attempts=1)
    names = [f"Bad {n}" if n % 3 else f"Good {n}" for n in range(3000)]
    records = [record(created(name).to_bytes(), offset) for offset, name in enumerate(names)]

    outcomes = await consumer.process(records)

    assert outcomes == ["dead-lettered" if n % 3 else "applied" for n in range(3000)]
    assert len(dead_letters.records) == 2000 and len(consumer.store.applied) == 1000
