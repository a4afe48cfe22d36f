"""The outbox relay: publishes committed events in commit order, then marks them sent.

The order is each row's (at, pos): the cluster time of its write and its place in its
transaction (see Store._commit_outbox); rows written before rows had a time have none, and go
first. A crash between publish and mark re-publishes on restart (at least once; consumers dedup by
event_id).

An event Kafka will never take (too large, say) is set aside, with the reason, logged and counted,
and the relay goes on; unsetting `set_aside` puts it back in line. An event that failed for now
stays pending for the next pass. With several instances, a lease in MongoDB, timed by the database
server's clock, lets one relay publish at a time, so one customer's events keep their order.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka.errors import (
    IllegalStateError,
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)
from faststream.exceptions import IncorrectState

from crm_runtime.lease import Lease
from crm_runtime.retry import is_transient
from crm_runtime.store import OUTBOX, Store

log = structlog.get_logger(__name__)
PENDING = {"sent": False, "set_aside": {"$exists": False}}
COMMIT_ORDER = [("at", 1), ("pos", 1)]
MAX_REASON_CHARS = 1000
# Not the record's fault but the producer's: it is not connected, or has lost its idempotence
# sequence (after the broker refuses one record, aiokafka fails every later one of that partition
# with OutOfOrderSequenceNumber until a new producer starts). Such records stay pending.
PRODUCER_FAULTS = (
    IncorrectState,
    IllegalStateError,
    InvalidProducerEpoch,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)
# send(topic, key, value, headers) queues one record and returns an awaitable of its
# acknowledgement.
Send = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[Awaitable[Any]]]
Document = dict[str, Any]
Queued = tuple[Document, Awaitable[Any]]  # an outbox row and its acknowledgement
Refused = tuple[Document, BaseException]


def refused_for_good(error: BaseException) -> bool:
    """Retrying will not help this record: set it aside rather than block the outbox with it."""
    return (
        isinstance(error, Exception)
        and not is_transient(error)
        and not isinstance(error, PRODUCER_FAULTS)
        and type(error) is not KafkaError  # aiokafka's sender itself broke down
    )


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
        counted_set_aside: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.send = send
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.counted = counted  # told how many each pass published (metrics)
        self.counted_set_aside = counted_set_aside  # and how many it set aside
        self.lease = Lease(store.db, "outbox-relay", lease_s)
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
                _, settled = await self._pass() if await self.lease.hold() else (0, 0)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.error(
                    "outbox relay pass failed", error=repr(error), transient=is_transient(error)
                )
                settled = 0
            if settled < self.batch_size and not self._stopping:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)

    async def publish_pending(self) -> int:
        """One pass over up to batch_size pending events; returns how many were published."""
        published, _ = await self._pass()
        return published

    async def _pass(self) -> tuple[int, int]:
        """Returns how many events were published, and how many left the pending ones (published
        or set aside)."""
        outbox = self.store.db[OUTBOX]
        batch = await outbox.find(PENDING).sort(COMMIT_ORDER).limit(self.batch_size).to_list()
        # Queued in commit order, then confirmed together: the idempotent producer keeps each
        # partition's order, and nothing is marked sent before the broker has acknowledged it.
        queued, refused = await self._queue(batch)
        sent, refused_late = await _confirmed(queued)
        if sent:
            await outbox.update_many(
                {"_id": {"$in": sent}}, {"$set": {"sent": True, "sent_at": datetime.now(UTC)}}
            )
            if self.counted is not None:
                self.counted(len(sent))
            log.debug("outbox published", count=len(sent))
        for document, error in [*refused, *refused_late]:
            await self._set_aside(document, error)
        return len(sent), len(sent) + len(refused) + len(refused_late)

    async def _queue(self, batch: list[Document]) -> tuple[list[Queued], list[Refused]]:
        """Queues the batch up to the first record that fails for now: the next ones would fail
        alike, or overtake it. Returns those queued, and those refused for good."""
        queued: list[Queued] = []
        refused: list[Refused] = []
        for document in batch:
            try:
                queued.append((document, await self._send(document)))
            except Exception as error:
                if not refused_for_good(error):
                    _left_pending(len(batch) - len(queued) - len(refused), error)
                    break
                refused.append((document, error))
        return queued, refused

    async def _send(self, document: Document) -> Awaitable[Any]:
        return await self.send(
            document["topic"],
            bytes(document["key"]),
            bytes(document["value"]),
            {"event_type": document["event_type"], "correlation_id": document["correlation_id"]},
        )

    async def _set_aside(self, document: Document, error: BaseException) -> None:
        reason = f"{type(error).__name__}: {error}"[:MAX_REASON_CHARS]
        await self.store.db[OUTBOX].update_one(
            {"_id": document["_id"]},
            {"$set": {"set_aside": reason, "set_aside_at": datetime.now(UTC)}},
        )
        if self.counted_set_aside is not None:
            self.counted_set_aside(1)
        log.error(
            "outbox event set aside: Kafka will not take it",
            event_id=str(document["_id"]),
            event_type=document.get("event_type"),
            topic=document.get("topic"),
            reason=reason,
        )


async def _confirmed(queued: list[Queued]) -> tuple[list[Any], list[Refused]]:
    """Waits for every acknowledgement. Returns the ids acknowledged, and the records refused for
    good; the others stay pending."""
    outcomes = await asyncio.gather(*(ack for _, ack in queued), return_exceptions=True)
    sent: list[Any] = []
    refused: list[Refused] = []
    unsent: list[BaseException] = []
    for (document, _), outcome in zip(queued, outcomes, strict=True):
        if not isinstance(outcome, BaseException):
            sent.append(document["_id"])
        elif refused_for_good(outcome):
            refused.append((document, outcome))
        else:
            unsent.append(outcome)
    if unsent:
        _left_pending(len(unsent), unsent[0])
    return sent, refused


def _left_pending(count: int, error: BaseException) -> None:
    if isinstance(error, PRODUCER_FAULTS) or type(error) is KafkaError:
        log.error(
            "outbox events left pending: the producer cannot send (not connected, or must restart)",
            count=count,
            error=repr(error),
        )
    else:
        log.warning("outbox events left pending for the next pass", count=count, error=repr(error))
