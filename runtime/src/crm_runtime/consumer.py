"""The one way a service consumes events. A partition's records of one poll are the unit of work:
parsed (what is bad is dead-lettered), then applied in order in one MongoDB transaction with their
inbox entries and the events they emit. An event whose handlers fail is taken out of the batch:
the events before it commit together, it is tried on its own (then dead-lettered), and the rest
go on as a batch. A failure no handler raised (the batch's queued writes refused at the end, an
emitted event too large) names no event: the batch is halved until the event behind it stands
alone. Transient faults are retried without skipping anything; a batch the database keeps
refusing for a transient reason (conflicts, its time limit) is halved. The Kafka offsets are
committed by the caller only after `process_batch` returns, i.e. once every effect is durable."""

import asyncio
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog
from crm_contracts import ALL_TOPICS, Event, parse_event, topic_of
from pydantic import ValidationError
from pymongo.errors import OperationFailure

from crm_runtime.dead_letters import CustomerNotSeen, DeadLetters, OffContract
from crm_runtime.fences import fence_of, note_position
from crm_runtime.handlers import EventHandler
from crm_runtime.logs import bind_event_context, clear_event_context
from crm_runtime.parking import Parking
from crm_runtime.records import Record
from crm_runtime.retry import until_it_works
from crm_runtime.store import (
    MAX_EVENT_BYTES,
    EventFailed,
    Parked,
    Store,
    UnitOfWork,
    WaitForCustomer,
)

log = structlog.get_logger(__name__)
# A batch's transaction the database refused, though for a reason a retry may resolve (a write
# conflict, its time limit exceeded), is halved rather than tried again whole: a smaller one
# conflicts less and ends sooner. PyMongo's with_transaction has retried it for up to two minutes
# already. A database or broker away is waited for as it is.
SPLIT_AFTER_REFUSALS = 1


