"""Customers as the customer service keeps them: commands, changes, completeness. Pure: no I/O."""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm_contracts import (
    CustomerCreated,
    CustomerCreatedPayload,
    CustomerFields,
    CustomerUpdated,
    CustomerUpdatedPayload,
)
from crm_contracts.common import Text
from pydantic import BaseModel, ConfigDict, Field

PRODUCER = "customer"
REQUIRED_FIELDS = ("name", "credit_code", "industry", "region", "address", "size", "nature")
USEFUL_FIELDS = (
    "phone",
    "website",
    "annual_revenue",
    "staff",
    "monthly_freight_volume_tons",
    "credit",
    "financials",
    "contacts",
)
FIELD_NAMES = tuple(CustomerFields.model_fields)


# Commands refuse unknown fields: a misspelt field is a 422, not silently ignored.
STRICT = ConfigDict(frozen=True, extra="forbid")


class CreateCustomer(CustomerFields):
    """A new customer: a name at least; everything else may follow."""

    model_config = STRICT
    name: Text


class UpdateCustomer(CustomerFields):
    """The fields to change (a field sent as null is cleared). `version` is the version read, unless
    it comes in the If-Match header."""

    model_config = STRICT
    version: int | None = Field(default=None, ge=1)


class Reason(BaseModel):
    """Why an archive, restore, merge or reassignment is done; kept with the change."""

    model_config = STRICT
    reason: Text
    version: int | None = Field(default=None, ge=1)


def new_customer(
    command: CreateCustomer, correlation_id: UUID
) -> tuple[dict[str, Any], CustomerCreated]:
    customer_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    fields = command.model_dump(mode="json", exclude_none=True)
    event = CustomerCreated(
        producer=PRODUCER,
        customer_id=customer_id,
        occurred_at=now,
        correlation_id=correlation_id,
        payload=CustomerCreatedPayload(**command.model_dump(exclude_none=True)),
    )
    document = {
        "_id": customer_id,
        **dict.fromkeys(FIELD_NAMES),
        **fields,
        "nature": command.nature or "other",
        "lifecycle": command.lifecycle or "lead",
        "status": "active",
        "owner_id": None,
        "tier": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    return document, event


def changes(document: dict[str, Any], command: UpdateCustomer) -> dict[str, Any]:
    """The fields the command sets to a value different from the document's, in stored form."""
    wanted = command.model_dump(mode="json", include=set(command.model_fields_set) - {"version"})
    return {name: value for name, value in wanted.items() if document.get(name) != value}


def updated_event(
    customer_id: str, version: int, changed: dict[str, Any], correlation_id: UUID
) -> CustomerUpdated:
    return CustomerUpdated(
        producer=PRODUCER,
        customer_id=customer_id,
        correlation_id=correlation_id,
        payload=CustomerUpdatedPayload(
            version=version, changed=sorted(changed), fields=CustomerFields(**changed)
        ),
    )


def completeness(document: dict[str, Any], contact_count: int) -> dict[str, Any]:
    """How much of the record is filled, by class of field (DOMAIN.md, part 7)."""

    def filled(name: str) -> bool:
        if name == "contacts":
            return contact_count > 0
        if name == "financials":
            return bool((document.get("financials") or {}).get("statements"))
        return document.get(name) not in (None, "", [], {})

    def summary(names: tuple[str, ...]) -> dict[str, Any]:
        missing = [name for name in names if not filled(name)]
        return {"filled": len(names) - len(missing), "of": len(names), "missing": missing}

    required, useful = summary(REQUIRED_FIELDS), summary(USEFUL_FIELDS)
    total = len(REQUIRED_FIELDS) + len(USEFUL_FIELDS)
    return {
        "required": required,
        "useful": useful,
        "complete": not required["missing"],
        "percent": round(100 * (required["filled"] + useful["filled"]) / total),
    }
