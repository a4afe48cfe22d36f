"""What scoring knows of one customer, built from events. Every update is idempotent and tolerant
of order: follow-ups, proposals and deals are kept by id, and the stage by the time it was set."""

from datetime import datetime
from typing import Any

from crm_contracts import (
    CustomerCreated,
    CustomerUpdated,
    DealClosed,
    Event,
    FinancialsRecorded,
    FollowupRevoked,
    OpportunityOpened,
    ProposalAccepted,
    ProposalCreated,
    ProposalRejected,
    ProposalRevised,
    ProposalWithdrawn,
    StageChanged,
    VisitLogged,
)
from pydantic import BaseModel, ConfigDict, Field

PROFILE_FIELDS = ("monthly_freight_volume_tons", "industry", "region", "nature", "size")
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
        default_factory=dict, description="id -> channel, at, revoked"
    )
    proposals: dict[str, str] = Field(
        default_factory=dict, description="id -> open/accepted/rejected/withdrawn"
    )
    stage: str | None = None
    stage_probability: float | None = None
    stage_at: datetime | None = None
    deals: dict[str, str] = Field(default_factory=dict, description="id -> won/lost")

    def active_followups(self) -> list[dict[str, Any]]:
        return [f for f in self.followups.values() if not f.get("revoked")]

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


def freight_band(tons: float | None) -> str | None:
    """Monthly freight volume in the bands the value reports and the segments use."""
    if tons is None:
        return None
    return next(
        (label for floor, label in FREIGHT_BANDS if tons >= floor), None
    )  # NaN, negative: unknown


def apply(features: Features, event: Event) -> Features:
    """The features after `event`; the same features when the event says nothing new."""
    payload = event.payload
    change: dict[str, Any] = {}
    if isinstance(event, CustomerCreated):
        change = {name: _plain(getattr(payload, name)) for name in PROFILE_FIELDS}
        change["credit"] = payload.credit.model_dump(mode="json") if payload.credit else None
    elif isinstance(event, CustomerUpdated):
        fields = payload.fields
        change = {
            name: _plain(getattr(fields, name))
            for name in payload.changed
            if name in PROFILE_FIELDS
        }
        if "credit" in payload.changed:
            change["credit"] = fields.credit.model_dump(mode="json") if fields.credit else None
    elif isinstance(event, FinancialsRecorded):
        latest = max(payload.ratios, key=lambda ratios: ratios.year, default=None)
        change["ratios"] = latest.model_dump(mode="json") if latest else None
    elif isinstance(event, VisitLogged):
        previous = features.followups.get(payload.followup_id, {})
        change["followups"] = {
            **features.followups,
            payload.followup_id: {
                "channel": payload.channel.value,
                "at": payload.started_at.isoformat(),
                "revoked": previous.get("revoked", False),
            },
        }
    elif isinstance(event, FollowupRevoked):
        previous = features.followups.get(payload.followup_id, {"channel": None, "at": None})
        change["followups"] = {
            **features.followups,
            payload.followup_id: {**previous, "revoked": True},
        }
    elif isinstance(event, OpportunityOpened | StageChanged):
        stage = payload.stage if isinstance(event, OpportunityOpened) else payload.to_stage
        if features.stage_at is None or event.occurred_at >= features.stage_at:
            change = {
                "stage": stage,
                "stage_probability": payload.win_probability,
                "stage_at": event.occurred_at,
            }
    elif isinstance(event, ProposalCreated | ProposalRevised):
        if features.proposals.get(payload.proposal_id, "open") == "open":  # a decision is final
            change["proposals"] = {**features.proposals, payload.proposal_id: "open"}
    elif isinstance(event, ProposalAccepted | ProposalRejected | ProposalWithdrawn):
        change["proposals"] = {
            **features.proposals,
            payload.proposal_id: FINAL_PROPOSAL[event.event_type],
        }
    elif isinstance(event, DealClosed):
        change["deals"] = {**features.deals, payload.deal_id: payload.outcome}
    return features.model_copy(update=change) if change else features


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)
