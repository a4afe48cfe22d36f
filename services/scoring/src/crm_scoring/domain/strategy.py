"""Strategies per segment (module 3): how often to contact, through which channel, with what
offer, by whom. The most specific matching strategy wins, then the higher priority, then the id."""

from collections.abc import Iterable, Sequence

from crm_contracts.common import Channel, Text, Tier
from crm_runtime.handlers import Command
from pydantic import BaseModel, ConfigDict, Field


class Segment(BaseModel):
    """Who a strategy is for; an empty list matches anything."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    tiers: list[Tier] = Field(default_factory=list)
    industries: list[Text] = Field(default_factory=list)
    regions: list[Text] = Field(default_factory=list)
    sizes: list[Text] = Field(default_factory=list)


class StrategyDefinition(Command):
    """What a manager gives (a Command: unknown fields refused, flags and numbers as JSON)."""

    name: Text
    segment: Segment = Field(default_factory=Segment)
    contact_every_days: int = Field(ge=1, le=365)
    channel: Channel
    offer: Text
    owner_seniority: int = Field(ge=1, le=3, description="The seniority the owner should have.")
    priority: int = Field(default=0, description="Breaks ties between equally specific strategies.")
    active: bool = True


class Strategy(StrategyDefinition):
    strategy_id: str
    version: int = Field(ge=1)


def _matches(wanted: Sequence[str], actual: str | None) -> bool:
    return not wanted or (
        actual is not None and actual.strip().lower() in {str(w).strip().lower() for w in wanted}
    )


def recommend(
    strategies: Iterable[Strategy],
    tier: str,
    industry: str | None,
    region: str | None,
    size: str | None,
) -> Strategy | None:
    fitting = [
        s
        for s in strategies
        if s.active
        and _matches(s.segment.tiers, tier)
        and _matches(s.segment.industries, industry)
        and _matches(s.segment.regions, region)
        and _matches(s.segment.sizes, size)
    ]

    def specificity(s: Strategy) -> tuple[int, int, str]:
        criteria = sum(
            1
            for wanted in (
                s.segment.tiers,
                s.segment.industries,
                s.segment.regions,
                s.segment.sizes,
            )
            if wanted
        )
        return (-criteria, -s.priority, s.strategy_id)

    return min(fitting, key=specificity, default=None)
