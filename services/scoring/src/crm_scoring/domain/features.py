"""What scoring knows of one customer, built from events. Every update is idempotent and tolerant
of order: follow-ups, proposals and deals are kept by id, the stage by the time it was set, and the
time the customer is scored at is the latest of its events' times. The customer topic's events and
the follow-up topic's events set different fields, so their relative order does not matter."""

from datetime import datetime
from typing import Any

from crm_contracts import (
    CustomerCreated,
    CustomerUpdated,
    DealClosed,
    Event,
    FinancialsRecorded,
    FollowupRevoked,
    FollowupUpdated,
    OpportunityOpened,
    OpportunityTerms,
    OpportunityUpdated,
    ProposalAccepted,
    ProposalCreated,
    ProposalRejected,
    ProposalRevised,
    ProposalWithdrawn,
    StageChanged,
    VisitFacts,
    VisitLogged,
    events,
)
from pydantic import BaseModel, ConfigDict, Field

PROFILE_FIELDS = ("monthly_freight_volume_tons", "industry", "region", "nature", "size")
LOGGED_VERSION = 1  # a follow-up is logged at version 1; each FollowupUpdated carries a later one
# Every follow-up event says something scoring reads; of the customer's, these two always do.
FACT_EVENTS = (CustomerCreated, FinancialsRecorded, *events.FOLLOWUP_EVENTS)
FINAL_PROPOSAL = {
    "ProposalAccepted": "accepted",
    "ProposalRejected": "rejected",
    "ProposalWithdrawn": "withdrawn",
}


class Features(BaseModel):
    model_config = ConfigDict(frozen=True)

    monthly_freight_volume_tons: float | None = None
    industry: str | None = None
    region: str | None = None
    nature: str | None = None
    size: str | None = None
    ratios: dict[str, Any] | None = Field(
        default=None, description="The latest year's financial ratios."
    )
    credit: dict[str, Any] | None = None
    followups: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="id -> channel, at, version (of these facts), revoked"
    )
    proposals: dict[str, str] = Field(
        default_factory=dict, description="id -> open/accepted/rejected/withdrawn"
    )
    stage: str | None = None
    stage_probability: float | None = None
    stage_at: datetime | None = None
    deals: dict[str, str] = Field(default_factory=dict, description="id -> won/lost")
    opportunities: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="id -> closed (and stage_at, when it was set), amount, currency, lines (how "
        "many service lines) and terms_at: closed ones are kept, so that a late change of their "
        "terms does not open them again",
    )
    as_of: datetime | None = Field(
        default=None,
        description="The latest occurred_at of the customer's events that carry a fact scoring "
        "reads: the time it is scored at, whichever event caused the scoring.",
    )

    def active_followups(self) -> list[dict[str, Any]]:
        return [f for f in self.followups.values() if not f.get("revoked")]

    def open_pipeline(self, currency: str) -> float:
        """The amounts of its open opportunities in `currency` (others are not converted)."""
        return sum(
            o.get("amount") or 0.0
            for o in self.opportunities.values()
            if not o.get("closed") and o.get("currency") == currency
        )

    def lines_in_flight(self) -> int:
        """The service lines of its open opportunities."""
        return sum(o.get("lines", 0) for o in self.opportunities.values() if not o.get("closed"))

    def segment(self) -> dict[str, str]:
        """The values the win-probability model learns from; missing ones are left out."""
        values = {
            "industry": self.industry,
            "region": self.region,
            "nature": self.nature,
            "size": self.size,
            "freight_band": freight_band(self.monthly_freight_volume_tons),
        }
        cleaned = {name: str(value).strip().lower() for name, value in values.items() if value}
        return {name: value for name, value in cleaned.items() if value}  # blank is unknown


FREIGHT_BANDS = (
    (1000, "1000t+"),
    (500, "500-1000t"),
    (200, "200-500t"),
    (50, "50-200t"),
    (0, "under 50t"),
)


def industry_key(industry: str | None) -> str | None:
    """How customers of one industry are found alike, whatever the case and spacing."""
    return industry.strip().lower() if industry else None


def freight_band(tons: float | None) -> str | None:
    """Monthly freight volume in the bands the value reports and the segments use."""
    if tons is None:
        return None
    return next(
        (label for floor, label in FREIGHT_BANDS if tons >= floor), None
    )  # NaN, negative: unknown