class BatchFailed(Exception):
    """The batch's writes failed when sent together, for a reason that names no event (or were
    refused, for a transient reason, again and again)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(repr(error))
        self.error = error


Outcome = Literal["applied", "duplicate", "ignored", "dead-lettered", "parked"]


@dataclass(frozen=True)
class Item:
    """A parsed record this service handles."""

    record: Record
    event: Event


def checked(record: Record) -> Event | ValidationError | OffContract:
    """The record's event, or why it is not one to apply: larger than an event may be, not an
    event (its schema's reasons), or keyed or placed otherwise than the contract says
    (contracts/README.md; a topic outside the contract's, a test's or a benchmark's, may hold any
    type)."""
    if len(record.value) > MAX_EVENT_BYTES:
        size = f"{len(record.value):,} bytes, over the {MAX_EVENT_BYTES:,} an event may have"
        return OffContract("oversized", size)
    try:
        event = parse_event(record.value)
    except ValidationError as error:
        return error
    event_id = str(event.event_id)
    if record.key != event.key():
        return OffContract(
            "wrong-key",
            f"the key {record.key!r} is not the customer id {event.customer_id!r}: the customer's "
            "events would lose their order",
            event_id,
        )
    home = topic_of(event.event_type)
    if record.topic in ALL_TOPICS and record.topic != home:
        wrong = f"{event.event_type} goes on {home}, not {record.topic}"
        return OffContract("wrong-topic", wrong, event_id)
    return event


class EventConsumer:
    def __init__(
        self,
        store: Store,
        handlers: Mapping[type[Event], Sequence[EventHandler]],
        dead_letters: DeadLetters,
        *,
        handler_attempts: int = 5,
        max_backoff_s: float = 10.0,
        batch_deadline_s: float = 60.0,
        parking: Parking | None = None,
        releases_on: Collection[type[Event]] = (),
        counted: Callable[[str, Outcome], None] | None = None,
    ) -> None:
        """`handlers` are the wired handlers of each event type, applied in this order.
        `parking` keeps events whose handler raises WaitForCustomer; an event of a type in
        `releases_on` (a customer appearing) then re-applies what waited for its customer.
        After `batch_deadline_s`, a failing event is dead-lettered at its first failure, so that
        a batch of bad events cannot outlast Kafka's poll interval and stall its partition."""
        self.store = store
        self.handlers = {event_type: list(listed) for event_type, listed in handlers.items()}
        self.dead_letters = dead_letters
        self.handler_attempts = handler_attempts
        self.max_backoff_s = max_backoff_s
        self.batch_deadline_s = batch_deadline_s
        self.parking = parking
        self.releases_on = tuple(releases_on)
        self.counted = counted  # told each record's topic and outcome (metrics)

    async def process_batch(
        self, records: list[Record], ends: Mapping[tuple[str, int], int] | None = None
    ) -> list[Outcome]:
        """Each partition's records in order, partitions side by side (one customer's events share a
        partition, so their order holds). Returns once every effect is durable. `ends`: where each
        partition ended when the records were fetched; each partition's position is then noted
        (fences.note_position), so that reports tell their lag without asking Kafka."""
        by_partition: dict[tuple[str, int], list[Record]] = {}
        for record in records:
            by_partition.setdefault((record.topic, record.partition), []).append(record)

        async def process(partition: tuple[str, int], batch: list[Record]) -> list[Outcome]:
            outcomes = await self.process(batch)
            if ends is not None and partition in ends:
                fence = fence_of(*partition)
                await note_position(self.store.db, fence, batch[-1].offset + 1, ends[partition])
            return outcomes

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(process(*each)) for each in by_partition.items()]
        return [outcome for task in tasks for outcome in task.result()]

    async def process(self, records: Sequence[Record]) -> list[Outcome]:
        """One partition's records, in order."""
        deadline = time.monotonic() + self.batch_deadline_s
        outcomes: dict[int, Outcome] = {}
        items: list[tuple[int, Item]] = []
        for index, record in enumerate(records):
            event = checked(record)
            if isinstance(event, Exception):
                known_id = event.event_id if isinstance(event, OffContract) else None
                await self.dead_letters.put(record, event, known_id)
                outcomes[index] = "dead-lettered"
                continue
            if type(event) not in self.handlers:
                outcomes[index] = "ignored"
            else:
                items.append((index, Item(record, event)))
        applied = await self._apply_all([item for _, item in items], deadline)
        outcomes.update(
            (index, outcome) for (index, _), outcome in zip(items, applied, strict=True)
        )
        await self._release([item for _, item in items], applied)
        ordered = [outcomes[index] for index in range(len(records))]
        if self.counted is not None:
            for record, outcome in zip(records, ordered, strict=True):
                self.counted(record.topic, outcome)
        return ordered

    async def _release(self, items: list[Item], outcomes: list[Outcome]) -> None:
        """A customer appeared (or appeared again, as a duplicate): what waited for it goes on."""
        if self.parking is None:
            return
        appeared = {
            item.event.customer_id
            for item, outcome in zip(items, outcomes, strict=True)
            if isinstance(item.event, self.releases_on) and outcome in ("applied", "duplicate")
        }
        for customer_id in sorted(appeared):
            await self.retry_parked(await self.parking.waiting_for(customer_id))

    async def retry_parked(self, records: list[Record]) -> list[Outcome]:
        """Parked events applied again; those still waiting stay parked."""
        items = []
        for record in records:
            try:
                items.append(Item(record, parse_event(record.value)))
            except ValidationError as error:  # parked under an older schema: it cannot wait on
                await self.dead_letters.put(record, error)
                if self.parking is not None:
                    await self.parking.forget_record(record)
        if not items:
            return []
        deadline = time.monotonic() + self.batch_deadline_s
        outcomes = await self._apply_all(items, deadline, unpark=True)
        for item, outcome in zip(items, outcomes, strict=True):
            if outcome != "parked":
                log.info(
                    "parked event released",
                    outcome=outcome,
                    event_id=str(item.event.event_id),
                    customer_id=item.event.customer_id,
                )
        return outcomes

    async def sweep_parked(self) -> int:
        """Parked events tried again (a release can only be missed, never lost), then what waited
        too long dead-lettered. Returns how many were dead-lettered."""
        if self.parking is None:
            return 0
        await self.retry_parked(await self.parking.oldest())
        return await self.parking.expire()

    async def _apply_all(
        self, items: list[Item], deadline: float, unpark: bool = False
    ) -> list[Outcome]:
        """The items in one transaction; when one fails, those before it in one, it alone (tried
        again, then dead-lettered), and those after it again as a batch."""
        outcomes: list[Outcome] = []
        remaining = items
        # A loop, not recursion, over failing events: a batch may hold thousands of them.
        while remaining:
            try:
                return [*outcomes, *await self._transact(remaining, unpark)]
            except EventFailed as failed:
                index = failed.index
                outcomes += await self._apply_all(remaining[:index], deadline, unpark)
                outcomes.append(
                    await self._apply_one(remaining[index], failed.error, deadline, unpark)
                )
                remaining = remaining[index + 1 :]
            except BatchFailed as failed:
                half = len(remaining) // 2
                log.warning("a batch failed as a whole, halving it", error=repr(failed.error))
                outcomes += await self._apply_all(remaining[:half], deadline, unpark)
                remaining = remaining[half:]
        return outcomes

    async def _apply_one(
        self, item: Item, error: Exception, deadline: float, unpark: bool
    ) -> Outcome:
        bind_event_context(item.event)
        try:
            if isinstance(error, WaitForCustomer):  # no parking here: it cannot wait
                error = CustomerNotSeen(f"customer {error} not known")
            for attempt in range(1, self.handler_attempts):
                if time.monotonic() > deadline or isinstance(error, CustomerNotSeen):
                    break
                log.warning("handler failed, trying again", attempt=attempt, error=repr(error))
                await asyncio.sleep(min(0.2 * 2**attempt, self.max_backoff_s))
                try:
                    return (await self._transact([item], unpark))[0]
                except EventFailed as failed:
                    error = failed.error
                    if isinstance(error, WaitForCustomer):
                        error = CustomerNotSeen(f"customer {error} not known")
            unknown = isinstance(error, CustomerNotSeen)
            await self.dead_letters.put(
                item.record,
                error,
                event_id=str(item.event.event_id),
                reason="customer-unknown" if unknown else "handler-failed",
            )
            if unpark and self.parking is not None:
                await self.parking.forget(item.event)
            return "dead-lettered"
        finally:
            clear_event_context()

    async def _transact(self, items: list[Item], unpark: bool) -> list[Outcome]:
        records = {item.event.event_id: item.record for item in items}

        async def apply(event: Event, uow: UnitOfWork) -> None:
            bind_event_context(event)
            try:
                for handler in self.handlers[type(event)]:
                    await handler(event, uow)
            finally:
                clear_event_context()

        def parked(event: Event) -> Parked:
            record = records[event.event_id]
            log.info("parked until its customer appears", event_id=str(event.event_id))
            return Parked(
                event,
                {
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "key": record.key,
                    "value": record.value,
                },
            )

        events = [item.event for item in items]
        # A partition's batch, not parked events (from any partition): the former are paused.
        first = items[0].record
        fence = None if unpark else fence_of(first.topic, first.partition)
        refusals: list[OperationFailure] = []
        try:
            async for transient in until_it_works(self.max_backoff_s):
                with transient:
                    if len(refusals) >= SPLIT_AFTER_REFUSALS and len(items) > 1:
                        raise BatchFailed(refusals[-1])
                    try:
                        applied = await self.store.run_batch(
                            events,
                            apply,
                            parked=parked if self.parking is not None else None,
                            unpark=unpark,
                            fence=fence,
                        )
                    except OperationFailure as refused:
                        refusals.append(refused)
                        raise
        except (EventFailed, BatchFailed):
            raise
        except Exception as error:  # not transient: until_it_works retried those
            if len(items) == 1:
                raise EventFailed(0, error) from error
            raise BatchFailed(error) from error
        return list(applied)
