"""What the reports read from the read models. Facts count under their account (the survivor of a
merge); a customer merged into another is not counted on its own."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm_runtime.store import INBOX, Store

from crm_reporting import counters, counting, measures

Doc = dict[str, Any]


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


async def scorecard(
    store: Store, since: datetime, until: datetime, segment: Segment, dormant_after: timedelta
) -> list[Doc]:
    """The scorecard's rows from the counters: the period's blocks (`_period`), what is left at
    either end from the entries counted in it; each salesperson's customers, with the dormancy
    of those counted on the other side of `until - dormant_after` corrected; cross-selling
    accounts."""
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    summed, buckets, edges = _period(since, until, segment)
    chosen = segment.chosen()
    async with counters.snapshot(store) as session:
        period: Counter[str] = Counter()  # every salesperson's amounts, named after them
        if buckets:
            match = {**summed, "bucket": {"$in": buckets}}
            period = await counters.amounts(store, session, counting.SCORECARD, match)
        if edges:
            period.update(await counters.between(store, session, counting.SCORECARD, edges, chosen))
        for person, amounts in counting.unpacked(period).items():
            rows[person].update(amounts)
        owners = await counters.totals(
            store, session, counting.OWNERS, summed, ["owner", "dormant"]
        )
        for row in owners:
            n, row_of = row["n"], rows[row["_id"]["owner"]]
            row_of["accounts"] += n.get("accounts", 0)
            row_of["active"] += n.get("active", 0)
            dormant = n.get("active", 0) if row["_id"]["dormant"] else 0
            row_of["lost_or_dormant"] += n.get("archived", 0) + dormant
        before = until - dormant_after
        moves = await counters.dormancy_moves(store, session, counting.OWNERS, before, chosen)
        for key, moved in moves:
            rows[key["owner"]]["lost_or_dormant"] += -moved if key["dormant"] else moved
        for owner, selling in await counters.cross_selling(store, session, since, until, chosen):
            rows[owner]["cross_selling"] += selling
    return measures.scorecard_rows(rows)


async def funnel(store: Store, since: datetime, until: datetime, segment: Segment) -> Counter[str]:
    """The funnel's amounts (measures.funnel_amounts) summed over the opportunities opened in
    [since, until) in `segment`: its blocks (`_period`) from the counters, the rest from the
    entries counted in it."""
    summed, buckets, edges = _period(since, until, segment)
    total: Counter[str] = Counter()
    async with counters.snapshot(store) as session:
        if buckets:
            match = {**summed, "bucket": {"$in": buckets}}
            for row in await counters.totals(store, session, counting.FUNNEL, match, []):
                total.update(row["n"])
        if edges:
            chosen = segment.chosen()
            total.update(await counters.between(store, session, counting.FUNNEL, edges, chosen))
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


def _period(
    since: datetime, until: datetime, segment: Segment
) -> tuple[Doc, list[str], list[counting.Span]]:
    """What to match of a period's counters (`_summed`), the blocks of [since, until) they are
    kept in for `segment`, and what is left at either end, for the entries counted in it."""
    summed = summed_match(segment)
    return summed, *counting.cover(since, until, summed["across"] in counting.FINE)


def summed_match(segment: Segment) -> Doc:
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
        rows = await counters.totals(
            store, session, counting.LIFECYCLE, summed_match(segment), group
        )
        before = now - dormant_after
        moves = await counters.dormancy_moves(
            store, session, counting.LIFECYCLE, before, segment.chosen()
        )
    counts: Counter[tuple[str | None, str]] = Counter()
    for row in rows:
        key = row["_id"]
        counts[key["month"], "dormant" if key["dormant"] else key["stage"]] += row["n"]["customers"]
    for key, n in moves:
        counts[key["month"], "dormant" if key["dormant"] else key["stage"]] -= n
        counts[key["month"], key["stage"] if key["dormant"] else "dormant"] += n
    return counts


async def forecast(store: Store, segment: Segment) -> list[Doc]:
    """The open pipeline per owner of the accounts, from the counters."""
    async with counters.snapshot(store) as session:
        rows = await counters.totals(
            store, session, counting.FORECAST, summed_match(segment), ["owner"]
        )
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
                "without_value": n.get("unvalued", 0),
                "pipeline_value": money["pipeline"],
                "weighted_forecast": money["weighted"],
            }
        )
    return found
