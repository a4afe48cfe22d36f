"""The period forecast against quotas, pure: what each open opportunity and each won deal adds to
its salesperson's month, split by service line, and the rows a report answers with.

Every open opportunity counts in the month of its expected close date (none: unscheduled), at
its value: its amount, else its latest priced proposal's price. Of the period's open ones:
- commit: those at a win probability of COMMIT_FROM or more (the default pipeline's negotiation);
- best case: those at BEST_CASE_FROM or more (proposal and later);
- pipeline: all of them; weighted: each at its value times its win probability.
Each figure adds the deals won in the period (closed won), so that each compares with the quota:
attainment is the figure over the quota, the gap the quota less the figure. Money is counted per
currency (never converted), tons as the monthly freight the lines or deals carry; all in
millionths, which add up exactly."""

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from fractions import Fraction
from typing import Any

from crm_runtime.periods import month_of, parts_of

Doc = dict[str, Any]
COMMIT_FROM = 0.75
BEST_CASE_FROM = 0.5
FIGURES = ("closed_won", "commit", "best_case", "pipeline", "weighted")
# The amounts' names per figure: money `<name>_<currency>`, tons `freight_micro_<name>`.
OPEN_NAMES = {
    "commit": "commit",
    "best_case": "best",
    "pipeline": "pipeline",
    "weighted": "weighted",
}
UNSCHEDULED = None  # the month of an open opportunity without an expected close date


def _micro(amount: float) -> int:
    return round(amount * 1_000_000)


def value_of(
    opportunity: Doc, price_of: Mapping[str, tuple[float, str]]
) -> tuple[float, str] | None:
    """What an open opportunity is worth: its amount, else its latest priced proposal's price."""
    if opportunity.get("amount") is not None:
        return float(opportunity["amount"]), opportunity.get("currency") or "?"
    return price_of.get(opportunity["_id"])


def close_month(opportunity: Doc) -> str | None:
    expected = opportunity.get("expected_close_date")
    if expected is None:
        return UNSCHEDULED
    return month_of(expected if isinstance(expected, date) else date.fromisoformat(expected))


def line_shares(total: int, lines: Sequence[Doc]) -> list[int]:
    """`total` split over the lines, exactly: in proportion to each line's monthly value (its
    rate times its monthly tons or shipments) where every line has one, else to its monthly
    tons where every line has some, else equally."""
    if not lines:
        return []
    weights = [_monthly_value(line) for line in lines]
    if not all(weights):
        weights = [float(line.get("monthly_tons") or 0) for line in lines]
    if not all(weights):
        weights = [1.0] * len(lines)
    # In exact fractions: in floats, a share of a large amount was a unit off.
    exact = [Fraction(weight) for weight in weights]
    whole = sum(exact)
    parts = [total * weight / whole for weight in exact]
    shares = [math.floor(part) for part in parts]
    # What rounding down left goes to the largest remainders, so that the shares add up.
    order = sorted(range(len(lines)), key=lambda i: (shares[i] - parts[i], i))
    for index in order[: total - sum(shares)]:
        shares[index] += 1
    return shares


def _monthly_value(line: Doc) -> float:
    rate, basis = line.get("rate"), line.get("rate_basis")
    if rate is None or basis is None:
        return 0.0
    quantity = {"ton": line.get("monthly_tons"), "shipment": line.get("monthly_shipments")}
    return float(rate) * float(quantity.get(basis, 1) or 0)


def open_amounts(probability: float, value: tuple[float, str] | None, tons: float) -> Counter[str]:
    """What one open opportunity (or one of its lines) adds to its month."""
    n: Counter[str] = Counter(open=1)
    chosen = {"pipeline": True, "weighted": True}
    chosen |= {"commit": probability >= COMMIT_FROM, "best": probability >= BEST_CASE_FROM}
    for name, counted in chosen.items():
        if not counted:
            continue
        share = probability if name == "weighted" else 1.0
        if value is not None:
            n[f"{name}_{value[1]}"] += _micro(value[0] * share)
        n[f"freight_micro_{name}"] += _micro(tons * share)
    if value is None:
        n["unvalued"] += 1
    return n


def won_amounts(amount: float | None, currency: str | None, tons: float) -> Counter[str]:
    """What a won deal (or one of its lines) adds to the month it closed in."""
    n: Counter[str] = Counter(won=1)
    if amount is not None:
        n[f"revenue_{currency or '?'}"] += _micro(amount)
    n["freight_micro_won"] += _micro(tons)
    return n


def lines_of_open(
    opportunity: Doc, value: tuple[float, str] | None
) -> list[tuple[Doc, Counter[str]]]:
    """Each line of an open opportunity with what it adds: its share of the value, weighted, and
    its tons (per line, the pipeline and its weight only: commit and best case are the
    opportunities')."""
    lines = opportunity.get("lines") or []
    probability = opportunity.get("win_probability") or 0.0
    shares = line_shares(_micro(value[0]), lines) if value else [0] * len(lines)
    found = []
    for line, share in zip(lines, shares, strict=True):
        tons = _micro(float(line.get("monthly_tons") or 0))
        n: Counter[str] = Counter(open=1, freight_micro_pipeline=tons)
        n["freight_micro_weighted"] = round(tons * probability)
        if value is not None:
            n[f"pipeline_{value[1]}"] = share
            n[f"weighted_{value[1]}"] = round(share * probability)
        found.append((line, n))
    return found


