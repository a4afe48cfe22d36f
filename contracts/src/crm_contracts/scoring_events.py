"""Events of the scoring service."""

from typing import Literal

from pydantic import Field

from crm_contracts.common import Text, Tier
from crm_contracts.envelope import Event, Payload


class ScoreContribution(Payload):
    factor: Text
    points: int
    reason: Text


class ProbabilityContribution(Payload):
    feature: Text
    value: Text
    log_odds: float
    reason: Text


class RecommendedStrategy(Payload):
    strategy_id: Text
    version: int
    name: Text
    contact_every_days: int
    channel: Text
    offer: Text
    owner_seniority: int


class CustomerScoredPayload(Payload):
    score: int = Field(ge=0, le=100)
    tier: Tier
    win_probability: float = Field(ge=0, le=1)
    reasons: list[Text] = Field(max_length=50)
    rule_version: Text = Field(description="The model version that scored.")
    model_snapshot: int | None = Field(
        default=None,
        ge=0,
        description="The version of the win-probability model snapshot (the deal counts) that "
        "gave win_probability; 0 before any deal was learnt. Absent from older scores.",
    )
    contributions: list[ScoreContribution] = Field(
        default_factory=list, description="Points per factor; they add up to score."
    )
    prior_log_odds: float | None = Field(
        default=None, description="The global win rate, as log-odds."
    )
    probability_contributions: list[ProbabilityContribution] = Field(
        default_factory=list,
        description="Log-odds per segment value; with prior_log_odds they add up to the log-odds.",
    )
    strategy: RecommendedStrategy | None = None


class CustomerScored(Event):
    event_type: Literal["CustomerScored"] = "CustomerScored"
    schema_version: Literal[1] = 1
    payload: CustomerScoredPayload
