"""The one way a service consumes events: parse, dead-letter what is bad, apply the rest exactly
once in a MongoDB transaction, retry transient faults without skipping. The Kafka offset is
committed by the caller only after `process` returns, i.e. once the effect is durable."""

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from pydantic import ValidationError

from crm_contracts import Event, dead_letter_topic, parse_event
from crm_runtime.logs import bind_event_context, clear_event_context
from crm_runtime.outbox import Send
from crm_runtime.parking import CustomerNotSeen, Parking, WaitForCustomer
from crm_runtime.retry import until_it_works
from crm_runtime.store import AlreadyApplied, Store, UnitOfWork

log = structlog.get_logger(__name__)
EventHandler = Callable[[Any, UnitOfWork], Awaitable[None]]
Outcome = Literal["applied", "duplicate", "ignored", "dead-lettered", "parked"]
DEAD_LETTERS = "dead_letters"
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class Record:
    """One Kafka record, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: Any) -> "Record":
        return cls(raw.topic, raw.partition, raw.offset, raw.key, raw.value or b"", dict(raw.headers or ()))


def describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        text = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or '(message)'}: {detail['msg']}"
            for detail in error.errors(include_url=False, include_input=False)
        )
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:MAX_ERROR_CHARS]


def reason_of(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        kinds = {detail["type"] for detail in error.errors()}
        return "malformed" if kinds & {"json_invalid", "json_type", "model_type"} else "schema-invalid"
    if isinstance(error, CustomerNotSeen):
        return "customer-unknown"
    return "handler-failed"


class DeadLetters:
    """Sends a record to its topic's dead-letter topic with the reason, and counts it in MongoDB."""

    def __init__(self, send: Send, store: Store, consumer_group: str, max_backoff_s: float,
                 counted: Callable[[str], None] | None = None) -> None:
        self.send = send
        self.store = store
        self.consumer_group = consumer_group
        self.max_backoff_s = max_backoff_s
        self.counted = counted  # told each dead letter's reason (metrics)

    async def put(self, record: Record, error: BaseException) -> None:
        reason, detail = reason_of(error), describe(error)
        headers = {
            "dlt.reason": reason,
            "dlt.error": detail,
            "dlt.source.topic": record.topic,
            "dlt.source.partition": str(record.partition),
            "dlt.source.offset": str(record.offset),
            "dlt.consumer.group": self.consumer_group,
            "dlt.at": datetime.now(UTC).isoformat(),
        }
        async for attempt in until_it_works(self.max_backoff_s):
            with attempt:
                confirmation = await self.send(dead_letter_topic(record.topic), record.key or b"", record.value, headers)
                await confirmation
                await self.store.db[DEAD_LETTERS].update_one(
                    {"_id": f"{record.topic}:{record.partition}:{record.offset}"},
                    {"$setOnInsert": {"reason": reason, "error": detail, "group": self.consumer_group,
                                      "at": datetime.now(UTC)}},
                    upsert=True,
                )
        if self.counted is not None:
            self.counted(reason)
        log.error("dead-lettered", reason=reason, error=detail, topic=record.topic,
                  partition=record.partition, offset=record.offset)


class EventConsumer:
    def __init__(
        self,
        store: Store,
        handlers: Mapping[type[Event], EventHandler],
        dead_letters: DeadLetters,
        *,
        handler_attempts: int = 5,
        max_backoff_s: float = 10.0,
        parking: Parking | None = None,
        releases_on: Collection[type[Event]] = (),
        counted: Callable[[Outcome], None] | None = None,
    ) -> None:
        """`parking` keeps events whose handler raises WaitForCustomer; an event of a type in
        `releases_on` (a customer appearing) then re-applies what waited for its customer."""
        self.store = store
        self.handlers = dict(handlers)
        self.dead_letters = dead_letters
        self.handler_attempts = handler_attempts
        self.max_backoff_s = max_backoff_s
        self.parking = parking
        self.releases_on = tuple(releases_on)
        self.counted = counted  # told each record's outcome (metrics)

    async def process_batch(self, records: list[Record]) -> list[Outcome]:
        """Each partition's records in order, partitions side by side (one customer's events share a
        partition, so their order holds). Returns once every effect is durable."""
        by_partition: dict[tuple[str, int], list[Record]] = {}
        for record in records:
            by_partition.setdefault((record.topic, record.partition), []).append(record)

        async def in_order(partition_records: list[Record]) -> list[Outcome]:
            return [await self.process(record) for record in partition_records]

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(in_order(batch)) for batch in by_partition.values()]
        return [outcome for task in tasks for outcome in task.result()]

    async def process(self, record: Record) -> Outcome:
        outcome = await self._process(record)
        if self.counted is not None:
            self.counted(outcome)
        return outcome

    async def _process(self, record: Record) -> Outcome:
        try:
            event = parse_event(record.value)
        except ValidationError as error:
            await self.dead_letters.put(record, error)
            return "dead-lettered"
        handler = self.handlers.get(type(event))
        if handler is None:
            return "ignored"
        bind_event_context(event)
        try:
            outcome = await self._apply(event, handler, record)
            if outcome == "applied" and isinstance(event, self.releases_on) and self.parking is not None:
                await self._release(event.customer_id)
            return outcome
        finally:
            clear_event_context()

    async def _release(self, customer_id: str) -> None:
        for record in await self.parking.waiting_for(customer_id):
            event = parse_event(record.value)
            bind_event_context(event)
            outcome = await self._apply(event, self.handlers[type(event)], record, unpark=True)
            log.info("parked event released", outcome=outcome)

    async def _apply(self, event: Event, handler: EventHandler, record: Record, unpark: bool = False) -> Outcome:
        for attempt in range(1, self.handler_attempts + 1):
            try:
                async for transient in until_it_works(self.max_backoff_s):
                    with transient:
                        await self.store.run(lambda uow: handler(event, uow), consumed=event, unpark=unpark)
                return "applied"
            except AlreadyApplied:
                log.info("duplicate event ignored")
                if unpark:
                    await self.parking.forget(event)
                return "duplicate"
            except WaitForCustomer as waiting:
                if self.parking is None:
                    await self.dead_letters.put(record, CustomerNotSeen(str(waiting)))
                    return "dead-lettered"
                if not unpark:
                    await self.parking.park(event, record)
                return "parked"
            except Exception as error:  # noqa: BLE001 - a bug for this event must not stop the partition
                if attempt == self.handler_attempts:
                    await self.dead_letters.put(record, error)
                    return "dead-lettered"
                log.warning("handler failed, trying again", attempt=attempt, error=repr(error))
                await asyncio.sleep(min(0.2 * 2**attempt, self.max_backoff_s))
        raise AssertionError("unreachable")
