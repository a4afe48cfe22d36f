"""The one way a service consumes events: parse, dead-letter what is bad, apply the rest exactly
once in a MongoDB transaction, retry transient faults without skipping. The Kafka offset is
committed by the caller only after `process` returns, i.e. once the effect is durable."""

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Literal

import structlog
from crm_contracts import Event, parse_event
from pydantic import ValidationError

from crm_runtime.dead_letters import CustomerNotSeen, DeadLetters
from crm_runtime.handlers import EventHandler
from crm_runtime.logs import bind_event_context, clear_event_context
from crm_runtime.parking import Parking, WaitForCustomer
from crm_runtime.records import Record
from crm_runtime.retry import until_it_works
from crm_runtime.store import AlreadyApplied, Store, UnitOfWork

log = structlog.get_logger(__name__)
Outcome = Literal["applied", "duplicate", "ignored", "dead-lettered", "parked"]


class EventConsumer:
    def __init__(
        self,
        store: Store,
        handlers: Mapping[type[Event], Sequence[EventHandler]],
        dead_letters: DeadLetters,
        *,
        handler_attempts: int = 5,
        max_backoff_s: float = 10.0,
        parking: Parking | None = None,
        releases_on: Collection[type[Event]] = (),
        counted: Callable[[str, Outcome], None] | None = None,
    ) -> None:
        """`handlers` are the wired handlers of each event type, all applied in one transaction.
        `parking` keeps events whose handler raises WaitForCustomer; an event of a type in
        `releases_on` (a customer appearing) then re-applies what waited for its customer."""
        self.store = store
        self.handlers = {event_type: list(listed) for event_type, listed in handlers.items()}
        self.dead_letters = dead_letters
        self.handler_attempts = handler_attempts
        self.max_backoff_s = max_backoff_s
        self.parking = parking
        self.releases_on = tuple(releases_on)
        self.counted = counted  # told each record's topic and outcome (metrics)

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
            self.counted(record.topic, outcome)
        return outcome

    async def _process(self, record: Record) -> Outcome:
        try:
            event = parse_event(record.value)
        except ValidationError as error:
            await self.dead_letters.put(record, error)
            return "dead-lettered"
        handlers = self.handlers.get(type(event))
        if not handlers:
            return "ignored"
        bind_event_context(event)
        try:
            outcome = await self._apply(event, handlers, record)
            if (
                outcome == "applied"
                and isinstance(event, self.releases_on)
                and self.parking is not None
            ):
                await self._release(event.customer_id)
            return outcome
        finally:
            clear_event_context()

    async def _release(self, customer_id: str) -> None:
        assert self.parking is not None  # only called when there is one
        for record in await self.parking.waiting_for(customer_id):
            event = parse_event(record.value)
            bind_event_context(event)
            outcome = await self._apply(event, self.handlers[type(event)], record, unpark=True)
            log.info("parked event released", outcome=outcome)

    async def _apply(
        self, event: Event, handlers: Sequence[EventHandler], record: Record, unpark: bool = False
    ) -> Outcome:
        async def every_handler(uow: UnitOfWork) -> None:
            for handler in handlers:
                await handler(event, uow)

        for attempt in range(1, self.handler_attempts + 1):
            try:
                async for transient in until_it_works(self.max_backoff_s):
                    with transient:
                        await self.store.run(every_handler, consumed=event, unpark=unpark)
                return "applied"
            except AlreadyApplied:
                log.info("duplicate event ignored")
                if unpark and self.parking is not None:
                    await self.parking.forget(event)
                return "duplicate"
            except WaitForCustomer as waiting:
                if self.parking is None:
                    await self.dead_letters.put(record, CustomerNotSeen(str(waiting)))
                    return "dead-lettered"
                if not unpark:
                    await self.parking.park(event, record)
                return "parked"
            except Exception as error:
                if attempt == self.handler_attempts:
                    await self.dead_letters.put(record, error)
                    return "dead-lettered"
                log.warning("handler failed, trying again", attempt=attempt, error=repr(error))
                await asyncio.sleep(min(0.2 * 2**attempt, self.max_backoff_s))
        raise AssertionError("unreachable")
