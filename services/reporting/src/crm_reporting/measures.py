"""The arithmetic of the reports, pure: rates that say "no data" rather than divide by zero, and
the shapes the endpoints return."""

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

Doc = dict[str, Any]
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # what times are counted from, in milliseconds


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (no closed deal, no customer…)."""
    return round(part / whole, 4) if whole else None


def rate_of(part: float, whole: float | None) -> float | None:
    """part / whole for amounts (a quota's attainment), or None without a whole to divide by."""
    return round(part / whole, 4) if whole else None


def win_rate(won: int, lost: int) -> float | None:
    return rate(won, won + lost)


def scorecard(
    profiles: list[Doc],
    followups: list[Doc],
    proposals: list[Doc],
    deals: list[Doc],
    since: datetime,
    until: datetime,
    dormant_after: timedelta,
) -> list[Doc]:
    """One row per salesperson for the period [since, until). `profiles` are the accounts (no
    customer merged into another), each with its `last_followup_at`; facts count under their
    `account_id`."""
    owner_of = {p["_id"]: p.get("owner_id") for p in profiles}
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    created_at = {p["_id"]: p.get("created_at") for p in profiles}
    product_lines: dict[str, set[str]] = defaultdict(set)
    for profile in profiles:
        owner = profile.get("owner_id")
        if owner is None:
            continue
        row = rows[owner]
        row["accounts"] += 1
        if profile.get("created_at") and since <= profile["created_at"] < until:
            row["new_leads"] += 1
        if profile.get("status", "active") == "active":
            row["active"] += 1
            last = activity(profile)
            if last and until - last > dormant_after:
                row["lost_or_dormant"] += 1
        elif profile.get("status") == "archived":
            row["lost_or_dormant"] += 1
    for followup in followups:
        rows[followup["salesperson_id"]][f"followups_{followup['channel']}"] += 1
    for proposal in proposals:
        if owner := owner_of.get(proposal["account_id"]):
            rows[owner]["proposals"] += 1
    for deal in deals:
        owner = deal.get("salesperson_id") or owner_of.get(deal["account_id"])
        if owner is None:
            continue
        rows[owner].update(deal_amounts(deal, created_at.get(deal["account_id"])))
        if deal["outcome"] == "won":
            product_lines[deal["account_id"]].update(products_of(deal))
    for account_id, lines in product_lines.items():
        if len(lines) > 1 and (owner := owner_of.get(account_id)):
            rows[owner]["cross_selling"] += 1
    return scorecard_rows(rows)


def products_of(deal: Doc) -> list[str]:
    """What a won deal sold, as cross-selling counts it: the modes of its service lines, else
    its product lines (a deal from before lines, or from a system that sends none)."""
    modes = sorted({line["mode"] for line in deal.get("lines") or [] if line.get("mode")})
    return modes or list(deal.get("product_lines") or [])


def deal_amounts(deal: Doc, account_created_at: datetime | None) -> Counter[str]:
    """What a deal adds to its salesperson's scorecard: won or lost; for a won one its revenue
    (in millionths, per currency, and how many deals in it), freight (millionths of a ton) and
    sales cycle (milliseconds since the account was created)."""
    n: Counter[str] = Counter({deal["outcome"]: 1})
    if deal["outcome"] == "won":
        currency = deal.get("currency") or "?"
        n[f"revenue_{currency}"] += round((deal.get("amount") or 0) * 1_000_000)
        n[f"revenue_n_{currency}"] += 1
        n["freight_micro"] += round((deal.get("freight_tons") or 0) * 1_000_000)
        if account_created_at:
            n["cycle_ms"] += _ms(deal["closed_at"] - account_created_at)
            n["cycle_n"] += 1
    return n


def scorecard_rows(rows: Mapping[str, Mapping[str, int]]) -> list[Doc]:
    """The scorecard's rows from each salesperson's amounts."""

    def named(n: Mapping[str, int], prefix: str) -> dict[str, int]:
        return {k.removeprefix(prefix): v for k, v in sorted(n.items()) if k.startswith(prefix)}

    found = []
    for name, n in sorted(rows.items()):
        followups = {channel: v for channel, v in named(n, "followups_").items() if v}
        won, lost, cycles = n.get("won", 0), n.get("lost", 0), n.get("cycle_n", 0)
        found.append(
            {
                "salesperson_id": name,
                "new_leads": n.get("new_leads", 0),
                "followups": sum(followups.values()),
                "followups_by_channel": followups,
                "proposals": n.get("proposals", 0),
                "deals_won": won,
                "deals_lost": lost,
                "win_rate": win_rate(won, lost),
                "revenue_won": {
                    currency: round(n.get(f"revenue_{currency}", 0) / 1_000_000, 2)
                    for currency, deals in named(n, "revenue_n_").items()
                    if deals
                },
                "freight_won_tons": round(n.get("freight_micro", 0) / 1_000_000, 2),
                "average_sales_cycle_days": round(n.get("cycle_ms", 0) / cycles / 86_400_000, 1)
                if cycles
                else None,
                "active_customers": n.get("active", 0),
                "customers_lost_or_dormant": n.get("lost_or_dormant", 0),
                "cross_selling_customers": n.get("cross_selling", 0),
            }
        )
    return found


def _ms(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


def funnel_amounts(opportunity: Doc) -> Counter[str]:
    """What one opportunity adds to the funnel: it opened; open in its stage; each stage it
    reached; its time in each stage, in milliseconds where a later stage ended it, else from
    when it began (`ongoing_ms`, after EPOCH) to the report's end, which only the report knows."""
    n: Counter[str] = Counter(opened=1)
    if not opportunity.get("closed") and opportunity.get("stage"):
        n[f"open_{opportunity['stage']}"] += 1
    history = opportunity.get("history", [])
    for stage in {visit["stage"] for visit in history}:
        n[f"reached_{stage}"] += 1
    for visit, following in zip(history, [*history[1:], None], strict=True):
        stage = visit["stage"]
        if stage in ("won", "lost"):
            continue
        if following:
            n[f"spent_ms_{stage}"] += _ms(following["at"] - visit["at"])
            n[f"spent_n_{stage}"] += 1
        else:
            n[f"ongoing_ms_{stage}"] += _ms(visit["at"] - EPOCH)
            n[f"ongoing_n_{stage}"] += 1
    return n


def funnel_of(n: Mapping[str, int], stages: list[str], now: datetime) -> dict[str, Any]:
    """The funnel's rows from the opportunities' amounts summed: open per stage, how many
    reached each, the conversion from the stage before, and the average days in each (a stage
    not left yet counts until `now`)."""
    order = [*stages, "won", "lost"]
    rows = []
    for index, stage in enumerate(order):
        previous = (
            order[index - 1]
            if 0 < index < len(stages) + 1
            else (stages[-1] if stage == "won" else None)
        )
        reached = n.get(f"reached_{stage}", 0)
        ongoing = n.get(f"ongoing_n_{stage}", 0)
        spent = n.get(f"spent_ms_{stage}", 0) + ongoing * _ms(now - EPOCH)
        spent -= n.get(f"ongoing_ms_{stage}", 0)
        visits = n.get(f"spent_n_{stage}", 0) + ongoing
        rows.append(
            {
                "stage": stage,
                "open": n.get(f"open_{stage}", 0),
                "reached": reached,
                "conversion_from_previous": rate(reached, n.get(f"reached_{previous}", 0))
                if previous
                else None,
                "average_days_in_stage": round(spent / visits / 86_400_000, 2) if visits else None,
            }
        )
    return {"stages": rows, "opportunities": n.get("opened", 0)}


def funnel(opportunities: list[Doc], stages: list[str], now: datetime) -> dict[str, Any]:
    """Open opportunities per stage, how many reached each stage, conversion from the stage before,
    and the average days spent in each stage."""
    total: Counter[str] = Counter()
    for opportunity in opportunities:
        total.update(funnel_amounts(opportunity))
    return funnel_of(total, stages, now)


def latest_prices(proposals: list[Doc]) -> dict[str, tuple[float, str]]:
    """Each opportunity's price and currency, at its latest priced proposal not rejected."""
    price_of: dict[str, tuple[float, str]] = {}
    earliest = datetime.min.replace(tzinfo=UTC)  # one without a date: before all others
    for proposal in sorted(proposals, key=lambda p: p.get("created_at") or earliest):
        if (
            proposal.get("opportunity_id")
            and proposal.get("price") is not None
            and proposal.get("status") != "rejected"
        ):
            price_of[proposal["opportunity_id"]] = (
                proposal["price"],
                proposal.get("currency") or "?",
            )
    return price_of


def forecast(
    opportunities: list[Doc], proposals: list[Doc], owner_of: dict[str, str | None]
) -> list[Doc]:
    """Open opportunities weighted by their win probability, valued at their amount, else their
    latest priced proposal's price (one with neither is counted, not valued)."""
    price_of = latest_prices(proposals)
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"open": 0, "unvalued": 0, "weighted": Counter(), "unweighted": Counter()}
    )
    for opportunity in opportunities:
        if opportunity.get("closed"):
            continue
        row = rows[owner_of.get(opportunity["account_id"]) or "unassigned"]
        row["open"] += 1
        if opportunity.get("amount") is not None:
            price_of[opportunity["_id"]] = (
                opportunity["amount"],
                opportunity.get("currency") or "?",
            )
        if opportunity["_id"] in price_of:
            price, currency = price_of[opportunity["_id"]]
            row["unweighted"][currency] += price
            row["weighted"][currency] += price * (opportunity.get("win_probability") or 0)
        else:
            row["unvalued"] += 1
    return [
        {
            "salesperson_id": name,
            "open_opportunities": row["open"],
            "without_value": row["unvalued"],
            "pipeline_value": {k: round(v, 2) for k, v in sorted(row["unweighted"].items())},
            "weighted_forecast": {k: round(v, 2) for k, v in sorted(row["weighted"].items())},
        }
        for name, row in sorted(rows.items())
    ]


