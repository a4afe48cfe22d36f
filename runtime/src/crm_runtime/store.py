"""A service's MongoDB database: transactions that carry outgoing events (the outbox) and the
record of consumed events (the inbox), so state, events out and events in commit together.

A transaction is one command, or one partition batch of consumed events: the inbox is asked once
for the whole batch, the handlers apply the events one by one against one unit of work, and their
queued writes, the inbox entries and the outbox rows go to MongoDB together at the end."""

import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from crm_contracts import Event, topic_of
from pymongo import ASCENDING, AsyncMongoClient, InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure

from crm_runtime import fences, idempotency
from crm_runtime.errors import PayloadTooLarge
from crm_runtime.idempotency import RequestKey
from crm_runtime.retry import is_transient

T = TypeVar("T")
OUTBOX = "outbox"
INBOX = "processed_events"
PARKED = "parked_events"
DEAD_LETTERS = "dead_letters"
SENT_RETENTION_S = 7 * 24 * 3600
NAMESPACE_EXISTS = 48  # MongoDB's code for a collection made already
# Kafka refuses a record over about 1 MiB (message.max.bytes); an event is refused well before,
# when it is written, so that one can never block the outbox.
MAX_EVENT_BYTES = 900_000
Applied = Literal["applied", "duplicate", "parked", "dead-lettered"]
WriteModel = Any  # pymongo's InsertOne, UpdateOne, UpdateMany, ReplaceOne, DeleteOne...
BeforeCommit = Callable[[], Awaitable[None] | None]


class WaitForCustomer(Exception):
    """A handler's way to say: this event refers to a customer not seen yet. Raised before the
    handler writes anything; the event is parked in the same transaction."""


class UnitOfWork:
    """What a handler gets: the database and the transaction's session, a queue of writes sent
    together at the end (or before the next read through `read`), a place to emit events, and
    `memo`, a cache that lives as long as the transaction (documents read once per batch).

    `events` are the batch's events (one for a command's transaction is none), so that an adapter
    can read every document the batch needs in one query."""

    def __init__(
        self, db: AsyncDatabase[Any], session: AsyncClientSession, events: Sequence[Event] = ()
    ) -> None:
        self.db = db
        self.session = session
        self.events = events
        self.emitted: list[Event] = []
        self.memo: dict[str, Any] = {}
        self._writes: list[tuple[str, WriteModel]] = []
        self._before_commit: dict[str, BeforeCommit] = {}
        self._flushes = 0

    def emit(self, event: Event) -> None:
        self.emitted.append(event)

    def write(self, collection: str, *operations: WriteModel) -> None:
        """Queues writes, sent in order with the batch's other writes (one round trip per run
        of writes to one collection). Read them back only through `read`, which sends them
        first."""
        self._writes.extend((collection, operation) for operation in operations)

    def before_commit(self, name: str, callback: BeforeCommit) -> None:
        """`callback` (plain or async) runs once before the transaction commits (registered once
        per name, run in that order): an adapter that keeps changed documents in `memo` queues
        each one's single write there; a handler may do once per batch what its events asked
        for. One registered while the callbacks run runs after them."""
        self._before_commit.setdefault(name, callback)

    async def finish(self) -> None:
        """Runs the before-commit callbacks and sends every queued write."""
        while self._before_commit:
            callbacks, self._before_commit = self._before_commit, {}
            for callback in callbacks.values():
                result = callback()
                if result is not None:
                    await result
        await self.flush()

    async def read(self, collection: str) -> Any:
        """The collection, once the queued writes are sent: read it with session=uow.session."""
        await self.flush()
        return self.db[collection]

    async def flush(self) -> None:
        writes, self._writes = self._writes, []
        self._flushes += 1
        start = 0
        while start < len(writes):
            collection = writes[start][0]
            end = start
            while end < len(writes) and writes[end][0] == collection:
                end += 1
            await self.db[collection].bulk_write(
                [operation for _, operation in writes[start:end]], session=self.session
            )
            start = end

    def mark(self) -> tuple[int, int, int]:
        """Where the queued writes and emitted events stand, to drop what one event added."""
        return len(self._writes), len(self.emitted), self._flushes

    def undo(self, mark: tuple[int, int, int]) -> bool:
        """Drops the queued writes and emitted events since `mark`; False when some writes were
        already sent (a read flushed them), so that only rolling back the transaction undoes
        them. The memo is not undone: a handler that may park checks before it changes state."""
        writes, emitted, flushes = mark
        if self._flushes != flushes:
            return False
        del self._writes[writes:]
        del self.emitted[emitted:]
        return True


