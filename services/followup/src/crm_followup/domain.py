"""Follow-ups and deals as the follow-up service records them. Pure: no I/O."""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_contracts import (
    DealClosed,
    DealClosedPayload,
    DealFacts,
    Event,
    VisitFacts,
    VisitLogged,
    VisitLoggedPayload,
)
from crm_contracts.envelope import CustomerId

PRODUCER = "followup"


class LogVisit(VisitFacts):
    """A follow-up to record, checked by the contract's own rules; its id is given here."""

    customer_id: CustomerId


class CloseDeal(DealFacts):
    customer_id: CustomerId


def _document(record_id: str, event: Event) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "_id": record_id,
        "customer_id": event.customer_id,
        **event.payload.model_dump(mode="json"),
        "event_id": str(event.event_id),
        "created_at": now,
    }


def log_visit(command: LogVisit, correlation_id: UUID) -> tuple[dict[str, Any], VisitLogged]:
    followup_id = str(uuid.uuid4())
    payload = VisitLoggedPayload(**command.model_dump(exclude={"customer_id"}), followup_id=followup_id)
    event = VisitLogged(producer=PRODUCER, customer_id=command.customer_id, correlation_id=correlation_id,
                        payload=payload)
    return _document(followup_id, event), event


def close_deal(command: CloseDeal, correlation_id: UUID) -> tuple[dict[str, Any], DealClosed]:
    deal_id = str(uuid.uuid4())
    payload = DealClosedPayload(**command.model_dump(exclude={"customer_id"}), deal_id=deal_id)
    event = DealClosed(producer=PRODUCER, customer_id=command.customer_id, correlation_id=correlation_id,
                       payload=payload)
    return _document(deal_id, event), event