def standing(profile: Doc, has_open_opportunity: bool, won: bool, lost_only: bool) -> str:
    """Where the customer stands, dormancy aside: lead → prospect (followed up) → opportunity →
    client (won); churned (archived, or lost with nothing open)."""
    if profile.get("status") == "archived" or (lost_only and not has_open_opportunity):
        return "churned"
    if won:
        return "client"
    if has_open_opportunity:
        return "opportunity"
    return "prospect" if profile.get("last_followup_at") else "lead"


def activity(profile: Doc) -> datetime | None:
    """When the customer was last followed up (or created): what dormancy is measured from."""
    last: datetime | None = profile.get("last_followup_at") or profile.get("created_at")
    return last


def lifecycle_of(
    profile: Doc,
    has_open_opportunity: bool,
    won: bool,
    lost_only: bool,
    now: datetime,
    dormant_after: timedelta,
) -> str:
    """Its standing, or dormant (no follow-up for too long) unless churned."""
    stage = standing(profile, has_open_opportunity, won, lost_only)
    last = activity(profile)
    if stage != "churned" and last and now - last > dormant_after:
        return "dormant"
    return stage


def churn(lifecycles: dict[str, str], created: dict[str, datetime]) -> dict[str, Any]:
    counts: Counter[tuple[str | None, str]] = Counter()
    for customer_id, stage in lifecycles.items():
        at = created.get(customer_id)
        counts[at.strftime("%Y-%m") if at else None, stage] += 1
    return churn_by_month(counts)


def churn_by_month(counts: Counter[tuple[str | None, str]]) -> dict[str, Any]:
    """From customers per (creation month, or None, and lifecycle stage): the stages, the churn
    rate, and the cohorts of each month."""
    total: Counter[str] = Counter()
    cohorts: dict[str, Counter[str]] = defaultdict(Counter)
    for (month, stage), count in counts.items():
        if count:
            total[stage] += count
            if month is not None:
                cohorts[month][stage] += count
    everyone = sum(total.values())
    gone = total.get("churned", 0) + total.get("dormant", 0)
    return {
        "by_lifecycle": dict(sorted(total.items())),
        "customers": everyone,
        "churn_rate": rate(gone, everyone),
        "cohorts": [
            {
                "month": month,
                "customers": sum(c.values()),
                "by_lifecycle": dict(sorted(c.items())),
                "churn_rate": rate(c.get("churned", 0) + c.get("dormant", 0), sum(c.values())),
            }
            for month, c in sorted(cohorts.items())
        ],
    }