class EventFailed(Exception):
    """The handlers of the batch's event at `index` raised `error` (not a transient fault): the
    whole transaction was rolled back."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(f"event {index} of the batch failed: {error!r}")
        self.index = index
        self.error = error


@dataclass(frozen=True)
class Parked:
    """What parking needs to keep of an event that waits for its customer."""

    event: Event
    record: dict[str, Any]  # topic, partition, offset, key, value


def outbox_document(event: Event, pos: int) -> dict[str, Any]:
    value = event.to_bytes()
    if len(value) > MAX_EVENT_BYTES:
        raise PayloadTooLarge(
            f"{event.event_type} would be {len(value):,} bytes, over the {MAX_EVENT_BYTES:,} "
            "an event may have"
        )
    return {
        "_id": str(event.event_id),
        "topic": topic_of(event.event_type),
        "key": event.key(),
        "value": value,
        "event_type": event.event_type,
        "correlation_id": str(event.correlation_id),
        "created_at": datetime.now(UTC),
        "pos": pos,  # its place among its transaction's events; "at" is stamped when written
        "sent": False,
    }


def inbox_document(event: Event) -> dict[str, Any]:
    return {
        "_id": str(event.event_id),
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "applied_at": datetime.now(UTC),
    }


def parked_document(parked: Parked) -> dict[str, Any]:
    return {
        **parked.record,
        "_id": str(parked.event.event_id),
        "customer_id": parked.event.customer_id,
        "event_type": parked.event.event_type,
        "parked_at": datetime.now(UTC),
    }


class Store:
    def __init__(
        self,
        client: AsyncMongoClient[Any],
        database_name: str,
        inbox_retention_s: float = SENT_RETENTION_S,
    ) -> None:
        self.client = client
        self.db: AsyncDatabase[Any] = client[database_name]
        self.inbox_retention_s = inbox_retention_s
        # So that adapters read alike from a Store (no transaction) or a UnitOfWork (its session).
        self.session: AsyncClientSession | None = None
        self._on_emit: list[Callable[[], None]] = []
        self._request: RequestKey | None = None

    def keyed(self, request: RequestKey) -> "Store":
        """This store for one HTTP request with an Idempotency-Key: its command's transaction
        answers as the first request with that key did, if that one committed, without running
        again. (The transaction's answer must hold what the request answers with: the ids it
        made, not just the fact that it ran.)"""
        view = copy.copy(self)
        view._request = request
        return view

    def on_emit(self, callback: Callable[[], None]) -> None:
        """Called after a commit that emitted events (the relay uses it to publish at once)."""
        self._on_emit.append(callback)

    async def ensure_indexes(self) -> None:
        await self.db[OUTBOX].create_index([("sent", ASCENDING), ("at", ASCENDING), ("pos", 1)])
        # Sent events stay a week for inspection, then MongoDB drops them; pending ones never
        # expire.
        await self.db[OUTBOX].create_index("sent_at", expireAfterSeconds=SENT_RETENTION_S)
        await self.db[DEAD_LETTERS].create_index("event_id", sparse=True)
        # Made here, not by a batch's first write: a pause must conflict with a batch in flight,
        # which it does not while the collection itself is still being made in that batch.
        try:
            await self.db.create_collection(fences.FENCES)
        except CollectionInvalid:  # made already
            pass
        except OperationFailure as error:  # made meanwhile, by an instance starting beside this one
            if error.code != NAMESPACE_EXISTS:
                raise
        await self._inbox_retention()
        await idempotency.ensure_index(self.db)

    async def _inbox_retention(self) -> None:
        """Inbox entries expire after the retention: a duplicate delivered later than that would
        apply again. Also tells how fresh a read model is (the newest `applied_at`)."""
        seconds = int(self.inbox_retention_s)
        try:
            await self.db[INBOX].create_index("applied_at", expireAfterSeconds=seconds)
        except OperationFailure as error:
            if error.code not in (85, 86):  # the index exists with other options: change them
                raise
            await self.db.command(
                "collMod",
                INBOX,
                index={"keyPattern": {"applied_at": 1}, "expireAfterSeconds": seconds},
            )

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Runs `work` (a command) in one transaction; its queued writes and emitted events go to
        MongoDB in that transaction."""

        # The request's command is its first transaction; what follows (assigning queued
        # customers, say) is work any request may do, and is done again.
        request, self._request = self._request, None

        async def body(uow: UnitOfWork) -> T:
            if request is not None:
                seen = await idempotency.answered(uow.db, uow.session, request)
                if seen is not None:
                    return seen["result"]  # type: ignore[no-any-return]
            result = await work(uow)
            await uow.finish()
            if request is not None:
                return await idempotency.remember(uow.db, uow.session, request, result)  # type: ignore[no-any-return]
            return result

        return await self._transaction(body)

    async def run_batch(
        self,
        events: Sequence[Event],
        apply: Callable[[Event, UnitOfWork], Awaitable[None]],
        *,
        parked: Callable[[Event], Parked] | None = None,
        unpark: bool = False,
        fence: str | None = None,
    ) -> list[Applied]:
        """Applies a partition's events, in order, in one transaction: each event not in the
        inbox (nor dead-lettered before) goes through `apply`, and is recorded in the inbox in
        the same transaction. Returns each event's outcome.

        An event whose handler raises WaitForCustomer is parked in the transaction (`parked`
        says what to keep of it); with `unpark`, the events leave the parked ones as they apply.
        Any other error of a handler rolls everything back and is raised as EventFailed, naming
        the event; transient faults are raised as they are, for the caller to retry. A batch of
        one partition names it as `fence` (fences.py): while the consumers are paused, it raises
        Paused."""

        async def body(uow: UnitOfWork) -> list[Applied]:
            session = uow.session
            if fence is not None:
                await fences.enter(self.db, session, fence)
            ids = [str(event.event_id) for event in events]
            done = {
                entry["_id"]
                for entry in await self.db[INBOX]
                .find({"_id": {"$in": ids}}, {"_id": 1}, session=session)
                .to_list()
            }
            dead = {
                entry["event_id"]
                for entry in await self.db[DEAD_LETTERS]
                .find({"event_id": {"$in": ids}}, {"event_id": 1}, session=session)
                .to_list()
            }
            outcomes: list[Applied] = []
            for index, event in enumerate(events):
                event_id = ids[index]
                if event_id in done:
                    outcomes.append("duplicate")
                    continue
                if event_id in dead:
                    outcomes.append("dead-lettered")
                    continue
                mark = uow.mark()
                try:
                    await apply(event, uow)
                except WaitForCustomer as waiting:
                    if parked is None or not uow.undo(mark):
                        raise EventFailed(index, waiting) from waiting
                    if not unpark:
                        uow.write(PARKED, _park(parked(event)))
                    outcomes.append("parked")
                    continue
                except Exception as error:
                    if is_transient(error):
                        raise
                    raise EventFailed(index, error) from error
                done.add(event_id)
                outcomes.append("applied")
            entered = [
                InsertOne(inbox_document(event))
                for event, outcome in zip(events, outcomes, strict=True)
                if outcome == "applied"
            ]
            if entered:
                uow.write(INBOX, *entered)
            await uow.finish()
            if unpark:
                left = [
                    ids[index]
                    for index, outcome in enumerate(outcomes)
                    if outcome in ("applied", "duplicate", "dead-lettered")
                ]
                await self.db[PARKED].delete_many({"_id": {"$in": left}}, session=session)
            return outcomes

        return await self._transaction(body, events)

    async def _transaction(
        self, body: Callable[[UnitOfWork], Awaitable[T]], events: Sequence[Event] = ()
    ) -> T:
        """One transaction, retried whole on a transient conflict: `body`, then the events it
        emitted into the outbox; the relay is woken once it has committed."""
        emitted: list[Event] = []

        async def in_transaction(session: AsyncClientSession) -> T:
            uow = UnitOfWork(self.db, session, events)
            result = await body(uow)
            await self._commit_outbox(uow, session)
            emitted[:] = uow.emitted
            return result

        async with self.client.start_session() as session:
            result = await session.with_transaction(in_transaction)
        self._emitted(emitted)
        return result

    async def _commit_outbox(self, uow: UnitOfWork, session: AsyncClientSession) -> None:
        """The emitted events, each stamped with the cluster time of its write ($$CLUSTER_TIME,
        the server's logical clock), so the relay publishes in causal order: a transaction that
        read or overwrote another's effects began after that one committed, so its events carry
        a later time. Unrelated transactions may interleave, which Kafka's per-key order does not
        mind. No shared counter: transactions on different keys never conflict over the order."""
        if uow.emitted:
            await self.db[OUTBOX].bulk_write(
                [_stamped(outbox_document(event, pos)) for pos, event in enumerate(uow.emitted)],
                session=session,
            )

    def _emitted(self, emitted: list[Event]) -> None:
        if emitted:
            for callback in self._on_emit:
                callback()


def _stamped(row: dict[str, Any]) -> WriteModel:
    # An upsert through a pipeline, the one way to write $$CLUSTER_TIME; $literal keeps values
    # that look like expressions ("$..." strings in a payload) as they are.
    fields = {name: {"$literal": value} for name, value in row.items() if name != "_id"}
    return UpdateOne(
        {"_id": row["_id"]}, [{"$set": {**fields, "at": "$$CLUSTER_TIME"}}], upsert=True
    )


def _park(parked: Parked) -> WriteModel:
    return UpdateOne(
        {"_id": str(parked.event.event_id)}, {"$setOnInsert": parked_document(parked)}, upsert=True
    )
