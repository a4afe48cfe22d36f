"""Opportunities: what a customer may buy (its service lines, an amount, a close date), and how
each moves through the pipeline. A customer may have several open at once. Keyed by customer_id.

Every field added after the first release is optional, so events written before it (and outside
publishers that know nothing of it) keep being accepted as they are."""

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from crm_contracts.common import FreightTons, Id, Label, Money, Text
from crm_contracts.envelope import Event, Payload

# A mode's name as the deployment's list writes it (the services check it against
# CRM_SERVICE_MODES; a consumer keeps whatever name arrives).
Mode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
RateBasis = Literal["ton", "shipment", "month"]
MAX_LINES = 50
MAX_SHIPMENTS = 10_000_000


class ServiceLine(Payload):
    """One thing the customer would buy: a lane (origin → destination) in a mode, with its
    estimated monthly volume and the rate asked. A site service (warehousing, customs) has no
    destination."""

    line_id: Id = Field(description="Unique within its opportunity.")
    origin: Label
    destination: Label | None = None
    mode: Mode = Field(description="ftl, ltl, express, cold_chain, warehousing, customs, …")
    monthly_tons: FreightTons | None = None
    monthly_shipments: int | None = Field(default=None, ge=0, le=MAX_SHIPMENTS)
    rate: Money | None = Field(default=None, description="In the opportunity's currency.")
    rate_basis: RateBasis | None = Field(default=None, description="What the rate is per.")

    @model_validator(mode="after")
    def _rate_has_its_basis(self) -> "ServiceLine":
        if (self.rate is None) != (self.rate_basis is None):
            raise ValueError("rate and rate_basis go together")
        return self


Lines = Annotated[list[ServiceLine], Field(max_length=MAX_LINES)]


class LinePrice(Payload):
    """A proposal's price for one of its opportunity's lines."""

    line_id: Id
    rate: Money
    rate_basis: RateBasis


def distinct_lines(lines: list[ServiceLine]) -> list[ServiceLine]:
    """The lines, refused when two share an id (a proposal or a deal names lines by id)."""
    ids = [line.line_id for line in lines]
    if len(set(ids)) != len(ids):
        raise ValueError(f"line ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    return lines


class OpportunityTerms(Payload):
    """What the opportunity is worth and when it should close; all optional."""

    title: Text | None = None
    amount: Money | None = Field(default=None, description="The deal's expected value.")
    currency: Currency | None = None
    expected_close_date: date | None = None
    owner_id: Id | None = Field(
        default=None, description="The salesperson it is forecast under; the customer's owner."
    )
    lines: Lines = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "OpportunityTerms":
        if self.amount is not None and self.currency is None:
            raise ValueError("an amount needs its currency")
        distinct_lines(self.lines)
        return self


class OpportunityOpenedPayload(OpportunityTerms):
    opportunity_id: Id
    stage: Text
    win_probability: float = Field(ge=0, le=1)
    reopened_from: Id | None = Field(
        default=None, description="The lost opportunity this one reopens."
    )


class OpportunityOpened(Event):
    event_type: Literal["OpportunityOpened"] = "OpportunityOpened"
    schema_version: Literal[1] = 1
    payload: OpportunityOpenedPayload


class OpportunityUpdatedPayload(Payload):
    """The opportunity's terms and probability as they are now (whole, not a difference)."""

    opportunity_id: Id
    changed: list[str] = Field(min_length=1, max_length=20)
    terms: OpportunityTerms
    win_probability: float = Field(ge=0, le=1)
    override_reason: Text | None = Field(
        default=None, description="Set when win_probability is the owner's, not the stage's."
    )


class OpportunityUpdated(Event):
    event_type: Literal["OpportunityUpdated"] = "OpportunityUpdated"
    schema_version: Literal[1] = 1
    payload: OpportunityUpdatedPayload


class StageChangedPayload(Payload):
    opportunity_id: Id
    from_stage: Text
    to_stage: Text
    win_probability: float = Field(
        ge=0, le=1, description="The new stage's default, or the owner's override."
    )
    seconds_in_previous_stage: float = Field(ge=0)
    reason: Text | None = None
    override_reason: Text | None = Field(
        default=None, description="Set when win_probability is the owner's, not the stage's."
    )


class StageChanged(Event):
    event_type: Literal["StageChanged"] = "StageChanged"
    schema_version: Literal[1] = 1
    payload: StageChangedPayload
