"""Win probability: naive Bayes over the customer's segment (industry, region, nature, size,
freight band), from won and lost deals. Customers are scored with a versioned snapshot of the
counts (`WinModel`), which a single writer builds from the deals learnt since the one before.
Laplace-smoothed; a value seen in fewer than `min_support` deals falls back to the global rate (it
contributes nothing). The explanation is each value's log-odds."""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

GLOBAL = "*"


@dataclass(frozen=True)
class WinCounts:
    """Deals won and lost, overall (key "*") and per "feature=value"."""

    by_key: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def won(self) -> int:
        return self.by_key.get(GLOBAL, (0, 0))[0]

    @property
    def lost(self) -> int:
        return self.by_key.get(GLOBAL, (0, 0))[1]

    def values_seen(self, feature: str) -> int:
        return sum(1 for key in self.by_key if key.startswith(f"{feature}="))


def keys_for(segment: Mapping[str, str]) -> list[str]:
    """The counters a deal of a customer in `segment` increments."""
    return [GLOBAL, *(f"{name}={value}" for name, value in sorted(segment.items()))]


def learn(counts: WinCounts, segment: Mapping[str, str], outcome: str) -> WinCounts:
    return recount(counts, [(outcome, None, keys_for(segment))])


Recounted = tuple[str, Sequence[str] | None, Sequence[str]]  # outcome, keys counted under, now


def recount(counts: WinCounts, deals: Iterable[Recounted]) -> WinCounts:
    """The counts once each deal is counted under its keys now instead of those it was counted
    under (None: not counted yet). A key no deal is counted under any more is dropped, so that the
    counts are the same whatever way they were reached."""
    updated = dict(counts.by_key)

    def add(keys: Sequence[str], won: int, lost: int) -> None:
        for key in keys:
            before = updated.get(key, (0, 0))
            updated[key] = (before[0] + won, before[1] + lost)
            if updated[key] == (0, 0):
                del updated[key]

    for outcome, before, now in deals:
        won, lost = (1, 0) if outcome == "won" else (0, 1)
        if before is not None:
            add(before, -won, -lost)
        add(now, won, lost)
    return WinCounts(updated)


@dataclass(frozen=True)
class FeatureEffect:
    feature: str
    value: str
    log_odds: float
    reason: str


@dataclass(frozen=True)
class WinEstimate:
    probability: float
    prior_log_odds: float
    effects: tuple[FeatureEffect, ...]

    @property
    def log_odds(self) -> float:
        return self.prior_log_odds + sum(effect.log_odds for effect in self.effects)


def estimate(
    counts: WinCounts, segment: Mapping[str, str], alpha: float = 1.0, min_support: int = 5
) -> WinEstimate:
    prior = math.log((counts.won + alpha) / (counts.lost + alpha))
    effects = []
    for name, value in sorted(segment.items()):
        won_v, lost_v = counts.by_key.get(f"{name}={value}", (0, 0))
        if won_v + lost_v < min_support:
            effects.append(
                FeatureEffect(
                    name,
                    value,
                    0.0,
                    f"{name} {value}: {won_v + lost_v} deal(s), too few: global rate",
                )
            )
            continue
        kinds = max(1, counts.values_seen(name))
        p_won = (won_v + alpha) / (counts.won + alpha * kinds)
        p_lost = (lost_v + alpha) / (counts.lost + alpha * kinds)
        log_odds = math.log(p_won / p_lost)
        effects.append(
            FeatureEffect(
                name,
                value,
                log_odds,
                f"{name} {value}: {won_v} won, {lost_v} lost ({log_odds:+.2f} log-odds)",
            )
        )
    log_odds = prior + sum(effect.log_odds for effect in effects)
    # Rounded for display, but never to a certainty the smoothing does not claim.
    probability = min(0.9999, max(0.0001, round(1 / (1 + math.exp(-log_odds)), 4)))
    return WinEstimate(probability, prior, tuple(effects))


@dataclass(frozen=True, eq=False)
class WinModel:
    """A versioned snapshot of the counts, applied whole: version 0 is the empty one, before any
    deal. Each distinct segment's estimate is computed once per snapshot."""

    version: int = 0
    counts: WinCounts = field(default_factory=WinCounts)
    _estimates: dict[tuple[tuple[tuple[str, str], ...], float, int], WinEstimate] = field(
        default_factory=dict, repr=False
    )

    def estimate(
        self, segment: Mapping[str, str], alpha: float = 1.0, min_support: int = 5
    ) -> WinEstimate:
        key = (tuple(sorted(segment.items())), alpha, min_support)
        found = self._estimates.get(key)
        if found is None:
            found = self._estimates[key] = estimate(self.counts, segment, alpha, min_support)
        return found
