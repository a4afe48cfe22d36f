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
from crm_contracts.common import Id, Text
from crm_contracts.customer_events import (
    MAX_COMPETITORS_PER_CUSTOMER,
    MAX_CONTACTS_PER_CUSTOMER,
    CreditSummary,
)
from crm_runtime.handlers import Command, Patch
from pydantic import Field

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
# A merge moves all of them in one event: the contract caps how many that may be.
MOST_PER_CUSTOMER = {
    "contacts": MAX_CONTACTS_PER_CUSTOMER,
    "competitors": MAX_COMPETITORS_PER_CUSTOMER,
}


class CreditGiven(CreditSummary, Command):
    """A credit summary as a caller gives it: counts as JSON numbers (Command's rule)."""


class CreateCustomer(CustomerFields, Command):
    """A new customer: a name at least; everything else may follow."""

    name: Text
    credit: CreditGiven | None = None


class CustomerChange(CustomerFields, Patch):
    """The fields to change; `null` clears an optional one. `version` is the version read, unless
    it comes in the If-Match header."""

    # A customer always has a name, a nature and a stage of its lifecycle.
    nullable = frozenset(CustomerFields.model_fields) - {"name", "nature", "lifecycle"}
    version: int | None = Field(default=None, ge=1)
    credit: CreditGiven | None = None


class UpdateCustomer(Command):
    customer_id: Id
    version: int = Field(ge=1)
    change: CustomerChange


class Reason(Command):
    """Why an archive or restore is done, kept with the change; the version read, unless it comes
    in the If-Match header."""

    reason: Text
    version: int | None = Field(default=None, ge=1)


class ArchiveCustomer(Command):
    customer_id: Id
    version: int = Field(ge=1)
    reason: Text


class RestoreCustomer(ArchiveCustomer):
    pass


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


def changes(document: dict[str, Any], change: CustomerChange) -> dict[str, Any]:
    """The fields the change sets to a value different from the document's, in stored form."""
    wanted = change.model_dump(mode="json", include=set(change.model_fields_set) - {"version"})
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


def too_many(what: str, count: int) -> str | None:
    """Why a customer may not have `count` contacts (or competitors); None when it may."""
    most = MOST_PER_CUSTOMER[what]
    return f"{count:,} {what}, more than the {most:,} a customer may have" if count > most else None


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
