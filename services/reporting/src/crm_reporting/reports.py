"""Report endpoints for managers and ops: JSON or CSV, with filters, each saying how fresh it is."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from crm_runtime.auth import Principal, Readers, Role, forbidden_unless
from crm_runtime.http import StoreDep, errors
from crm_runtime.store import INBOX, Store
from fastapi import APIRouter, HTTPException, Query, Request, Response

from crm_reporting import measures
from crm_reporting.facts import DEALS, FOLLOWUPS, OPPORTUNITIES, PROFILES, PROPOSALS

router = APIRouter(prefix="/reports", tags=["reports"])
STAGES = ["qualified", "needs_analysed", "proposal", "negotiation"]
Since = Annotated[
    datetime | None, Query(description="Period start (default: 30 days before `until`).")
]
Until = Annotated[datetime | None, Query(description="Period end, excluded (default: now).")]
Format = Annotated[
    Literal["json", "csv"], Query(description="csv: one row per line, nested values as JSON.")
]


def _managers_and_ops(caller: Principal) -> None:
    forbidden_unless(
        caller.role in (Role.ADMIN, Role.MANAGER, Role.OPS), "reports are for managers and ops"
    )


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=30)
    if since.tzinfo is None or until.tzinfo is None:
        raise HTTPException(422, "since and until need a time zone")
    if since >= until:
        raise HTTPException(422, f"since ({since}) is not before until ({until})")
    return since, until


async def _freshness(store: Store, request: Request) -> dict[str, Any]:
    newest = (
        await store.db[INBOX]
        .find({}, {"occurred_at": 1, "applied_at": 1})
        .sort("applied_at", -1)
        .limit(1)
        .to_list()
    )
    service = request.app.state.service
    _, ready = await service.readiness.check(service)
    return {
        "newest_event_applied_at": newest[0]["applied_at"] if newest else None,
        "newest_event_occurred_at": newest[0].get("occurred_at") if newest else None,
        "consumer_lag": (ready.get("lag") or {}).get("total"),
    }


def _answer(rows: list[dict], meta: dict[str, Any], form: str, name: str) -> Any:
    if form == "json":
        return {**meta, "rows": rows}
    out = io.StringIO()
    columns = list(rows[0]) if rows else []
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, default=str) if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _profile_filter(region: str | None, industry: str | None, tier: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for name, value in (("region", region), ("industry", industry), ("tier", tier)):
        if value is not None:
            query[f"segment.{name}"] = value
    return query


@router.get("/scorecard", responses=errors(422))
async def scorecard(
    store: StoreDep,
    caller: Readers,
    request: Request,
    since: Since = None,
    until: Until = None,
    salesperson_id: str | None = None,
    region: str | None = None,
    industry: str | None = None,
    dormant_after_days: Annotated[int, Query(ge=1, le=3650)] = 90,
    format: Format = "json",
):
    """Per salesperson: new leads, follow-ups by channel, proposals, deals won and lost, win rate,
    revenue and freight won, average sales cycle, active customers, customers lost or dormant,
    cross-selling customers."""
    _managers_and_ops(caller)
    since, until = _period(since, until)
    profiles = (
        await store.db[PROFILES]
        .find(
            _profile_filter(region, industry, None),
            {"owner_id": 1, "created_at": 1, "status": 1, "last_followup_at": 1},
        )
        .to_list()
    )
    in_period = {"$gte": since, "$lt": until}
    ids = [p["_id"] for p in profiles] if region or industry else None
    scope = {"customer_id": {"$in": ids}} if ids is not None else {}
    followups = (
        await store.db[FOLLOWUPS].find({"at": in_period, "revoked": False, **scope}).to_list()
    )
    proposals = await store.db[PROPOSALS].find({"created_at": in_period, **scope}).to_list()
    deals = await store.db[DEALS].find({"closed_at": in_period, **scope}).to_list()
    rows = measures.scorecard(
        profiles, followups, proposals, deals, since, until, timedelta(days=dormant_after_days)
    )
    if salesperson_id is not None:
        rows = [row for row in rows if row["salesperson_id"] == salesperson_id]
    meta = {"since": since, "until": until, "as_of": await _freshness(store, request)}
    return _answer(rows, meta, format, "scorecard")


@router.get("/funnel", responses=errors(422))
async def funnel(
    store: StoreDep,
    caller: Readers,
    request: Request,
    since: Since = None,
    until: Until = None,
    region: str | None = None,
    industry: str | None = None,
    format: Format = "json",
):
    """Opportunities opened in the period: how many are in each stage now, how many reached each
    stage, the conversion from the stage before, and the average days spent in each."""
    _managers_and_ops(caller)
    since, until = _period(since, until)
    query: dict[str, Any] = {"opened_at": {"$gte": since, "$lt": until}}
    if region or industry:
        query["customer_id"] = {
            "$in": await store.db[PROFILES].distinct("_id", _profile_filter(region, industry, None))
        }
    opportunities = await store.db[OPPORTUNITIES].find(query).to_list()
    # Time in the current stage counts to the end of the period: the same period, the same answer.
    result = measures.funnel(opportunities, STAGES, min(until, datetime.now(UTC)))
    meta = {
        "since": since,
        "until": until,
        "opportunities": result["opportunities"],
        "as_of": await _freshness(store, request),
    }
    return _answer(result["stages"], meta, format, "funnel")


@router.get("/value", responses=errors(422))
async def value_distribution(
    store: StoreDep,
    caller: Readers,
    request: Request,
    by: Annotated[
        list[Literal["tier", "region", "industry", "band"]],
        Query(description="Group by these, in order."),
    ] = ("tier", "region"),
    region: str | None = None,
    industry: str | None = None,
    tier: str | None = None,
    format: Format = "json",
):
    """Active customers and their potential monthly freight volume by tier × region × industry ×
    volume band (module 2's value reports)."""
    _managers_and_ops(caller)
    if len(set(by)) != len(by):
        raise HTTPException(422, f"group by each dimension once: {by}")
    match = {
        "status": {"$ne": "archived"},
        "created_at": {"$exists": True},
        **_profile_filter(region, industry, tier),
    }
    pipeline = [
        {"$match": match},
        {
            "$group": {
                "_id": {name: f"$segment.{name}" for name in by},
                "customers": {"$sum": 1},
                "freight_tons": {"$sum": {"$ifNull": ["$segment.monthly_freight_volume_tons", 0]}},
            }
        },
        {"$sort": {"customers": -1, "_id": 1}},
    ]
    groups = await (await store.db[PROFILES].aggregate(pipeline)).to_list()
    rows = [
        {
            **{name: group["_id"].get(name) for name in by},
            "customers": group["customers"],
            "freight_tons": round(group["freight_tons"], 2),
        }
        for group in groups
    ]
    return _answer(
        rows, {"by": list(by), "as_of": await _freshness(store, request)}, format, "value"
    )


@router.get("/lifecycle", responses=errors(422))
async def lifecycle(
    store: StoreDep,
    caller: Readers,
    request: Request,
    dormant_after_days: Annotated[int, Query(ge=1, le=3650)] = 90,
    region: str | None = None,
    industry: str | None = None,
    format: Format = "json",
):
    """Customers per lifecycle stage, the churn rate (churned or dormant over all), and monthly
    cohorts by creation. Dormant: no follow-up for `dormant_after_days`."""
    _managers_and_ops(caller)
    now = datetime.now(UTC)
    profiles = (
        await store.db[PROFILES]
        .find(
            {"created_at": {"$exists": True}, **_profile_filter(region, industry, None)},
            {"created_at": 1, "status": 1, "last_followup_at": 1},
        )
        .to_list()
    )
    open_ids = set(await store.db[OPPORTUNITIES].distinct("customer_id", {"closed": False}))
    outcomes: dict[str, set] = {}
    for deal in await store.db[DEALS].find({}, {"customer_id": 1, "outcome": 1}).to_list():
        outcomes.setdefault(deal["customer_id"], set()).add(deal["outcome"])
    stages = {
        p["_id"]: measures.lifecycle_of(
            p,
            p["_id"] in open_ids,
            "won" in outcomes.get(p["_id"], ()),
            outcomes.get(p["_id"]) == {"lost"},
            now,
            timedelta(days=dormant_after_days),
        )
        for p in profiles
    }
    result = measures.churn(stages, {p["_id"]: p["created_at"] for p in profiles})
    meta = {k: v for k, v in result.items() if k != "cohorts"} | {
        "as_of": await _freshness(store, request)
    }
    return _answer(result["cohorts"], meta, format, "lifecycle")


@router.get("/forecast", responses=errors(422))
async def forecast(
    store: StoreDep,
    caller: Readers,
    request: Request,
    salesperson_id: str | None = None,
    format: Format = "json",
):
    """The open pipeline per salesperson, valued at each opportunity's latest priced proposal and
    weighted by its stage's win probability."""
    _managers_and_ops(caller)
    opportunities = await store.db[OPPORTUNITIES].find({"closed": False}).to_list()
    customers = {o["customer_id"] for o in opportunities}
    owners = {
        p["_id"]: p.get("owner_id")
        for p in await store.db[PROFILES]
        .find({"_id": {"$in": list(customers)}}, {"owner_id": 1})
        .to_list()
    }
    proposals = await store.db[PROPOSALS].find({"customer_id": {"$in": list(customers)}}).to_list()
    rows = measures.forecast(opportunities, proposals, owners)
    if salesperson_id is not None:
        rows = [row for row in rows if row["salesperson_id"] == salesperson_id]
    return _answer(rows, {"as_of": await _freshness(store, request)}, format, "forecast")
