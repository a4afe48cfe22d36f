"""Events of follow-ups, the pipeline, proposals and deals (the follow-up service, the call
centre, the ERP). All are keyed by customer_id."""

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from crm_contracts.common import Channel, FreightTons, Id, LongText, Money, Text
from crm_contracts.envelope import Event, Payload
from crm_contracts.opportunity_events import MAX_LINES, LinePrice, Lines, distinct_lines

Outcome = Annotated[str, Field(max_length=2000)]


class SiteObservations(Payload):
    """What a visit to the customer's site showed (DOMAIN.md, part 5)."""

    production: Literal["idle", "slow", "normal", "busy"] | None = Field(
        default=None, description="How busy."
    )
    orderliness: Literal["poor", "fair", "good"] | None = Field(
        default=None, description="How orderly."
    )
    owner_plans: LongText | None = None
    employee_remarks: LongText | None = None


class VisitFacts(Payload):
    """What a follow-up records; the payload adds the id its recorder gave it."""

    salesperson_id: Id
    channel: Channel
    subject: Text
    started_at: AwareDatetime
    ended_at: AwareDatetime
    outcome: Outcome | None = None
    stage: Text | None = Field(default=None, description="The pipeline stage it concerns.")
    contact_ids: list[Id] = Field(
        default_factory=list, max_length=50, description="Contacts who took part."
    )
    next_step: Text | None = None
    next_step_due: date | None = None
    site: SiteObservations | None = Field(default=None, description="Visits only.")

    @model_validator(mode="after")
    def _consistent(self) -> "VisitFacts":
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        if self.next_step_due is not None and self.next_step is None:
            raise ValueError("next_step_due without a next_step")
        if self.next_step_due is not None and self.next_step_due < self.started_at.date():
            raise ValueError("next_step_due is before the follow-up started")
        if self.site is not None and self.channel is not Channel.VISIT:
            raise ValueError("site observations belong to a visit")
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
    monthly_freight_volume_tons: FreightTons | None = Field(
        default=None, description="Contracted, when won."
    )
    product_lines: list[Text] = Field(
        default_factory=list, max_length=50, description="Products or service lines."
    )
    contract_start: date | None = None
    contract_end: date | None = None
    lost_reason: Text | None = None
    competitor: Text | None = Field(default=None, description="Who won instead, if known.")
    lines: Lines = Field(
        default_factory=list,
        description="The service lines won: they become the customer's contracted lanes.",
    )

    @model_validator(mode="after")
    def _outcome_has_its_facts(self) -> "DealFacts":
        if self.outcome == "won" and (self.amount is None or self.currency is None):
            raise ValueError("a won deal needs amount and currency")
        if self.outcome == "lost" and self.lost_reason is None:
            raise ValueError("a lost deal needs lost_reason")
        if self.contract_start and self.contract_end and self.contract_end < self.contract_start:
            raise ValueError("contract_end is before contract_start")
        if self.outcome == "lost" and self.lines:
            raise ValueError("a lost deal wins no lines")
        distinct_lines(self.lines)
        return self


class DealClosedPayload(DealFacts):
    deal_id: Id
    opportunity_id: Id | None = Field(
        default=None, description="The opportunity it closed, if any."
    )


class DealClosed(Event):
    event_type: Literal["DealClosed"] = "DealClosed"
    schema_version: Literal[1] = 1
    payload: DealClosedPayload


class FollowupUpdatedPayload(Payload):
    followup_id: Id
    version: int = Field(ge=1)
    changed: list[str] = Field(min_length=1)
    followup: VisitLoggedPayload = Field(description="The follow-up as it is now.")


class FollowupUpdated(Event):
    event_type: Literal["FollowupUpdated"] = "FollowupUpdated"
    schema_version: Literal[1] = 1
    payload: FollowupUpdatedPayload


class FollowupRevokedPayload(Payload):
    followup_id: Id
    reason: Text


class FollowupRevoked(Event):
    event_type: Literal["FollowupRevoked"] = "FollowupRevoked"
    schema_version: Literal[1] = 1
    payload: FollowupRevokedPayload


class ProposalContent(Payload):
    needs: list[Text] = Field(
        min_length=1, max_length=50, description="The customer's stated needs it answers."
    )
    solution: LongText
    price: Money | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    line_prices: list[LinePrice] = Field(
        default_factory=list,
        max_length=MAX_LINES,
        description="Rates for lines of the proposal's opportunity, by line id.",
    )

    @model_validator(mode="after")
    def _each_line_priced_once(self) -> "ProposalContent":
        ids = [price.line_id for price in self.line_prices]
        if len(set(ids)) != len(ids):
            raise ValueError("a line is priced twice")
        return self


class ProposalPayload(ProposalContent):
    proposal_id: Id
    opportunity_id: Id | None = None
    revision: int = Field(ge=1)
    note: Text | None = Field(default=None, description="What changed in this revision, and why.")


class ProposalCreated(Event):
    event_type: Literal["ProposalCreated"] = "ProposalCreated"
    schema_version: Literal[1] = 1
    payload: ProposalPayload


class ProposalRevised(Event):
    event_type: Literal["ProposalRevised"] = "ProposalRevised"
    schema_version: Literal[1] = 1
    payload: ProposalPayload


class ProposalDecisionPayload(Payload):
    proposal_id: Id
    revision: int = Field(ge=1, description="The revision the decision is about.")
    reason: Text | None = None


class ProposalWithdrawn(Event):
    event_type: Literal["ProposalWithdrawn"] = "ProposalWithdrawn"
    schema_version: Literal[1] = 1
    payload: ProposalDecisionPayload


class ProposalAccepted(Event):
    event_type: Literal["ProposalAccepted"] = "ProposalAccepted"
    schema_version: Literal[1] = 1
    payload: ProposalDecisionPayload


class ProposalRejected(Event):
    event_type: Literal["ProposalRejected"] = "ProposalRejected"
    schema_version: Literal[1] = 1
    payload: ProposalDecisionPayload
