"""Every event of the CRM, version 1. A new major version is a new class with its own schema_version."""

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from crm_contracts.envelope import Event, Payload

Text = Annotated[str, Field(min_length=1, max_length=500)]
Id = Annotated[str, Field(min_length=1, max_length=64)]


class CustomerNature(StrEnum):
    FINANCE_COMPANY = "finance_company"
    STATE_OWNED = "state_owned"
    JOINT_VENTURE_OR_FOREIGN = "joint_venture_or_foreign"
    GROUP_COMPANY = "group_company"
    LISTED_COMPANY = "listed_company"
    PUBLIC_INSTITUTION = "public_institution"
    PRIVATE_ENTERPRISE = "private_enterprise"
    INVESTMENT_COMPANY = "investment_company"
    ORDINARY_COMPANY = "ordinary_company"
    OTHER = "other"


class Channel(StrEnum):
    VISIT = "visit"
    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"
    MATERIAL_MAILED = "material_mailed"
    MARKETING_EVENT = "marketing_event"
    SURVEY = "survey"
    GIFT = "gift"
    MESSAGE = "message"
    SCHEDULED_MEETING = "scheduled_meeting"


class Tier(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class CustomerCreatedPayload(Payload):
    name: Text
    credit_code: str | None = Field(default=None, min_length=18, max_length=18)
    industry: Text | None = None
    region: Text | None = None
    size: Literal["micro", "small", "medium", "large"] | None = None
    nature: CustomerNature = CustomerNature.OTHER
    monthly_freight_volume_tons: float | None = Field(default=None, ge=0)
    owner_id: Id | None = None


class CustomerCreated(Event):
    event_type: Literal["CustomerCreated"] = "CustomerCreated"
    schema_version: Literal[1] = 1
    payload: CustomerCreatedPayload


class VisitFacts(Payload):
    """What a follow-up records; the payload adds the id its recorder gave it."""

    salesperson_id: Id
    channel: Channel
    subject: Text
    started_at: AwareDatetime
    ended_at: AwareDatetime
    outcome: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> "VisitFacts":
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class VisitLoggedPayload(VisitFacts):
    followup_id: Id


class VisitLogged(Event):
    event_type: Literal["VisitLogged"] = "VisitLogged"
    schema_version: Literal[1] = 1
    payload: VisitLoggedPayload


class DealFacts(Payload):
    """What closing a deal records; the payload adds the deal's id."""

    salesperson_id: Id | None = None
    outcome: Literal["won", "lost"]
    amount: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    monthly_freight_volume_tons: float | None = Field(default=None, ge=0)
    lost_reason: Text | None = None
    competitor: Text | None = None

    @model_validator(mode="after")
    def _outcome_has_its_facts(self) -> "DealFacts":
        if self.outcome == "won" and (self.amount is None or self.currency is None):
            raise ValueError("a won deal needs amount and currency")
        if self.outcome == "lost" and self.lost_reason is None:
            raise ValueError("a lost deal needs lost_reason")
        return self


class DealClosedPayload(DealFacts):
    deal_id: Id


class DealClosed(Event):
    event_type: Literal["DealClosed"] = "DealClosed"
    schema_version: Literal[1] = 1
    payload: DealClosedPayload


class CustomerScoredPayload(Payload):
    score: int = Field(ge=0, le=100)
    tier: Tier
    win_probability: float = Field(ge=0, le=1)
    reasons: list[Text] = Field(max_length=50)
    rule_version: Text


class CustomerScored(Event):
    event_type: Literal["CustomerScored"] = "CustomerScored"
    schema_version: Literal[1] = 1
    payload: CustomerScoredPayload
