"""Report endpoints for managers and ops: JSON or CSV, with filters, each saying how fresh it is."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from crm_runtime import fences, periods
from crm_runtime.errors import Unprocessable
from crm_runtime.handlers import Instant
from crm_runtime.http import OversightContext, errors
from fastapi import APIRouter, Query, Response

from crm_reporting import counters, forecasts, measures, queries
from crm_reporting.export import to_csv
from crm_reporting.queries import Segment

router = APIRouter(prefix="/reports", tags=["reports"])
Since = Annotated[
    Instant | None, Query(description="Period start (default: 30 days before `until`).")
]
Until = Annotated[Instant | None, Query(description="Period end, excluded (default: now).")]
Format = Annotated[
    Literal["json", "csv"], Query(description="csv: one row per line, nested values as JSON.")
]
Dimension = Literal["tier", "region", "industry", "band"]
DormantAfterDays = Annotated[int, Query(ge=1, le=3650)]


# Every report's answers: format=csv gives the same rows as CSV, and the OpenAPI document says so.
ANSWERS: dict[int | str, dict[str, Any]] = {
    **errors(422),
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
}


def period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """[since, until) in UTC; 422 for a date without a time zone, an empty period, or one that
    reaches beyond the calendar (e.g. the default 30 days before 0001-01-01)."""
    if (since and since.tzinfo is None) or (until and until.tzinfo is None):
        raise Unprocessable("since and until need a time zone")
    try:
        until = until.astimezone(UTC) if until else datetime.now(UTC)
        since = since.astimezone(UTC) if since else until - timedelta(days=30)
    except OverflowError:
        raise Unprocessable(
            "since and until must lie between 0001-01-01 and 9999-12-31 in UTC, and the default "
            "since (30 days before until) too",
            since=str(since),
            until=str(until),
        ) from None
    if since >= until:
        raise Unprocessable(f"since ({since}) is not before until ({until})")
    return since, until


async def _freshness(context: OversightContext) -> dict[str, Any]:
    """How fresh the read models are, from what the consumer noted (no round trip to Kafka)."""
    newest, lag, pending = await asyncio.gather(  # three reads at once: each report waits for them
        queries.newest_applied(context.store),
        fences.lag(context.store.db),
        counters.pending(context.store),
    )
    return {
        "newest_event_applied_at": newest["applied_at"] if newest else None,
        "newest_event_occurred_at": newest.get("occurred_at") if newest else None,
        "consumer_lag": lag["total"],
        "consumer_lag_at": lag["at"],
        # Batches applied whose changes the counters do not show yet (0: they show them all).
        "counting_pending": pending,
    }


def _answer(rows: list[dict[str, Any]], meta: dict[str, Any], form: str, name: str) -> Any:
    if form == "json":
        return {**meta, "rows": rows}
    return Response(
        to_csv(rows),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/scorecard", responses=ANSWERS)
async def scorecard(
    context: OversightContext,
    since: Since = None,
    until: Until = None,
    salesperson_id: str | None = None,
    region: str | None = None,
    industry: str | None = None,
    dormant_after_days: DormantAfterDays = 90,
    format: Format = "json",
) -> Any:
    """Per salesperson: new leads, follow-ups by channel, proposals, deals won and lost, win rate,
    revenue and freight won, average sales cycle, active customers, customers lost or dormant,
    cross-selling customers. When [since, until) is a whole month, quarter or year (UTC), each
    row has its quota and attainment: revenue won (in the quota's currency) and freight won over
    the quota's."""
    since, until = period(since, until)
    dormant_after = timedelta(days=dormant_after_days)
    rows = await queries.scorecard(
        context.store, since, until, Segment(region, industry), dormant_after
    )
    if salesperson_id is not None:
        rows = [row for row in rows if row["salesperson_id"] == salesperson_id]
    if (quota_period := periods.period_spanning(since, until)) is not None:
        quotas = await forecasts.quotas_of(context.store, quota_period, "salesperson")
        rows = [with_attainment(row, quotas.get(row["salesperson_id"])) for row in rows]
    meta = {"since": since, "until": until, "as_of": await _freshness(context)}
    return _answer(rows, meta, format, "scorecard")


def with_attainment(row: dict[str, Any], quota: dict[str, Any] | None) -> dict[str, Any]:
    """A scorecard row of a whole period (a month, quarter or year) with its salesperson's quota
    and what they won of it."""
    if quota is None:
        return {**row, "quota": None, "attainment": None}
    revenue, tons = quota.get("revenue"), quota.get("freight_tons")
    won = row["revenue_won"].get(quota.get("currency"), 0.0)
    attainment = {
        "revenue": measures.rate_of(won, revenue),
        "freight_tons": measures.rate_of(row["freight_won_tons"], tons),
    }
    return {**row, "quota": quota, "attainment": attainment}


@router.get("/funnel", responses=ANSWERS)
async def funnel(
    context: OversightContext,
    since: Since = None,
    until: Until = None,
    region: str | None = None,
    industry: str | None = None,
    format: Format = "json",
) -> Any:
    """Opportunities opened in the period: how many are in each stage of the pipeline (as
    configured, CRM_PIPELINE) now, how many reached each stage, the conversion from the stage
    before, and the average days spent in each."""
    since, until = period(since, until)
    amounts = await queries.funnel(context.store, since, until, Segment(region, industry))
    # Time in the current stage counts to the end of the period: the same period, the same answer.
    stages = context.settings.pipeline.open_stages()
    result = measures.funnel_of(amounts, stages, min(until, datetime.now(UTC)))
    meta = {
        "since": since,
        "until": until,
        "opportunities": result["opportunities"],
        "as_of": await _freshness(context),
    }
    return _answer(result["stages"], meta, format, "funnel")


@router.get("/value", responses=ANSWERS)
async def value_distribution(
    context: OversightContext,
    by: Annotated[
        list[Dimension] | None,
        Query(description="Group by these, in order (default: tier, then region)."),
    ] = None,
    region: str | None = None,
    industry: str | None = None,
    tier: str | None = None,
    format: Format = "json",
) -> Any:
    """Active customers and their potential monthly freight volume by tier × region × industry ×
    volume band (module 2's value reports)."""
    by = by or ["tier", "region"]
    if len(set(by)) != len(by):
        raise Unprocessable(f"group by each dimension once: {by}")
    groups = await queries.value_groups(context.store, list(by), Segment(region, industry, tier))
    rows = [
        {
            **{name: group["_id"].get(name) for name in by},
            "customers": group["customers"],
            "freight_tons": round(group["freight_tons"], 2),
        }
        for group in groups
    ]
    meta = {"by": list(by), "as_of": await _freshness(context)}
    return _answer(rows, meta, format, "value")


@router.get("/lifecycle", responses=ANSWERS)
async def lifecycle(
    context: OversightContext,
    dormant_after_days: DormantAfterDays = 90,
    region: str | None = None,
    industry: str | None = None,
    format: Format = "json",
) -> Any:
    """Customers per lifecycle stage, the churn rate (churned or dormant over all), and monthly
    cohorts by creation. Dormant: no follow-up for `dormant_after_days`."""
    counts = await queries.lifecycles(
        context.store,
        Segment(region, industry),
        datetime.now(UTC),
        timedelta(days=dormant_after_days),
    )
    result = measures.churn_by_month(counts)
    meta = {k: v for k, v in result.items() if k != "cohorts"} | {
        "as_of": await _freshness(context)
    }
    return _answer(result["cohorts"], meta, format, "lifecycle")


@router.get("/forecast", responses=ANSWERS)
async def forecast(
    context: OversightContext,
    salesperson_id: str | None = None,
    region: str | None = None,
    industry: str | None = None,
    format: Format = "json",
) -> Any:
    """The open pipeline per salesperson (the owner of each opportunity's customer), valued at
    each opportunity's latest priced proposal and weighted by its stage's win probability."""
    rows = await queries.forecast(context.store, Segment(region, industry))
    if salesperson_id is not None:
        rows = [row for row in rows if row["salesperson_id"] == salesperson_id]
    return _answer(rows, {"as_of": await _freshness(context)}, format, "forecast")


PeriodName = Annotated[
    str,
    Query(
        pattern=r"^[0-9]{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$",
        description="A year (2027), a quarter (2027-Q1) or a month (2027-03), in UTC.",
    ),
]


@router.get("/forecast/period", responses=ANSWERS)
async def period_forecast(
    context: OversightContext,
    period: PeriodName,
    group: Annotated[
        Literal["salesperson", "team"] | None,
        Query(description="Rows per salesperson (the default without `by`) or team."),
    ] = None,
    by: Annotated[
        Literal["mode", "origin"] | None,
        Query(
            description="Per service line's mode, or where its lane starts (and per salesperson "
            "or team only with `group`): closed won, pipeline and weighted, with no quota, nor a "
            "region or industry filter."
        ),
    ] = None,
    salesperson_id: str | None = None,
    team: str | None = None,
    region: str | None = None,
    industry: str | None = None,
    format: Format = "json",
) -> Any:
    """The period's forecast per salesperson (the owner of each opportunity) or team, against the
    quota: closed won (deals won in the period), commit (open opportunities expected to close in
    it at a win probability of 0.75 or more), best case (0.5 or more), pipeline (all) and weighted
    (each at its probability), each including closed won, in each currency; the same in tons of
    monthly freight. `attainment` is each over the quota (in its currency), `gap` the quota less
    it. A quota not set for the period is the sum of its parts' (quarters, months) when each has
    one. Open opportunities without an expected close date count as unscheduled. Filtered on a
    region or industry, only those with something in it are listed (their whole quota still).
    `salesperson_id` keeps one salesperson's opportunities and deals, `team` its members'."""
    try:
        periods.months_of(period)
    except ValueError as error:  # the year 0000
        raise Unprocessable(str(error)) from None
    if by and (region or industry):
        raise Unprocessable(f"by {by}, the forecast is not filtered by region or industry")
    chosen = forecasts.Chosen(salesperson_id, team)
    if by:
        rows = await forecasts.line_forecast(context.store, period, by, group, chosen)
    else:
        group = group or "salesperson"
        segment = Segment(region, industry)
        rows = await forecasts.period_forecast(context.store, period, segment, group, chosen)
    meta = {"period": period, "group": group, "by": by, "as_of": await _freshness(context)}
    return _answer(rows, meta, format, "period-forecast")
