"""One assessment of a customer: value score, tier, win probability and strategy, with reasons.
The same inputs always give the same assessment; the time comes from the event that caused it."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from crm_contracts import CustomerScoredPayload

from crm_scoring.domain.features import Features
from crm_scoring.domain.strategy import Strategy, recommend
from crm_scoring.domain.value_model import ValueResult, load, score
from crm_scoring.domain.win_probability import WinCounts, WinEstimate, estimate


@dataclass(frozen=True)
class Assessment:
    value: ValueResult
    win: WinEstimate
    strategy: Strategy | None

    def key(self) -> tuple[int, str, float, tuple[str, int] | None, str]:
        """What counts as a change worth announcing."""
        strategy = (self.strategy.strategy_id, self.strategy.version) if self.strategy else None
        return (
            self.value.score,
            self.value.tier,
            self.win.probability,
            strategy,
            self.value.model_version,
        )

    def payload(self) -> CustomerScoredPayload:
        reasons = [f"{c.points:+d} {c.reason}" for c in self.value.contributions if c.points]
        return CustomerScoredPayload(
            score=self.value.score,
            tier=self.value.tier,
            win_probability=self.win.probability,
            reasons=reasons or ["no signals yet"],
            rule_version=self.value.model_version,
            contributions=[
                {"factor": c.factor, "points": c.points, "reason": c.reason}
                for c in self.value.contributions
            ],
            prior_log_odds=round(self.win.prior_log_odds, 6),
            probability_contributions=[
                {
                    "feature": e.feature,
                    "value": e.value,
                    "log_odds": round(e.log_odds, 6),
                    "reason": e.reason,
                }
                for e in self.win.effects
            ],
            strategy=None
            if self.strategy is None
            else {
                "strategy_id": self.strategy.strategy_id,
                "version": self.strategy.version,
                "name": self.strategy.name,
                "contact_every_days": self.strategy.contact_every_days,
                "channel": self.strategy.channel.value,
                "offer": self.strategy.offer,
                "owner_seniority": self.strategy.owner_seniority,
            },
        )


def assess(
    features: Features,
    counts: WinCounts,
    strategies: Iterable[Strategy],
    at: datetime,
    model_version: str,
) -> Assessment:
    value = score(features, at, model_version)
    settings = load(model_version)["win_probability"]
    win = estimate(counts, features.segment(), settings["alpha"], settings["min_support"])
    strategy = recommend(strategies, value.tier, features.industry, features.region, features.size)
    return Assessment(value, win, strategy)
