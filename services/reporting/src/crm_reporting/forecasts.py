"""The period forecast's reads: per salesperson or team against their quotas, from the period's
counter (every salesperson's amounts in one), and per service line's mode or origin from the
line counters (an owner's, or everyone's, with every mode's or origin's amounts in one). Teams
are the salespeople's as they are now."""

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crm_runtime import periods
from crm_runtime.store import Store

from crm_reporting import adapters, counters, counting, plan
from crm_reporting.queries import Segment, summed_match

Doc = dict[str, Any]
LABELS = {"salesperson": "salesperson_id", "team": "team"}


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
    store: Store, period: str, segment: Segment, group: str, chosen: Chosen | None = None
) -> list[Doc]:
    """The period forecast per salesperson or team (`group`) of those `chosen`, each against its
    quota."""
    chosen = chosen or Chosen()
    summed = summed_match(segment)

    async def counted_amounts() -> tuple[Counter[str], Counter[str]]:
        async with counters.snapshot(store) as session:
            match = {**summed, "period": period}
            found = await counters.amounts(store, session, counting.PLAN, match)
            match["period"] = "none"
            return found, await counters.amounts(store, session, counting.PLAN, match)

    # Quotas and teams are read models of their own: read meanwhile, not in the counters' snapshot.
    (found, unscheduled), quotas, team_of = await asyncio.gather(
        counted_amounts(), quotas_of(store, period, group), _teams(store, group, chosen)
    )
    counted = chosen.counted(team_of)
    amounts: dict[str | None, Counter[str]] = defaultdict(Counter)
    for owner, n in counting.unpacked(found).items():
        if counted(owner):
            amounts[_grouped(group, owner, team_of)].update(n)
    waiting: Counter[str | None] = Counter()
    for owner, n in counting.unpacked(unscheduled).items():
        if counted(owner):
            waiting[_grouped(group, owner, team_of)] += n.get("open", 0)
    names = set(amounts)
    if not segment.narrowed:  # a quota is the whole team's or person's: shown when nothing is won
        names |= {name for name in quotas if chosen.holds(group, name, team_of)}
    return [
        {
            LABELS[group]: name,
            "period": period,
            **plan.row(amounts.get(name, Counter()), quotas.get(name or "")),
            "unscheduled_opportunities": waiting.get(name, 0),
        }
        for name in sorted(names, key=lambda name: (name is None, name or ""))
    ]


async def line_forecast(
    store: Store, period: str, by: str, group: str | None, chosen: Chosen | None = None
) -> list[Doc]:
    """The period forecast per service line's mode or origin (`by`) of those `chosen`, and per
    salesperson or team where `group` says so, with no quota (quotas are not per line)."""
    chosen = chosen or Chosen()
    team_of = await _teams(store, group, chosen)
    async with counters.snapshot(store) as session:
        match = {"period": period, "owner": _owners(group, chosen, team_of)}
        found = await counters.totals(store, session, counting.LINE_FAMILIES[by], match, ["owner"])
    counted = chosen.counted(team_of)
    amounts: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for row in found:  # an owner's (or everyone's: None) amounts, named after each mode (origin)
        owner = row["_id"]["owner"]
        if owner is not None and not counted(owner):
            continue
        for value, n in counting.unpacked(row["n"]).items():
            key = (_grouped(group, owner, team_of), value) if group else (value,)
            amounts[key].update(n)
    labels = ([LABELS[group]] if group else []) + [by]
    return [
        {**dict(zip(labels, key, strict=True)), "period": period, **plan.line_row(n)}
        for key, n in sorted(amounts.items(), key=lambda item: repr(item[0]))
    ]


def _grouped(group: str | None, owner: str, team_of: dict[str, str | None]) -> str | None:
    """The row a salesperson's amounts go to: theirs, or their team's."""
    return owner if group == "salesperson" else team_of.get(owner)


def _owners(group: str | None, chosen: Chosen, team_of: dict[str, str | None]) -> Any:
    """Which line counters to read: one salesperson's, a team's members', everyone's one by one
    (per salesperson or team), or (None) those summed over everyone."""
    if chosen.salesperson_id is not None:
        return chosen.salesperson_id
    if chosen.team is not None:
        return {"$in": sorted(person for person, team in team_of.items() if team == chosen.team)}
    return None if group is None else {"$ne": None}


async def _teams(store: Store, group: str | None, chosen: Chosen) -> dict[str, str | None]:
    """Each salesperson's team, where the forecast is per team or of one ({}: not needed)."""
    if group != "team" and chosen.team is None:
        return {}
    people = store.db[adapters.SALESPEOPLE].find({}, {"team": 1})
    return {person["_id"]: person.get("team") async for person in people}


async def quotas_of(store: Store, period: str, target: str) -> dict[str, Doc]:
    """Each target's quota for the period (plan.quota_of), by the target's id."""
    wanted = [period, *periods.parts_of(period), *periods.months_of(period)]
    query = {"period": {"$in": wanted}, "target": target}
    fields = dict.fromkeys(("target_id", "period", "revenue", "currency", "freight_tons"), 1)
    targets: dict[str, dict[str, Doc]] = defaultdict(dict)
    async for quota in store.db[adapters.QUOTAS].find(query, fields):
        targets[quota["target_id"]][quota["period"]] = quota
    return {
        name: quota
        for name, of_target in targets.items()
        if (quota := plan.quota_of(of_target, period)) is not None
    }
