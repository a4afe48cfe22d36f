"""Events that arrive before the customer they refer to: parked, not lost. A handler raises
WaitForCustomer; the store parks the event in the transaction that found the customer missing.
Parked events are applied again when their customer appears (also when that event comes again as
a duplicate), and by a sweep that tries every parked event before it dead-letters, with reason
`customer-unknown`, those that waited longer than the timeout."""

from datetime import UTC, datetime, timedelta

import structlog
from crm_contracts import Event

from crm_runtime.dead_letters import CustomerNotSeen, DeadLetters
from crm_runtime.records import Record
from crm_runtime.store import PARKED, Store, WaitForCustomer

__all__ = ["Parking", "WaitForCustomer"]
log = structlog.get_logger(__name__)
SWEEP_LIMIT = 500  # parked events tried again per sweep, the longest waiting first


def _record(parked: dict[str, object]) -> Record:
    return Record(
        str(parked["topic"]),
        int(str(parked["partition"])),
        int(str(parked["offset"])),
        parked["key"] if isinstance(parked["key"], bytes) else None,
        bytes(parked["value"]) if isinstance(parked["value"], bytes | bytearray) else b"",
    )


class Parking:
    def __init__(self, store: Store, dead_letters: DeadLetters, timeout_s: float) -> None:
        self.store = store
        self.dead_letters = dead_letters
        self.timeout_s = timeout_s

    async def ensure_indexes(self) -> None:
        await self.store.db[PARKED].create_index([("customer_id", 1), ("parked_at", 1)])
        await self.store.db[PARKED].create_index("parked_at")

    async def forget(self, event: Event) -> None:
        await self.store.db[PARKED].delete_one({"_id": str(event.event_id)})

    async def forget_record(self, record: Record) -> None:
        """A parked record that no longer parses (its id cannot be read from it)."""
        await self.store.db[PARKED].delete_many(
            {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        )

    async def waiting_for(self, customer_id: str) -> list[Record]:
        parked = (
            await self.store.db[PARKED]
            .find({"customer_id": customer_id})
            .sort([("parked_at", 1), ("offset", 1)])
            .to_list()
        )
        return [_record(p) for p in parked]

    async def oldest(self) -> list[Record]:
        """The longest waiting parked events, in the order they were parked."""
        parked = (
            await self.store.db[PARKED]
            .find({})
            .sort([("parked_at", 1), ("offset", 1)])
            .limit(SWEEP_LIMIT)
            .to_list()
        )
        return [_record(p) for p in parked]

    async def expire(self) -> int:
        """Dead-letters what waited longer than the timeout; returns how many."""
        deadline = datetime.now(UTC) - timedelta(seconds=self.timeout_s)
        expired = (
            await self.store.db[PARKED]
            .find({"parked_at": {"$lt": deadline}})
            .limit(SWEEP_LIMIT)
            .to_list()
        )
        for parked in expired:
            reason = CustomerNotSeen(
                f"customer {parked['customer_id']} not seen within {self.timeout_s:g} s"
            )
            await self.dead_letters.put(_record(parked), reason, event_id=str(parked["_id"]))
            await self.store.db[PARKED].delete_one({"_id": parked["_id"]})
        return len(expired)
