"""What the reports read from the read models. Facts count under their account (the survivor of a
merge); a customer merged into another is not counted on its own."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm_runtime.store import INBOX, Store
from pymongo.asynchronous.client_session import AsyncClientSession

from crm_reporting import counters, counting, measures
from crm_reporting.adapters import DEALS, FOLLOWUPS, OPPORTUNITIES, PROFILES, PROPOSALS

Doc = dict[str, Any]
ACCOUNTS = {"merged_into": None}  # customers counted on their own: never merged, or unmerged


@dataclass(frozen=True)
class Segment:
    region: str | None = None
    industry: str | None = None
    tier: str | None = None

    @property
    def narrowed(self) -> bool:
        return any((self.region, self.industry, self.tier))

    def chosen(self) -> Doc:
        """The fields filtered on, and their values."""
        chosen = {"region": self.region, "industry": self.industry, "tier": self.tier}
        return {name: value for name, value in chosen.items() if value is not None}

    def filter(self) -> Doc:
        return {f"segment.{name}": value for name, value in self.chosen().items()}


async def newest_applied(store: Store) -> Doc | None:
    """The inbox entry of the event applied last: how fresh the read models are."""
    newest = (
        await store.db[INBOX]
        .find({}, {"occurred_at": 1, "applied_at": 1})
        .sort("applied_at", -1)
        .limit(1)
        .to_list()
    )
    return newest[0] if newest else None


async def _accounts(store: Store, segment: Segment, fields: Doc, **query: Any) -> list[Doc]:
    """The customers counted on their own in `segment`, each with its last follow-up."""
    profiles = (
        await store.db[PROFILES].find({**ACCOUNTS, **segment.filter(), **query}, fields).to_list()
    )
    last = await _last_followups(store, [p["_id"] for p in profiles] if segment.narrowed else None)
    return [{**p, "last_followup_at": last.get(p["_id"])} for p in profiles]


async def _last_followups(store: Store, accounts: list[str] | None) -> dict[str, datetime]:
    """The latest follow-up not revoked, as corrected by its last update, of each of `accounts`
    (None: of every account, without a filter as long as the customer base)."""
    scope: Doc = {} if accounts is None else {"account_id": {"$in": accounts}}
    pipeline: list[Doc] = [
        {"$match": {**scope, "revoked": False}},
        {"$group": {"_id": "$account_id", "at": {"$max": "$at"}}},
    ]
    groups = await (await store.db[FOLLOWUPS].aggregate(pipeline)).to_list()
    return {group["_id"]: group["at"] for group in groups}


@dataclass(frozen=True)
class ScorecardFacts:
    profiles: list[Doc]
    followups: list[Doc]
    proposals: list[Doc]
    deals: list[Doc]


async def scorecard_facts(
    store: Store, since: datetime, until: datetime, segment: Segment
) -> ScorecardFacts:
    profiles = await _accounts(store, segment, {"owner_id": 1, "created_at": 1, "status": 1})
    in_period = {"$gte": since, "$lt": until}
    scope = {"account_id": {"$in": [p["_id"] for p in profiles]}} if segment.narrowed else {}
    return ScorecardFacts(
        profiles,
        await store.db[FOLLOWUPS].find({"at": in_period, "revoked": False, **scope}).to_list(),
        await store.db[PROPOSALS].find({"created_at": in_period, **scope}).to_list(),
        await store.db[DEALS].find({"closed_at": in_period, **scope}).to_list(),
    )


async def opportunities_opened(
    store: Store,
    since: datetime,
    until: datetime,
    segment: Segment,
    session: AsyncClientSession | None = None,
) -> list[Doc]:
    """Opened in [since, until), of the accounts in `segment`: read directly, for an hour or
    less of them (else at the size of the data, which `funnel` reads from counters)."""
    found = (
        await store.db[OPPORTUNITIES]
        .find({"opened_at": {"$gte": since, "$lt": until}}, session=session)
        .to_list()
    )
    if not segment.narrowed or not found:
        return found
    accounts = {o["account_id"] for o in found}
    chosen = {"_id": {"$in": sorted(accounts)}, **ACCOUNTS, **segment.filter()}
    kept = set(await store.db[PROFILES].distinct("_id", chosen, session=session))
    return [o for o in found if o["account_id"] in kept]


async def funnel(store: Store, since: datetime, until: datetime, segment: Segment) -> Counter[str]:
    """The funnel's amounts (measures.funnel_amounts) summed over the opportunities opened in
    [since, until) in `segment`: whole hours and days from the counters, the rest directly."""
    buckets, edges = counting.cover(since, until)
    total: Counter[str] = Counter()
    async with counters.snapshot(store) as session:
        if buckets:
            match = {**_summed(segment), "bucket": {"$in": buckets}}
            for row in await counters.totals(store, session, counting.FUNNEL, match, []):
                total.update(row["n"])
        for start, end in edges:
            for opportunity in await opportunities_opened(store, start, end, segment, session):
                total.update(measures.funnel_amounts(opportunity))
    return total


async def value_groups(store: Store, by: list[str], segment: Segment) -> list[Doc]:
    """Active customers and their freight volume, grouped by the segment fields `by`, most
    customers first, from the counters."""
    async with counters.snapshot(store) as session:
        groups = await counters.totals(store, session, counting.VALUE, segment.chosen(), by)
    found = [
        {
            "_id": group["_id"],
            "customers": group["n"]["customers"],
            "freight_tons": group["n"].get("freight_micro_tons", 0) / 1_000_000,
        }
        for group in groups
    ]
    # As MongoDB orders the groups: null before any text.
    return sorted(
        found,
        key=lambda g: (-g["customers"], [(v is not None, v or "") for v in g["_id"].values()]),
    )


def _summed(segment: Segment) -> Doc:
    """What to match of a family kept summed over the filters not chosen (counting.SUMMED)."""
    chosen = segment.chosen()
    return {**chosen, "across": counting.across(set(chosen))}


async def lifecycles(
    store: Store, segment: Segment, now: datetime, dormant_after: timedelta
) -> Counter[tuple[str | None, str]]:
    """Customers per creation month and lifecycle stage at `now`, from the counters, corrected
    for those whose dormancy differs from how they were counted."""
    group = ["month", "stage", "dormant"]
    async with counters.snapshot(store) as session:
        rows = await counters.totals(store, session, counting.LIFECYCLE, _summed(segment), group)
        moves = await counters.dormancy_moves(store, session, now - dormant_after, segment.chosen())
    counts: Counter[tuple[str | None, str]] = Counter()
    for row in rows:
        key = row["_id"]
        counts[key["month"], "dormant" if key["dormant"] else key["stage"]] += row["n"]["customers"]
    for entry in moves:
        key = entry["key"]
        counts[key["month"], "dormant" if key["dormant"] else key["stage"]] -= 1
        counts[key["month"], key["stage"] if key["dormant"] else "dormant"] += 1
    return counts


async def forecast(store: Store, segment: Segment) -> list[Doc]:
    """The open pipeline per owner of the accounts, from the counters."""
    async with counters.snapshot(store) as session:
        rows = await counters.totals(store, session, counting.FORECAST, _summed(segment), ["owner"])
    found = []
    for row in sorted(rows, key=lambda r: r["_id"]["owner"]):
        n = row["n"]
        money = {
            kind: {
                name.removeprefix(f"{kind}_"): round(amount / 1_000_000, 2)
                for name, amount in sorted(n.items())
                if name.startswith(f"{kind}_")
            }
            for kind in ("pipeline", "weighted")
        }
        found.append(
            {
                "salesperson_id": row["_id"]["owner"],
                "open_opportunities": n.get("open", 0),
                "without_priced_proposal": n.get("unvalued", 0),
                "pipeline_value": money["pipeline"],
                "weighted_forecast": money["weighted"],
            }
        )
    return found
