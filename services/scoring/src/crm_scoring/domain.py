"""The value score, rule "skeleton-1": a simple, documented rule that the scoring issue replaces.

Points, capped at 100:
- freight volume: 1 point per 25 t a month, at most 40;
- size: large 15, medium 10, small 5, micro 2;
- nature: state-owned, listed, group company or joint venture 10, any other known nature 5;
- engagement: 5 per follow-up, at most 20;
- deals: 15 per deal won (at most 30), minus 10 per deal lost.
Tier: A from 75, B from 50, C from 25, else D.
Win probability: 0.05 + 0.6 x score/100 + 0.05 per follow-up (at most 4) - 0.1 per lost deal,
kept within [0.01, 0.99]; a won deal makes it 0.99.
"""

from dataclasses import dataclass, field

from crm_contracts import Tier

RULE_VERSION = "skeleton-1"
SIZE_POINTS = {"large": 15, "medium": 10, "small": 5, "micro": 2}
STRONG_NATURES = {"state_owned", "listed_company", "group_company", "joint_venture_or_foreign"}
TIER_FLOORS = ((75, Tier.A), (50, Tier.B), (25, Tier.C), (0, Tier.D))


@dataclass(frozen=True)
class Signals:
    """What scoring has learnt of one customer from the events so far."""

    monthly_freight_volume_tons: float | None = None
    size: str | None = None
    nature: str | None = None
    followups: int = 0
    deals_won: int = 0
    deals_lost: int = 0


@dataclass(frozen=True)
class Assessment:
    score: int
    tier: Tier
    win_probability: float
    reasons: list[str] = field(default_factory=list)


def assess(signals: Signals) -> Assessment:
    points: list[tuple[int, str]] = []
    if signals.monthly_freight_volume_tons:
        tons = signals.monthly_freight_volume_tons
        points.append((min(40, int(tons // 25)), f"freight volume {tons:g} t/month"))
    if signals.size in SIZE_POINTS:
        points.append((SIZE_POINTS[signals.size], f"{signals.size} company"))
    if signals.nature and signals.nature != "other":
        strong = signals.nature in STRONG_NATURES
        points.append((10 if strong else 5, f"nature {signals.nature}"))
    if signals.followups:
        points.append((min(20, 5 * signals.followups), f"{signals.followups} follow-up(s)"))
    if signals.deals_won:
        points.append((min(30, 15 * signals.deals_won), f"{signals.deals_won} deal(s) won"))
    if signals.deals_lost:
        points.append((-10 * signals.deals_lost, f"{signals.deals_lost} deal(s) lost"))

    score = max(0, min(100, sum(value for value, _ in points)))
    tier = next(tier for floor, tier in TIER_FLOORS if score >= floor)
    if signals.deals_won:
        probability = 0.99
    else:
        probability = 0.05 + 0.6 * score / 100 + 0.05 * min(signals.followups, 4) - 0.1 * signals.deals_lost
        probability = round(max(0.01, min(0.99, probability)), 4)
    reasons = [f"{value:+d} {why}" for value, why in points] or ["no signals yet"]
    return Assessment(score, tier, probability, reasons)
