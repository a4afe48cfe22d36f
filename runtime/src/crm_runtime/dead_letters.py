"""Dead letters: a record that cannot be parsed or applied goes to its topic's dead-letter topic
with the reason in its headers, and is recorded in MongoDB (with its event_id when known, so the
store skips a redelivered copy). The consumer then goes on.

A record or event recorded already is neither sent nor counted again. It is sent, then recorded:
a crash between the two sends it once more."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from crm_contracts import dead_letter_topic
from pydantic import ValidationError

from crm_runtime.outbox import Send
from crm_runtime.records import Record
from crm_runtime.retry import until_it_works
from crm_runtime.store import DEAD_LETTERS, Store

log = structlog.get_logger(__name__)
MAX_ERROR_CHARS = 4000


class CustomerNotSeen(Exception):
    """Why a parked event was dead-lettered: its customer did not appear in time."""


class OffContract(Exception):
    """A record the contract (contracts/README.md) does not allow though its event may be valid:
    larger than an event may be, keyed by another than its customer id (its customer's events
    would lose their order), or on another contract topic than its type's."""

    def __init__(self, reason: str, detail: str, event_id: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.event_id = event_id  # when the record held a valid event


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
        return (
            "malformed" if kinds & {"json_invalid", "json_type", "model_type"} else "schema-invalid"
        )
    if isinstance(error, CustomerNotSeen):
        return "customer-unknown"
    if isinstance(error, OffContract):
        return error.reason
    return "handler-failed"


class DeadLetters:
    """Sends a record to its dead-letter topic with the reason, and records it in MongoDB."""

    def __init__(
        self,
        send: Send,
        store: Store,
        consumer_group: str,
        max_backoff_s: float,
        counted: Callable[[str], None] | None = None,
    ) -> None:
        self.send = send
        self.store = store
        self.consumer_group = consumer_group
        self.max_backoff_s = max_backoff_s
        self.counted = counted  # told each dead letter's reason (metrics)

    async def put(
        self,
        record: Record,
        error: BaseException,
        event_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """`reason` when the error alone would mislead: a handler's own ValidationError (an event
        it tried to emit) is not the record's schema."""
        record_id = f"{record.topic}:{record.partition}:{record.offset}"
        reason, detail = reason or reason_of(error), describe(error)
        headers = {
            "dlt.reason": reason,
            "dlt.error": detail,
            "dlt.source.topic": record.topic,
            "dlt.source.partition": str(record.partition),
            "dlt.source.offset": str(record.offset),
            "dlt.consumer.group": self.consumer_group,
            "dlt.at": datetime.now(UTC).isoformat(),
        }
        known = False
        async for attempt in until_it_works(self.max_backoff_s):
            with attempt:
                known = await self._recorded(record_id, event_id)
                if not known:
                    confirmation = await self.send(
                        dead_letter_topic(record.topic), record.key or b"", record.value, headers
                    )
                    await confirmation
                    await self.store.db[DEAD_LETTERS].update_one(
                        {"_id": record_id},
                        {"$setOnInsert": self._document(reason, detail, event_id)},
                        upsert=True,
                    )
        if known:
            log.info("dead-lettered before", record=record_id, event_id=event_id)
            return
        if self.counted is not None:
            self.counted(reason)
        log.error(
            "dead-lettered",
            reason=reason,
            error=detail,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            event_id=event_id,
        )

    async def _recorded(self, record_id: str, event_id: str | None) -> bool:
        """This record, or another copy of its event, went to the dead-letter topic already."""
        ids: list[dict[str, str]] = [{"_id": record_id}]
        if event_id is not None:
            ids.append({"event_id": event_id})
        return await self.store.db[DEAD_LETTERS].find_one({"$or": ids}, {"_id": 1}) is not None

    def _document(self, reason: str, detail: str, event_id: str | None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "reason": reason,
            "error": detail,
            "group": self.consumer_group,
            "at": datetime.now(UTC),
        }
        if event_id is not None:  # absent, not null: the event_id index is sparse
            document["event_id"] = event_id
        return document
