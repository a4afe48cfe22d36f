"""Events that arrive before the customer they refer to: parked, not lost. They are applied when
the customer appears, or dead-lettered with reason `customer-unknown` after a set time."""

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from crm_contracts import Event

from crm_runtime.dead_letters import CustomerNotSeen, DeadLetters
from crm_runtime.records import Record
from crm_runtime.store import PARKED, Store

log = structlog.get_logger(__name__)


class WaitForCustomer(Exception):
    """A handler's way to say: this event refers to a customer not seen yet."""


class Parking:
    def __init__(self, store: Store, dead_letters: DeadLetters, timeout_s: float) -> None:
        self.store = store
        self.dead_letters = dead_letters
        self.timeout_s = timeout_s

    async def ensure_indexes(self) -> None:
        await self.store.db[PARKED].create_index([("customer_id", 1), ("parked_at", 1)])
        await self.store.db[PARKED].create_index("parked_at")

    async def park(self, event: Event, record: Record) -> None:
        await self.store.db[PARKED].update_one(
            {"_id": str(event.event_id)},
            {
                "$setOnInsert": {
                    "customer_id": event.customer_id,
                    "event_type": event.event_type,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "key": record.key,
                    "value": record.value,
                    "parked_at": datetime.now(UTC),
                }
            },
            upsert=True,
        )
        log.info("parked until its customer appears", timeout_s=self.timeout_s)

    async def forget(self, event: Event) -> None:
        await self.store.db[PARKED].delete_one({"_id": str(event.event_id)})

    async def waiting_for(self, customer_id: str) -> list[Record]:
        parked = (
            await self.store.db[PARKED]
            .find({"customer_id": customer_id})
            .sort("parked_at", 1)
            .to_list()
        )
        return [
            Record(p["topic"], p["partition"], p["offset"], p["key"], bytes(p["value"]))
            for p in parked
        ]

    async def expire(self) -> int:
        """Dead-letters what waited longer than the timeout; returns how many."""
        deadline = datetime.now(UTC) - timedelta(seconds=self.timeout_s)
        expired = (
            await self.store.db[PARKED].find({"parked_at": {"$lt": deadline}}).limit(500).to_list()
        )
        for parked in expired:
            record = Record(
                parked["topic"],
                parked["partition"],
                parked["offset"],
                parked["key"],
                bytes(parked["value"]),
            )
            reason = CustomerNotSeen(
                f"customer {parked['customer_id']} not seen within {self.timeout_s:g} s"
            )
            await self.dead_letters.put(record, reason)
            await self.store.db[PARKED].delete_one({"_id": parked["_id"]})
        return len(expired)

    async def run_forever(self, interval_s: float) -> None:
        while True:
            try:
                await self.expire()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.error("parking sweep failed", error=repr(error))
            await asyncio.sleep(interval_s)
