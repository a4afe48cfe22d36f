"""What each account adds to the reports' counters, pure.

An account (a customer counted on its own: not merged into another) contributes to each family
of counters its entries: each a key (the counter it adds to) and amounts. Whenever a batch
changes an account, its contributions are computed again from its whole state, and the
difference from what it contributed before goes to the counters (counters.py): whatever order
the events came in, the counters end as the sum over the accounts as they are.

Dormancy depends on the time: an account is counted dormant as of when it was last counted,
with DORMANT_AFTER; a report corrects, from each account's counted `activity`, those whose
dormancy differs at its own time or with its own threshold."""

import functools
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from crm_reporting.measures import (
    EPOCH,
    activity,
    deal_amounts,
    funnel_amounts,
    latest_prices,
    standing,
)

Doc = dict[str, Any]
DORMANT_AFTER = timedelta(days=90)  # the reports' default: corrections stay few
VALUE = "value"
LIFECYCLE = "lifecycle"
FORECAST = "forecast"
FUNNEL = "funnel"
OWNERS = "owners"  # the scorecard's customers of each salesperson
SCORECARD = "scorecard"  # the scorecard's period
CROSS = "cross"  # accounts that may cross-sell: not counted, read by the scorecard
VALUE_KEY = ("tier", "region", "industry", "band")
# The lifecycle, forecast and funnel counters are also kept summed over each of these, so that a
# report without a filter on one reads few counters.
FILTERS = ("industry", "region")
SUMMED = (LIFECYCLE, FORECAST, FUNNEL, OWNERS, SCORECARD)


@dataclass(frozen=True)
class Account:
    """What the counters need of an account: its profile, and a summary of its facts (each
    fact itself is counted on its own: `fact_contributions`)."""

    profile: Doc  # {} where there is none (facts of a customer not created, as far as seen)
    last_followup_at: datetime | None = None
    outcomes: frozenset[str] = frozenset()
    won: tuple[Doc, ...] = ()  # its won deals, with their closing times and product lines
    open_opportunities: tuple[Doc, ...] = ()  # each with its win probability
    proposals: tuple[Doc, ...] = ()  # those of its open opportunities

    @property
    def has_open_opportunity(self) -> bool:
        return bool(self.open_opportunities)


def owner_of(profile: Doc) -> str | None:
    """The salesperson of an account counted on its own."""
    owner: str | None = profile.get("owner_id")
    return None if profile.get("merged_into") else owner


def segment_of(profile: Doc) -> Doc:
    """A merged customer's segment is not the survivor's: what is still filed under it (nothing
    should be) counts in no segment, as the reports always counted it."""
    segment: Doc = {} if profile.get("merged_into") else profile.get("segment") or {}
    return segment


def contributions(account: Account, now: datetime) -> dict[str, list[Doc]]:
    """Each family's entries for the account: {"key": ..., "n": amounts}, and for the lifecycle
    the `activity` dormancy is measured from."""
    profile = account.profile
    segment = segment_of(profile)
    found: dict[str, list[Doc]] = {}
    if forecast := _forecast(account, segment):
        found[FORECAST] = [forecast]
    found.update(_owned(account, segment, now))
    if profile.get("merged_into") or not profile.get("created_at"):
        return found
    if profile.get("status", "active") != "archived":
        tons = segment.get("monthly_freight_volume_tons") or 0
        value = {
            "key": {name: segment.get(name) for name in VALUE_KEY},
            # In millionths of a ton: integer sums stay exact whatever is added and taken away.
            "n": {"customers": 1, "freight_micro_tons": round(tons * 1_000_000)},
        }
        found[VALUE] = [value]
    followed = {**profile, "last_followup_at": account.last_followup_at}
    outcomes = account.outcomes
    stage = standing(
        followed, account.has_open_opportunity, "won" in outcomes, outcomes == {"lost"}
    )
    last = activity(followed)
    lifecycle = {
        "key": {
            "region": segment.get("region"),
            "industry": segment.get("industry"),
            "month": profile["created_at"].strftime("%Y-%m"),
            "stage": stage,
            "dormant": is_dormant(stage, last, now - DORMANT_AFTER),
        },
        "n": {"customers": 1},
        "activity": last,
    }
    found[LIFECYCLE] = [lifecycle]
    return found


