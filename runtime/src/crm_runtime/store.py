"""A service's MongoDB database: transactions that carry outgoing events (the outbox) and the
record of consumed events (the inbox), so state, events out and events in commit together."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from crm_contracts import Event, topic_of
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

T = TypeVar("T")
OUTBOX = "outbox"
INBOX = "processed_events"
PARKED = "parked_events"
SENT_RETENTION_S = 7 * 24 * 3600


class UnitOfWork:
    """What a handler gets: the database, the transaction's session, and a place to emit events."""

    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession) -> None:
        self.db = db
        self.session = session
        self.emitted: list[Event] = []

    def emit(self, event: Event) -> None:
        self.emitted.append(event)


class AlreadyApplied(Exception):
    """The consumed event's id is in the inbox: its effect is already durable."""


def outbox_document(event: Event) -> dict[str, Any]:
    return {
        "_id": str(event.event_id),
        "topic": topic_of(event.event_type),
        "key": event.key(),
        "value": event.to_bytes(),
        "event_type": event.event_type,
        "correlation_id": str(event.correlation_id),
        "created_at": datetime.now(UTC),
        "sent": False,
    }


class Store:
    def __init__(self, client: AsyncMongoClient[Any], database_name: str) -> None:
        self.client = client
        self.db: AsyncDatabase[Any] = client[database_name]
        # So that adapters read alike from a Store (no transaction) or a UnitOfWork (its session).
        self.session: AsyncClientSession | None = None
        self._on_emit: list[Callable[[], None]] = []

    def on_emit(self, callback: Callable[[], None]) -> None:
        """Called after a commit that emitted events (the relay uses it to publish at once)."""
        self._on_emit.append(callback)

    async def ensure_indexes(self) -> None:
        await self.db[OUTBOX].create_index([("sent", ASCENDING), ("created_at", ASCENDING)])
        await self.db[INBOX].create_index("applied_at")  # how fresh a read model is
        # Sent events stay a week for inspection, then MongoDB drops them; pending ones never
        # expire.
        await self.db[OUTBOX].create_index("sent_at", expireAfterSeconds=SENT_RETENTION_S)

    async def run(
        self,
        work: Callable[[UnitOfWork], Awaitable[T]],
        *,
        consumed: Event | None = None,
        unpark: bool = False,
    ) -> T:
        """Runs `work` in one transaction; its emitted events go to the outbox in that transaction.

        With `consumed`, the event's id is recorded in the inbox in the same transaction, and
        AlreadyApplied is raised (nothing changes) when it was applied before. With `unpark`, the
        consumed event also leaves the parked events in that transaction.
        """
        emitted: list[Event] = []

        async def in_transaction(session: AsyncClientSession) -> T:
            uow = UnitOfWork(self.db, session)
            if consumed is not None:
                try:
                    await self.db[INBOX].insert_one(
                        {
                            "_id": str(consumed.event_id),
                            "event_type": consumed.event_type,
                            "occurred_at": consumed.occurred_at,
                            "applied_at": datetime.now(UTC),
                        },
                        session=session,
                    )
                except DuplicateKeyError as duplicate:
                    raise AlreadyApplied(str(consumed.event_id)) from duplicate
                if unpark:
                    await self.db[PARKED].delete_one(
                        {"_id": str(consumed.event_id)}, session=session
                    )
            result = await work(uow)
            if uow.emitted:
                await self.db[OUTBOX].insert_many(
                    [outbox_document(e) for e in uow.emitted], session=session
                )
            emitted[:] = uow.emitted
            return result

        async with self.client.start_session() as session:
            result = await session.with_transaction(in_transaction)
        if emitted:
            for callback in self._on_emit:
                callback()
        return result
