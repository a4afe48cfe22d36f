"""One assessment of a customer: value score, tier, win probability and strategy, with reasons.
The same inputs always give the same assessment: the time is the customer's own (its latest
event's), never that of whatever caused the scoring, and the win probability comes from one
versioned snapshot of the model."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from crm_contracts import CustomerScoredPayload
from crm_contracts.texts import fit

from crm_scoring.domain.features import Features
from crm_scoring.domain.strategy import Strategy, recommend
from crm_scoring.domain.value_model import ValueResult, load, score
from crm_scoring.domain.win_probability import WinEstimate, WinModel

# The time of a customer no event has dated yet (only features built by hand have none).
UNDATED = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Assessment:
    value: ValueResult
    win: WinEstimate
    strategy: Strategy | None
    snapshot: int = 0  # the win model's version; not part of the key: see key()

    def key(self) -> tuple[int, str, float, tuple[str, int] | None, str]:
        """What counts as a change worth announcing: a new snapshot alone is not."""
        strategy = (self.strategy.strategy_id, self.strategy.version) if self.strategy else None
        return (
            self.value.score,
            self.value.tier,
            self.win.probability,
            strategy,
            self.value.model_version,
        )

    def payload(self) -> CustomerScoredPayload:
        """The event's payload; reasons quote the data (a region, an industry), so each is cut to
        the contract's length."""
        reasons = [fit(f"{c.points:+d} {c.reason}") for c in self.value.contributions if c.points]
        return CustomerScoredPayload(
            score=self.value.score,
            tier=self.value.tier,
            win_probability=self.win.probability,
            reasons=reasons or ["no signals yet"],
            rule_version=self.value.model_version,
            model_snapshot=self.snapshot,
            contributions=[
                {"factor": c.factor, "points": c.points, "reason": fit(c.reason)}
                for c in self.value.contributions
            ],
            prior_log_odds=round(self.win.prior_log_odds, 6),
            probability_contributions=[
                {
                    "feature": e.feature,
                    "value": fit(e.value),
                    "log_odds": round(e.log_odds, 6),
                    "reason": fit(e.reason),
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
    features: Features, model: WinModel, strategies: Iterable[Strategy], model_version: str
) -> Assessment:
    value = score(features, features.as_of or UNDATED, model_version)
    win = win_estimate(model, features.segment(), model_version)
    strategy = recommend(strategies, value.tier, features.industry, features.region, features.size)
    return Assessment(value, win, strategy, model.version)


def win_estimate(model: WinModel, segment: dict[str, str], model_version: str) -> WinEstimate:
    """The segment's estimate with the smoothing the value model's file sets."""
    settings = load(model_version)["win_probability"]
    return model.estimate(segment, settings["alpha"], settings["min_support"])