def apply(features: Features, event: Event) -> Features:
    """The features after `event`; the same features when the event says nothing new."""
    change: dict[str, Any] = {}
    if isinstance(event, CustomerCreated):
        created = event.payload
        change = {name: _plain(getattr(created, name)) for name in PROFILE_FIELDS}
        change["credit"] = created.credit.model_dump(mode="json") if created.credit else None
    elif isinstance(event, CustomerUpdated):
        fields, changed = event.payload.fields, event.payload.changed
        change = {name: _plain(getattr(fields, name)) for name in changed if name in PROFILE_FIELDS}
        if "credit" in changed:
            change["credit"] = fields.credit.model_dump(mode="json") if fields.credit else None
    elif isinstance(event, FinancialsRecorded):
        latest = max(event.payload.ratios, key=lambda ratios: ratios.year, default=None)
        change["ratios"] = latest.model_dump(mode="json") if latest else None
    elif isinstance(event, VisitLogged):
        change = _followup(features, event.payload.followup_id, event.payload, LOGGED_VERSION)
    elif isinstance(event, FollowupUpdated):
        updated = event.payload
        change = _followup(features, updated.followup_id, updated.followup, updated.version)
    elif isinstance(event, FollowupRevoked):
        followup_id = event.payload.followup_id
        previous = features.followups.get(followup_id, {"channel": None, "at": None, "version": 0})
        change["followups"] = {**features.followups, followup_id: {**previous, "revoked": True}}
    elif isinstance(event, OpportunityOpened | StageChanged):
        stage = (
            event.payload.stage if isinstance(event, OpportunityOpened) else event.payload.to_stage
        )
        if features.stage_at is None or event.occurred_at >= features.stage_at:
            change = {
                "stage": stage,
                "stage_probability": event.payload.win_probability,
                "stage_at": event.occurred_at,
            }
        closed = stage in ("won", "lost")
        change |= _opportunity(features, event.payload.opportunity_id, event.occurred_at, closed)
        if isinstance(event, OpportunityOpened):
            opened = event.payload
            change |= _terms(features, change, opened.opportunity_id, event.occurred_at, opened)
    elif isinstance(event, OpportunityUpdated):
        terms = event.payload.terms
        change = _terms(features, {}, event.payload.opportunity_id, event.occurred_at, terms)
    elif isinstance(event, ProposalCreated | ProposalRevised):
        proposal_id = event.payload.proposal_id
        if features.proposals.get(proposal_id, "open") == "open":  # a decision is final
            change["proposals"] = {**features.proposals, proposal_id: "open"}
    elif isinstance(event, ProposalAccepted | ProposalRejected | ProposalWithdrawn):
        change["proposals"] = {
            **features.proposals,
            event.payload.proposal_id: FINAL_PROPOSAL[event.event_type],
        }
    elif isinstance(event, DealClosed):
        change["deals"] = {**features.deals, event.payload.deal_id: event.payload.outcome}
    if _carries_a_fact(event) and (features.as_of is None or event.occurred_at > features.as_of):
        change["as_of"] = event.occurred_at
    return features.model_copy(update=change) if change else features


def _carries_a_fact(event: Event) -> bool:
    """Whether the event says something scoring reads (whatever the features hold already): a
    property of the event alone, so that the latest time is the same in any order."""
    if isinstance(event, CustomerUpdated):
        return any(name in PROFILE_FIELDS or name == "credit" for name in event.payload.changed)
    return isinstance(event, FACT_EVENTS)


def _followup(
    features: Features, followup_id: str, facts: VisitFacts, version: int
) -> dict[str, Any]:
    """The follow-up's facts as of `version`, unless these or newer ones are known already: a
    correction that arrives before its VisitLogged, or an older one after a newer, changes nothing.
    Revoking is kept apart from the facts, so it holds whatever the order."""
    previous = features.followups.get(followup_id, {})
    if version <= previous.get("version", 0):
        return {}
    facts_now = {
        "channel": facts.channel.value,
        "at": facts.started_at.isoformat(),
        "version": version,
        "revoked": previous.get("revoked", False),
    }
    return {"followups": {**features.followups, followup_id: facts_now}}


def _opportunity(
    features: Features, opportunity_id: str, at: datetime, closed: bool
) -> dict[str, Any]:
    """Whether the opportunity is closed, as of its latest stage by time."""
    known = features.opportunities.get(opportunity_id, {})
    stage_at = known.get("stage_at")
    if stage_at is not None and datetime.fromisoformat(stage_at) > at:
        return {}
    now = {**known, "closed": closed, "stage_at": at.isoformat()}
    return {"opportunities": {**features.opportunities, opportunity_id: dict(sorted(now.items()))}}


def _terms(
    features: Features,
    change: dict[str, Any],
    opportunity_id: str,
    at: datetime,
    terms: OpportunityTerms,
) -> dict[str, Any]:
    """The opportunity's amount and lines, as of its latest terms by time (after `change`)."""
    opportunities = change.get("opportunities", features.opportunities)
    known = opportunities.get(opportunity_id, {"closed": False})
    terms_at = known.get("terms_at")
    if terms_at is not None and datetime.fromisoformat(terms_at) > at:
        return {}
    now = {
        **known,
        "amount": float(terms.amount) if terms.amount is not None else None,
        "currency": terms.currency,
        "lines": len(terms.lines),
        "terms_at": at.isoformat(),
    }
    # Its keys in one order whatever order they came in: the same features, the same document.
    return {"opportunities": {**opportunities, opportunity_id: dict(sorted(now.items()))}}


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)
