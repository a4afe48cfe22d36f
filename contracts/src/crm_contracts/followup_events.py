"""Events of follow-ups and deals (the follow-up service, the call centre, the ERP)."""

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from crm_contracts.common import Channel, Id, Money, Text
from crm_contracts.envelope import Event, Payload


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
    amount: Money | None = None
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
