"""The outbox relay: publishes committed events in commit order, then marks them sent.

A crash between publish and mark re-publishes on restart (at least once; consumers dedup by
event_id). With several instances, a lease in MongoDB lets one relay publish at a time, so one
customer's events keep their order.
"""

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from crm_runtime.retry import is_transient
from crm_runtime.store import OUTBOX, Store

log = structlog.get_logger(__name__)
LEASES = "leases"
# send(topic, key, value, headers) queues one record and returns an awaitable of its
# acknowledgement.
Send = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[Awaitable[Any]]]


class OutboxRelay:
    def __init__(
        self,
        store: Store,
        send: Send,
        *,
        poll_interval_s: float = 0.5,
        batch_size: int = 200,
        lease_s: float = 10.0,
        counted: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.send = send
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.lease_s = lease_s
        self.counted = counted  # told how many each pass published (metrics)
        self.holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = False
        store.on_emit(self._wake.set)

    def stop(self) -> None:
        """Ends the loop after the pass in progress, so a clean stop re-publishes nothing."""
        self._stopping = True
        self._wake.set()

    async def run_forever(self) -> None:
        while not self._stopping:
            try:
                published = await self.publish_pending() if await self.hold_lease() else 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.error(
                    "outbox relay pass failed", error=repr(error), transient=is_transient(error)
                )
                published = 0
            if published < self.batch_size and not self._stopping:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)

    async def hold_lease(self) -> bool:
        now = datetime.now(UTC)
        try:
            lease = await self.store.db[LEASES].find_one_and_update(
                {
                    "_id": "outbox-relay",
                    "$or": [{"holder": self.holder}, {"expires_at": {"$lt": now}}],
                },
                {
                    "$set": {
                        "holder": self.holder,
                        "expires_at": now + timedelta(seconds=self.lease_s),
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # another relay holds a live lease
        return lease is not None and lease["holder"] == self.holder

    async def release_lease(self) -> None:
        """On a clean stop, so another instance takes over at once rather than after the lease
        ends."""
        await self.store.db[LEASES].delete_one({"_id": "outbox-relay", "holder": self.holder})

    async def publish_pending(self) -> int:
        """One pass: publish up to batch_size pending events, in order, then mark them sent."""
        outbox = self.store.db[OUTBOX]
        batch = (
            await outbox.find({"sent": False})
            .sort("created_at", 1)
            .limit(self.batch_size)
            .to_list()
        )
        if not batch:
            return 0
        # Queued in commit order, then confirmed together: the idempotent producer keeps each
        # partition's order, and nothing is marked sent before the broker has acknowledged it.
        confirmations = [
            await self.send(
                document["topic"],
                bytes(document["key"]),
                bytes(document["value"]),
                {
                    "event_type": document["event_type"],
                    "correlation_id": document["correlation_id"],
                },
            )
            for document in batch
        ]
        await asyncio.gather(*confirmations)
        await outbox.update_many(
            {"_id": {"$in": [document["_id"] for document in batch]}},
            {"$set": {"sent": True, "sent_at": datetime.now(UTC)}},
        )
        if self.counted is not None:
            self.counted(len(batch))
        log.debug("outbox published", count=len(batch))
        return len(batch)
