"""The value score: a transparent weighted model whose weights and bands live in a versioned JSON
file (crm_scoring/models/<version>.json). Every factor contributes whole points, and the points add
up to the score exactly."""

import json
import math
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from crm_scoring.domain.features import Features

MODELS = Path(__file__).resolve().parents[1] / "models"


class Contribution(NamedTuple):  # a tuple: sixteen of them per score, made cheaply
    factor: str
    points: int
    reason: str


@dataclass(frozen=True)
class ValueResult:
    score: int
    tier: str
    contributions: tuple[Contribution, ...]
    model_version: str


@cache
def load(version: str) -> dict[str, Any]:
    path = MODELS / f"{version}.json"
    if not path.exists():
        known = sorted(p.stem for p in MODELS.glob("*.json"))
        raise ValueError(f"no model {version!r}: known models are {', '.join(known)}")
    model: dict[str, Any] = json.loads(path.read_text())
    return model


def _linear(value: float | None, zero_at: float, full_at: float) -> float:
    """0 at zero_at, 1 at full_at, straight between (either direction), clipped."""
    if value is None:
        return 0.0
    if full_at == zero_at:
        return 1.0 if value >= full_at else 0.0
    return max(0.0, min(1.0, (value - zero_at) / (full_at - zero_at)))


def _fit(features: Features, config: dict[str, Any]) -> list[tuple[str, float, float, str]]:
    """(factor, weight, value 0..1, reason) for each fit factor."""
    tons = features.monthly_freight_volume_tons
    bands = config["freight_volume"]["bands"]
    freight = next((value for floor, value in bands if tons is not None and tons >= floor), 0.0)
    rows = [
        (
            "freight_volume",
            config["freight_volume"]["weight"],
            freight,
            f"freight volume {tons:g} t/month" if tons is not None else "freight volume unknown",
        )
    ]
    for factor in ("size", "nature", "industry", "region"):
        known = getattr(features, factor)
        known = known if not isinstance(known, str) or known.strip() else None  # blank is unknown
        table = config[factor]
        key = known.strip().lower() if isinstance(known, str) else known
        value = table["values"].get(key, table.get("default", 0.0)) if known else 0.0
        rows.append(
            (factor, table["weight"], value, f"{factor} {known}" if known else f"{factor} unknown")
        )
    return rows


def _financial(features: Features, config: dict[str, Any]) -> list[tuple[str, float, float, str]]:
    ratios = features.ratios or {}
    rows = []
    for factor in (
        "current_ratio",
        "debt_to_asset_ratio",
        "sales_profit_margin",
        "receivables_turnover",
        "operating_cash_flow",
    ):
        raw = ratios.get(factor)
        value = float(raw) if raw is not None else None
        band = config[factor]
        reason = (
            f"{factor.replace('_', ' ')} {value:g}"
            if value is not None
            else f"{factor.replace('_', ' ')} unknown"
        )
        rows.append(
            (factor, band["weight"], _linear(value, band["zero_at"], band["full_at"]), reason)
        )
    credit = features.credit
    if credit is None:
        rows.append(("credit", config["credit"]["weight"], 0.0, "no credit report"))
    else:
        defaults, lawsuits = credit.get("defaults") or 0, credit.get("lawsuits") or 0
        value = max(
            0.0,
            1.0
            - defaults * config["credit"]["per_default"]
            - lawsuits * config["credit"]["per_lawsuit"],
        )
        rows.append(
            (
                "credit",
                config["credit"]["weight"],
                value,
                f"{defaults} default(s), {lawsuits} lawsuit(s)",
            )
        )
    return rows


def _engagement(
    features: Features, config: dict[str, Any], at: datetime
) -> list[tuple[str, float, float, str]]:
    active = features.active_followups()
    times = [datetime.fromisoformat(f["at"]) for f in active if f.get("at")]
    if times:
        days = max(0.0, (at - max(times)).total_seconds() / 86400)
        recency = _linear(
            days, config["recency"]["zero_after_days"], config["recency"]["full_within_days"]
        )
        recency_reason = f"last follow-up {days:.0f} day(s) before"
    else:
        recency, recency_reason = 0.0, "no follow-up yet"
    channels = sorted({f["channel"] for f in active if f.get("channel")})
    frequency = min(1.0, len(active) / config["frequency"]["full_at"])
    open_proposals = sum(1 for status in features.proposals.values() if status == "open")
    rows = [
        ("recency", config["recency"]["weight"], recency, recency_reason),
        (
            "frequency",
            config["frequency"]["weight"],
            frequency,
            f"{len(active)} follow-up(s)" + (f" by {', '.join(channels)}" if channels else ""),
        ),
        (
            "proposals_open",
            config["proposals_open"]["weight"],
            1.0 if open_proposals else 0.0,
            f"{open_proposals} proposal(s) open",
        ),
        (
            "stage",
            config["stage"]["weight"],
            features.stage_probability or 0.0,
            f"stage {features.stage}" if features.stage else "no opportunity",
        ),
    ]
    return rows + _pipeline(features, config)


def _pipeline(features: Features, config: dict[str, Any]) -> list[tuple[str, float, float, str]]:
    """What its open opportunities are worth and how many service lines they carry: in models
    that weigh them (value-v3 on), so that earlier versions score as they always did."""
    rows = []
    if (pipeline := config.get("pipeline_value")) is not None:
        value = features.open_pipeline(pipeline["currency"])
        rows.append(
            (
                "pipeline_value",
                pipeline["weight"],
                _linear(value, 0, pipeline["full_at"]),
                f"{value:,.0f} {pipeline['currency']} open",
            )
        )
    if (lines := config.get("lines_in_flight")) is not None:
        count = features.lines_in_flight()
        rows.append(
            (
                "lines_in_flight",
                lines["weight"],
                min(1.0, count / lines["full_at"]),
                f"{count} service line(s) in open opportunities",
            )
        )
    return rows


def _apportion(shares: list[float]) -> list[int]:
    """Whole points that add up to the rounded total (largest remainders get the spare points)."""
    total = round(sum(shares))
    floors = [math.floor(share) for share in shares]
    spare = total - sum(floors)
    by_remainder = sorted(
        range(len(shares)), key=lambda i: (shares[i] - floors[i], -i), reverse=True
    )
    for index in by_remainder[:spare]:
        floors[index] += 1
    return floors


def score(features: Features, at: datetime, version: str = "value-v1") -> ValueResult:
    """The score at time `at` (the customer's latest event's: same events, same scores)."""
    config = load(version)
    rows = []
    for group, build in (("fit", _fit), ("financial", _financial)):
        rows += [
            (f"{group}.{name}", config["groups"][group] * weight * value, reason)
            for name, weight, value, reason in build(features, config[group])
        ]
    rows += [
        (f"engagement.{name}", config["groups"]["engagement"] * weight * value, reason)
        for name, weight, value, reason in _engagement(features, config["engagement"], at)
    ]
    points = _apportion([share for _, share, _ in rows])
    contributions = tuple(
        Contribution(factor, point, reason)
        for (factor, _, reason), point in zip(rows, points, strict=True)
    )
    total = max(0, min(100, sum(points)))
    tier = next(name for floor, name in config["tiers"] if total >= floor)
    return ValueResult(total, tier, contributions, config["version"])
