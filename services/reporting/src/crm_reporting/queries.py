"""What the reports read from the read models. Facts count under their account (the survivor of a
merge); a customer merged into another is not counted on its own."""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm_runtime import periods
from crm_runtime.store import INBOX, Store
from pymongo.asynchronous.client_session import AsyncClientSession

from crm_reporting import adapters, counters, counting, measures, plan

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
        for person, amounts in counting.by_person(period).items():
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
    summed = _summed(segment)
    return summed, *counting.cover(since, until, summed["across"] in counting.FINE)


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
                "without_value": n.get("unvalued", 0),
                "pipeline_value": money["pipeline"],
                "weighted_forecast": money["weighted"],
            }
        )
    return found


@dataclass(frozen=True)
class Chosen:
    """Whose period forecast: one salesperson, a team's members, or (neither) everyone."""

    salesperson_id: str | None = None
    team: str | None = None

    def counted(self, team_of: dict[str, str | None]) -> Callable[[str], bool]:
        """Whether a salesperson's opportunities and deals are counted."""

        def chosen(owner: str) -> bool:
            in_team = self.team is None or team_of.get(owner) == self.team
            return in_team and self.salesperson_id in (None, owner)

        return chosen

    def holds(self, group: str, name: str, team_of: dict[str, str | None]) -> bool:
        """Whether a salesperson's or team's quota is one of those chosen."""
        if group == "salesperson":
            member = self.team is None or team_of.get(name) == self.team
            return member and self.salesperson_id in (None, name)
        if self.team is not None and name != self.team:
            return False
        return self.salesperson_id is None or team_of.get(self.salesperson_id) == name


async def period_forecast(
    store: Store,
    period: str,
    segment: Segment,
    group: str,
    by: str | None = None,
    chosen: Chosen | None = None,
) -> list[Doc]:
    """The period forecast per salesperson or team (`group`) of those `chosen`, each against its
    quota, from the period's counter (every salesperson's amounts in one); with `by` (mode or
    origin), per service line
    instead, with no quota (quotas are not per line). Teams are the salespeople's as they are
    now."""
    chosen = chosen or Chosen()
    summed = _summed(segment)
    async with counters.snapshot(store) as session:
        people = await store.db[adapters.SALESPEOPLE].find({}, session=session).to_list()
        team_of = {person["_id"]: person.get("team") for person in people}
        family = counting.LINE_FAMILIES[by] if by else counting.PLAN
        keys = [by] if by else []
        match = {"period": period} if by else {**summed, "period": period}
        found = await counters.totals(store, session, family, match, keys)
        unscheduled = await counters.totals(
            store, session, counting.PLAN, {**summed, "period": "none"}, []
        )
        quotas = await quotas_of(store, period, group, session)
    counted = chosen.counted(team_of)

    def grouped(owner: str) -> str | None:
        return owner if group == "salesperson" else team_of.get(owner)

    amounts: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for row in found:  # one a period (and mode or origin), every salesperson's amounts in it
        for owner, n in counting.by_person(row["n"]).items():
            if counted(owner):
                name = grouped(owner)
                amounts[(name, row["_id"][by]) if by else (name,)].update(n)
    label = "salesperson_id" if group == "salesperson" else "team"
    if by:
        return [
            {label: key[0], by: key[1], "period": period, **plan.line_row(n)}
            for key, n in sorted(amounts.items(), key=lambda item: repr(item[0]))
        ]
    waiting: Counter[str | None] = Counter()
    for row in unscheduled:
        for owner, n in counting.by_person(row["n"]).items():
            if counted(owner):
                waiting[grouped(owner)] += n.get("open", 0)
    names = {key[0] for key in amounts}
    if not segment.narrowed:  # a quota is the whole team's or person's: shown when nothing is won
        names |= {name for name in quotas if chosen.holds(group, name, team_of)}
    return [
        {
            label: name,
            "period": period,
            **plan.row(amounts.get((name,), Counter()), quotas.get(name or "")),
            "unscheduled_opportunities": waiting.get(name, 0),
        }
        for name in sorted(names, key=lambda name: (name is None, name or ""))
    ]


async def quotas_of(
    store: Store, period: str, target: str, session: AsyncClientSession | None = None
) -> dict[str, Doc]:
    """Each target's quota for the period (plan.quota_of), by the target's id."""
    wanted = [period, *periods.parts_of(period), *periods.months_of(period)]
    query = {"period": {"$in": wanted}, "target": target}
    targets: dict[str, dict[str, Doc]] = defaultdict(dict)
    for quota in await store.db[adapters.QUOTAS].find(query, session=session).to_list():
        targets[quota["target_id"]][quota["period"]] = quota
    return {
        name: quota
        for name, of_target in targets.items()
        if (quota := plan.quota_of(of_target, period)) is not None
    }