def lines_of_won(deal: Doc) -> list[tuple[Doc, Counter[str]]]:
    """Each line a won deal won with what it adds: its share of the amount, and its tons."""
    lines = deal.get("lines") or []
    amount = deal.get("amount")
    shares = line_shares(_micro(amount), lines) if amount is not None else [0] * len(lines)
    found = []
    for line, share in zip(lines, shares, strict=True):
        n: Counter[str] = Counter(won=1)
        n["freight_micro_won"] = _micro(float(line.get("monthly_tons") or 0))
        if amount is not None:
            n[f"revenue_{deal.get('currency') or '?'}"] = share
        found.append((line, n))
    return found


def line_row(n: Mapping[str, int]) -> Doc:
    """A service line's mode or origin in a period: closed won, pipeline and weighted (each with
    closed won), per currency and in tons."""
    money = {}
    for currency in currencies(n):
        found = figures(n, currency)
        money[currency] = {k: found[k] for k in ("closed_won", "pipeline", "weighted")}
    freight = tons(n)
    return {
        "revenue": money,
        "freight_tons": {k: freight[k] for k in ("closed_won", "pipeline", "weighted")},
        "lines_won": n.get("won", 0),
        "open_lines": n.get("open", 0),
    }


# --- quotas ---------------------------------------------------------------------------------------


def quota_of(quotas: Mapping[str, Doc], period: str) -> Doc | None:
    """A target's quota for the period: the one set for it, else the sum of its parts' (a year's
    quarters, a quarter's months, each found the same way) where every part has one in one
    currency. `quotas` are the target's, by period."""
    if (set_for := quotas.get(period)) is not None and (targets := _targets(set_for)):
        return {**targets, "from": "set"}
    parts = [quota_of(quotas, part) for part in parts_of(period)]
    if not parts or any(part is None for part in parts):
        return None
    found = [part for part in parts if part is not None]
    currencies = {part["currency"] for part in found}
    if len(currencies) != 1:
        return None
    summed: Doc = {"currency": currencies.pop(), "from": "parts"}
    for name in ("revenue", "freight_tons"):
        values = [part[name] for part in found]
        summed[name] = None if None in values else round(sum(values), 6)
    return summed


def _targets(quota: Doc) -> Doc:
    """A quota's targets, {} where it was cleared."""
    if quota.get("revenue") is None and quota.get("freight_tons") is None:
        return {}
    revenue = quota.get("revenue")
    return {
        "revenue": float(revenue) if revenue is not None else None,
        "currency": quota.get("currency"),
        "freight_tons": quota.get("freight_tons"),
    }


# --- rows -----------------------------------------------------------------------------------------


def figures(n: Mapping[str, int], currency: str) -> dict[str, float]:
    """The five figures in a currency (closed won added to each open one)."""
    won = n.get(f"revenue_{currency}", 0)
    found = {"closed_won": won}
    for figure, name in OPEN_NAMES.items():
        found[figure] = won + n.get(f"{name}_{currency}", 0)
    return {figure: round(amount / 1_000_000, 2) for figure, amount in found.items()}


def tons(n: Mapping[str, int]) -> dict[str, float]:
    won = n.get("freight_micro_won", 0)
    found = {"closed_won": won}
    for figure, name in OPEN_NAMES.items():
        found[figure] = won + n.get(f"freight_micro_{name}", 0)
    return {figure: round(amount / 1_000_000, 6) for figure, amount in found.items()}


_MONEY = frozenset(("revenue", *OPEN_NAMES.values()))  # `<kind>_<currency>`


def currencies(n: Mapping[str, int]) -> list[str]:
    found = set()
    for name, amount in n.items():
        kind, _, currency = name.partition("_")  # tons are `freight_micro_...`: not money
        if amount and kind in _MONEY:
            found.add(currency)
    return sorted(found)


def against(found: Mapping[str, float], target: float | None) -> tuple[Doc | None, Doc | None]:
    """Each figure's attainment (over the target) and gap (the target less it)."""
    if target is None:
        return None, None
    gap = {k: round(target - v, 6) for k, v in found.items()}
    if not target:
        return dict.fromkeys(found), gap
    return {k: round(v / target, 4) for k, v in found.items()}, gap


def row(n: Mapping[str, int], quota: Doc | None) -> Doc:
    """A salesperson's or team's period: money per currency, tons, and each against the quota
    (money in the quota's currency)."""
    money = {currency: figures(n, currency) for currency in currencies(n)}
    currency = quota["currency"] if quota else None
    if currency and quota and quota.get("revenue") is not None:
        money.setdefault(currency, figures(n, currency))
    revenue_target = quota.get("revenue") if quota else None
    attainment, gap = against(money.get(currency or "", {}), revenue_target)
    freight = tons(n)
    tons_attainment, tons_gap = against(freight, quota.get("freight_tons") if quota else None)
    return {
        "quota": quota,
        "revenue": money,
        "attainment": attainment,
        "gap": gap,
        "freight_tons": freight,
        "freight_attainment": tons_attainment,
        "freight_gap": tons_gap,
        "deals_won": n.get("won", 0),
        "open_opportunities": n.get("open", 0),
        "unvalued_opportunities": n.get("unvalued", 0),
    }


def summed(rows: Iterable[Mapping[str, int]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for n in rows:
        total.update(n)
    return total