def _forecast(account: Account, segment: Doc) -> Doc | None:
    """Its open opportunities under its owner, valued at their latest priced proposals, and
    weighted by their stages' win probabilities (in millionths, which add up exactly)."""
    if not account.open_opportunities:
        return None
    price_of = latest_prices(list(account.proposals))
    n: Counter[str] = Counter(open=len(account.open_opportunities))
    for opportunity in account.open_opportunities:
        if opportunity["_id"] not in price_of:
            n["unvalued"] += 1
            continue
        price, currency = price_of[opportunity["_id"]]
        n[f"pipeline_{currency}"] += round(price * 1_000_000)
        weighted = price * (opportunity.get("win_probability") or 0)
        n[f"weighted_{currency}"] += round(weighted * 1_000_000)
    owner = account.profile.get("owner_id") or "unassigned"
    key = {"owner": owner, "region": segment.get("region"), "industry": segment.get("industry")}
    return {"key": key, "n": dict(n)}


def _owned(account: Account, segment: Doc, now: datetime) -> dict[str, list[Doc]]:
    """OWNERS: the account under its owner, active or archived, and whether dormant. SCORECARD:
    the new lead. CROSS: the times and product lines of its won deals, where they hold more than
    one line (a report counts an account cross-selling from those in its period)."""
    profile = account.profile
    owner = owner_of(profile)
    if not owner:
        return {}
    filters = {name: segment.get(name) for name in FILTERS}
    status = profile.get("status", "active")
    last = activity({**profile, "last_followup_at": account.last_followup_at})
    dormant = status == "active" and last is not None and last < now - DORMANT_AFTER
    n = {"accounts": 1, "active": int(status == "active"), "archived": int(status == "archived")}
    key = {"owner": owner, **filters, "dormant": dormant}
    found: dict[str, list[Doc]] = {OWNERS: [{"key": key, "n": n, "activity": last}]}
    if len({line for d in account.won for line in d.get("product_lines") or []}) > 1:
        deals = [{"at": d["closed_at"], "lines": d.get("product_lines") or []} for d in account.won]
        found[CROSS] = [{"key": {"owner": owner, **filters}, "n": {}, "won": deals}]
    if created := profile.get("created_at"):
        found[SCORECARD] = _period_entries([(created, owner, {"new_leads": 1})], segment)
    return found


# The kinds of facts, each counted on its own.
FOLLOWUP, DEAL, PROPOSAL, OPPORTUNITY = "followup", "deal", "proposal", "opportunity"


def fact_contributions(kind: str, fact: Doc, profile: Doc) -> dict[str, list[Doc]]:
    """A fact's entries, under its account's segment (`profile`: its account's, {} for none): an
    opportunity in the funnel, the others in the scorecard's periods."""
    segment = segment_of(profile)
    if kind == OPPORTUNITY:
        opened = fact.get("opened_at")
        if not opened:
            return {}
        entries = _period_entries([(opened, None, dict(funnel_amounts(fact)))], segment)
        return {FUNNEL: entries}
    entries = _period_entries(fact_items(kind, fact, profile), segment)
    return {SCORECARD: entries} if entries else {}


def fact_items(kind: str, fact: Doc, profile: Doc) -> list[tuple[datetime, str, dict[str, int]]]:
    """What a follow-up, deal or proposal adds to a salesperson's period: when, to whom, what
    (as measures.scorecard counts it)."""
    owner = owner_of(profile)
    if kind == FOLLOWUP and not fact.get("revoked") and fact.get("salesperson_id"):
        return [(fact["at"], fact["salesperson_id"], {f"followups_{fact['channel']}": 1})]
    if kind == PROPOSAL and owner and fact.get("created_at"):
        return [(fact["created_at"], owner, {"proposals": 1})]
    if kind == DEAL and (person := fact.get("salesperson_id") or owner):
        start = None if profile.get("merged_into") else profile.get("created_at")
        return [(fact["closed_at"], person, dict(deal_amounts(fact, start)))]
    return []


def _period_entries(
    items: Sequence[tuple[datetime, str | None, dict[str, int]]], segment: Doc
) -> list[Doc]:
    """Each item under the day it happened; a person's amounts named after them (`of_person`),
    so that a day's counter holds every salesperson's: a period reads a counter a day, not one
    a day and salesperson."""
    filters = {name: segment.get(name) for name in FILTERS}
    return [
        {"key": {"bucket": bucket, **filters}, "n": of_person(person, n) if person else n}
        for at, person, n in items
        for bucket in buckets_of(at)
    ]


# Between a person's id and an amount's name: no id holds it once escaped.
PERSON_SEPARATOR = "|"
_ESCAPES = {"%": "%25", ".": "%2E", "$": "%24", PERSON_SEPARATOR: "%7C"}


def of_person(person: str, n: dict[str, int]) -> dict[str, int]:
    """A person's amounts, named `<person>|<amount>`, with the characters a MongoDB field name
    cannot hold (or the separator) escaped in the id."""
    escaped = "".join(_ESCAPES.get(char, char) for char in person)
    return {f"{escaped}{PERSON_SEPARATOR}{name}": amount for name, amount in n.items()}


