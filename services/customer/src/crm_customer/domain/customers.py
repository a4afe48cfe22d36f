"""Customers as the customer service keeps them. Pure: no I/O."""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_contracts import CustomerCreated, CustomerCreatedPayload

PRODUCER = "customer"


class CreateCustomer(CustomerCreatedPayload):
    """The command: the same fields as the event's payload, checked by the same rules."""


def new_customer(command: CreateCustomer, correlation_id: UUID) -> tuple[dict[str, Any], CustomerCreated]:
    customer_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    event = CustomerCreated(
        producer=PRODUCER,
        customer_id=customer_id,
        occurred_at=now,
        correlation_id=correlation_id,
        payload=CustomerCreatedPayload(**command.model_dump()),
    )
    document = {
        "_id": customer_id,
        **command.model_dump(mode="json"),
        "lifecycle": "lead",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    return document, event