def by_person(n: dict[str, int]) -> dict[str, Counter[str]]:
    """The amounts named by `of_person`, per person again (those that sum to nothing left out)."""
    found: dict[str, Counter[str]] = {}
    for named, amount in n.items():
        if not amount:  # added and taken away again: no row of its own
            continue
        escaped, _, name = named.rpartition(PERSON_SEPARATOR)
        person = unquote(escaped)
        found.setdefault(person, Counter())[name] += amount
    return found


def is_dormant(stage: str, last: datetime | None, before: datetime) -> bool:
    """Not followed up since `before` (the churned are churned, not dormant)."""
    return stage != "churned" and last is not None and last < before


def counted_keys(family: str, key: Doc) -> Iterator[Doc]:
    """The counters an entry adds to: its key, and for the families SUMMED the same summed over
    each subset of FILTERS (`across` names them, comma-separated; "" for none)."""
    if family not in SUMMED:
        yield key
        return
    hour = str(key.get("bucket", "")).startswith("h")
    for across in ([], ["industry"], ["region"], ["industry", "region"]):
        joined = ",".join(across)
        if not hour or joined in HOURLY:
            yield {**key, **dict.fromkeys(across), "across": joined}


def across(filtered: set[str]) -> str:
    """The counters of a family SUMMED to read for a report filtered on `filtered`."""
    return ",".join(name for name in FILTERS if name not in filtered)


Deltas = Counter[tuple[str, str, tuple[tuple[str, Any], ...]]]


def changes(before: dict[str, list[Doc]], after: dict[str, list[Doc]], into: Deltas) -> None:
    """Adds to `into` what goes from counting a unit as `before` to counting it as `after`:
    (family, amount's name, key as sorted pairs) -> change."""
    for family in set(before) | set(after):
        old, new = before.get(family, []), after.get(family, [])
        if old == new or [(e["key"], e["n"]) for e in old] == [(e["key"], e["n"]) for e in new]:
            continue
        for entries, sign in ((old, -1), (new, 1)):
            for entry in entries:
                for pairs in _counted_pairs(family, tuple(sorted(entry["key"].items()))):
                    for name, amount in entry["n"].items():
                        into[family, name, pairs] += sign * amount


@functools.lru_cache(maxsize=100_000)
def _counted_pairs(family: str, pairs: tuple[tuple[str, Any], ...]) -> list[tuple[Any, ...]]:
    """counted_keys as sorted pairs (a batch's entries share few keys: each is worked out once)."""
    return [tuple(sorted(key.items())) for key in counted_keys(family, dict(pairs))]


# --- periods -------------------------------------------------------------------------------------

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
# The counters kept per hour as well as per day, for the ends of a period: those of reports
# filtered on no more than a region. Per hour, region and industry they would be about one a
# fact; a report filtered on an industry counts its ends' hours from the facts.
HOURLY = ("industry,region", "industry")


def buckets_of(at: datetime) -> list[str]:
    """The day (UTC) a time falls in, and its hour, as the counters of a period name them."""
    if at.utcoffset():
        at = at.astimezone(UTC)
    stamp = at.isoformat()  # 2026-11-28T13:45:00+00:00, without strftime
    return [f"d{stamp[:10]}", f"h{stamp[:13]}"]


def _floor(at: datetime, step: timedelta) -> datetime:
    return at - (at - EPOCH) % step


def _ceil(at: datetime, step: timedelta) -> datetime:
    floor = _floor(at, step)
    return floor if floor == at else floor + step


Span = tuple[datetime, datetime]


def cover(since: datetime, until: datetime, hourly: bool = False) -> tuple[list[str], list[Span]]:
    """[since, until) as whole days (their bucket names), with `hourly` the whole hours of what
    is left at either end too, and what is left then (under a day at either end, or under an
    hour), for a report to count from the facts themselves."""
    days, edges = _whole(since, until, DAY)
    if not hourly:
        return days, edges
    rest: list[Span] = []
    for start, end in edges:
        hours, left = _whole(start, end, HOUR)
        days += hours
        rest += left
    return days, rest


def _whole(since: datetime, until: datetime, step: timedelta) -> tuple[list[str], list[Span]]:
    first, last = _ceil(since, step), _floor(until, step)
    if first >= last:
        return [], [(since, until)]
    edges = [(a, b) for a, b in ((since, first), (last, until)) if a < b]
    named = 0 if step == DAY else 1  # buckets_of: the day's name, then the hour's
    return [buckets_of(first + n * step)[named] for n in range((last - first) // step)], edges
