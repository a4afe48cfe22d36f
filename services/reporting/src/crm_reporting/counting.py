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
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from crm_runtime.periods import month_of, periods_holding

from crm_reporting import plan
from crm_reporting.measures import (
    EPOCH,
    activity,
    deal_amounts,
    funnel_amounts,
    latest_prices,
    products_of,
    standing,
)

Doc = dict[str, Any]
Prices = dict[str, tuple[float, str]]  # an opportunity's latest priced proposal (latest_prices)
DORMANT_AFTER = timedelta(days=90)  # the reports' default: corrections stay few
VALUE = "value"
LIFECYCLE = "lifecycle"
FORECAST = "forecast"
FUNNEL = "funnel"
OWNERS = "owners"  # the scorecard's customers of each salesperson
SCORECARD = "scorecard"  # the scorecard's period
CROSS = "cross"  # accounts that may cross-sell: not counted, read by the scorecard
# The period forecast (plan.py): each entry of a month, its amounts named after their owner
# (`packed`), counted in the month's, the quarter's and the year's counter (`periods_holding`):
# any period is one counter holding every salesperson's amounts. Of the opportunities without an
# expected close date ("none"), only how many are open.
PLAN = "plan"
# The same per service line's mode, and per where its lane starts: a month's counter per owner
# holds each mode's (origin's) amounts named after it (`packed`), so that a salesperson's lines
# are one counter, not every salesperson's; also summed over the owners (owner None: everyone's).
# Unscheduled lines are not kept.
PLAN_MODES = "plan_modes"
PLAN_ORIGINS = "plan_origins"
LINE_FAMILIES = {"mode": PLAN_MODES, "origin": PLAN_ORIGINS}  # by what they are kept
PLANS = (PLAN, *LINE_FAMILIES.values())
VALUE_KEY = ("tier", "region", "industry", "band")
# The lifecycle, forecast and funnel counters are also kept summed over each of these, so that a
# report without a filter on one reads few counters.
FILTERS = ("industry", "region")
SUMMED = (LIFECYCLE, FORECAST, FUNNEL, OWNERS, SCORECARD, PLAN)


@dataclass(frozen=True)
class Account:
    """What the counters need of an account: its profile, and a summary of its facts (each
    fact itself is counted on its own: `fact_contributions`)."""

    profile: Doc  # {} where there is none (facts of a customer not created, as far as seen)
    last_followup_at: datetime | None = None
    outcomes: frozenset[str] = frozenset()
    won: tuple[Doc, ...] = ()  # its won deals, with their closing times and what they sold
    open_opportunities: tuple[Doc, ...] = ()  # each with its win probability
    proposals: tuple[Doc, ...] = ()  # those of its open opportunities

    @property
    def has_open_opportunity(self) -> bool:
        return bool(self.open_opportunities)


def account_of(
    profile: Doc,
    followups: Iterable[Doc],
    deals: Iterable[Doc],
    opportunities: Iterable[Doc],
    proposals: Iterable[Doc],
) -> Account:
    """An account from its profile and facts (with the fields counters.ACCOUNT_FIELDS names):
    its follow-ups, deals, opportunities (only the open ones count) and proposals (those of its
    open opportunities count). Each kept in an order of its own: the same facts read in any
    order make the same account."""
    seen = [followup["at"] for followup in followups if followup.get("revoked") is False]
    deals = sorted(deals, key=lambda deal: deal["_id"])
    won = [d for d in deals if d.get("outcome") == "won" and products_of(d)]
    opened = sorted((o for o in opportunities if o.get("closed") is False), key=lambda o: o["_id"])
    own = {opportunity["_id"] for opportunity in opened}
    priced = [p for p in proposals if p.get("opportunity_id") in own]
    return Account(
        profile,
        max(seen, default=None),
        frozenset(deal["outcome"] for deal in deals if "outcome" in deal),
        tuple(won),
        tuple(opened),
        tuple(sorted(priced, key=lambda proposal: proposal["_id"])),
    )


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
    if account.open_opportunities:
        price_of = latest_prices(list(account.proposals))
        found[FORECAST] = [_forecast(account, segment, price_of)]
        found.update(_plan_of_open(account, segment, price_of))
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


def _forecast(account: Account, segment: Doc, price_of: Prices) -> Doc:
    """Its open opportunities under its owner, valued at their amounts (else their latest priced
    proposals, `price_of`), and weighted by their win probabilities (in millionths, which add up
    exactly)."""
    n: Counter[str] = Counter(open=len(account.open_opportunities))
    for opportunity in account.open_opportunities:
        if (value := plan.value_of(opportunity, price_of)) is None:
            n["unvalued"] += 1
            continue
        price, currency = value
        n[f"pipeline_{currency}"] += round(price * 1_000_000)
        weighted = price * (opportunity.get("win_probability") or 0)
        n[f"weighted_{currency}"] += round(weighted * 1_000_000)
    owner = account.profile.get("owner_id") or "unassigned"
    key = {"owner": owner, "region": segment.get("region"), "industry": segment.get("industry")}
    return {"key": key, "n": dict(n)}


def _plan_of_open(account: Account, segment: Doc, price_of: Prices) -> dict[str, list[Doc]]:
    """PLAN, and per line PLAN_MODES and PLAN_ORIGINS: each open opportunity in its owner's
    month of expected close."""
    filters = {name: segment.get(name) for name in FILTERS}
    plans: list[Doc] = []
    lines: list[tuple[str, Doc]] = []
    for opportunity in account.open_opportunities:
        owner = opportunity.get("owner_id") or account.profile.get("owner_id") or "unassigned"
        key = {"month": plan.close_month(opportunity), **filters}
        value = plan.value_of(opportunity, price_of)
        probability = opportunity.get("win_probability") or 0.0
        tons = sum(float(line.get("monthly_tons") or 0) for line in opportunity.get("lines") or [])
        if key["month"] is plan.UNSCHEDULED:  # the report reads no more of them
            plans.append({"key": key, "n": packed(owner, {"open": 1})})
            continue
        amounts = plan.open_amounts(probability, value, tons)
        plans.append({"key": key, "n": packed(owner, amounts)})
        lines += _line_entries(key, owner, plan.lines_of_open(opportunity, value))
    return {PLAN: _merged(plans), **_by_line(lines)} if plans else {}


def _line_entries(
    key: Doc, owner: str, lines: list[tuple[Doc, Counter[str]]]
) -> list[tuple[str, Doc]]:
    """Each line's amounts named after its mode, and after its origin, in its owner's month (per
    line, the forecast is not filtered by region or industry, which would make a counter a
    line)."""
    return [
        (
            family,
            {"key": {"month": key["month"], "owner": owner}, "n": packed(line.get(by) or "?", n)},
        )
        for line, n in lines
        for by, family in LINE_FAMILIES.items()
    ]


def _by_line(entries: list[tuple[str, Doc]]) -> dict[str, list[Doc]]:
    found = {
        family: _merged([entry for of, entry in entries if of == family])
        for family in LINE_FAMILIES.values()
    }
    return {family: kept for family, kept in found.items() if kept}


def _merged(entries: list[Doc]) -> list[Doc]:
    """Entries of the same key as one, in an order of their own (the same facts, the same list)."""
    by_key: dict[str, Doc] = {}
    for entry in entries:
        name = repr(sorted(entry["key"].items(), key=lambda pair: pair[0]))
        if name in by_key:
            _add(by_key[name]["n"], entry["n"])
        else:
            by_key[name] = {"key": entry["key"], "n": dict(entry["n"])}
    return [by_key[name] for name in sorted(by_key)]


def _plan_of_won(deal: Doc, profile: Doc, segment: Doc) -> dict[str, list[Doc]]:
    """PLAN, PLAN_MODES and PLAN_ORIGINS: a won deal in its salesperson's month of closing."""
    if deal.get("outcome") != "won" or not deal.get("closed_at"):
        return {}
    owner = deal.get("salesperson_id") or owner_of(profile) or "unassigned"
    filters = {name: segment.get(name) for name in FILTERS}
    key = {"month": month_of(deal["closed_at"]), **filters}
    amount = deal.get("amount")
    won = plan.won_amounts(amount, deal.get("currency"), float(deal.get("freight_tons") or 0))
    lines = _line_entries(key, owner, plan.lines_of_won(deal))
    return {PLAN: [{"key": key, "n": packed(owner, won)}], **_by_line(lines)}


def _owned(account: Account, segment: Doc, now: datetime) -> dict[str, list[Doc]]:
    """OWNERS: the account under its owner, active or archived, and whether dormant. SCORECARD:
    the new lead. CROSS: where its won deals hold more than one product line, the spans that
    show it (a report counts an account cross-selling if one lies in its period)."""
    profile = account.profile
    owner = owner_of(profile)
    if not owner:
        return {}
    filters = {name: segment.get(name) for name in FILTERS}
    status = profile.get("status", "active")
    last = activity({**profile, "last_followup_at": account.last_followup_at})
    # None: an archived account never turns dormant (nor does a report ask it whether it did).
    dormant = None if status != "active" else last is not None and last < now - DORMANT_AFTER
    n = {"accounts": 1, "active": int(status == "active"), "archived": int(status == "archived")}
    key = {"owner": owner, **filters, "dormant": dormant}
    found: dict[str, list[Doc]] = {OWNERS: [{"key": key, "n": n, "activity": last}]}
    if witnesses := cross_selling_witnesses(account.won):
        found[CROSS] = [{"key": {"owner": owner, **filters}, "n": {}, "w": witnesses}]
    if created := profile.get("created_at"):
        found[SCORECARD] = _period_entries([(created, owner, {"new_leads": 1})], segment)
    return found


BEGINNING = datetime(1, 1, 1, tzinfo=UTC)


def cross_selling_witnesses(won: Sequence[Doc]) -> list[Doc]:
    """The spans {"a": first, "b": last} of won deals that hold more than one product line (a
    mode of their service lines, else a product line: measures.products_of)
    between them: a deal with two lines, or two deals one after the other (by closing time)
    with different lines. An account's won deals in a period hold more than one line between
    them exactly when one of these spans lies in it: those in a period are one run of the
    sequence, and if no deal of the run holds two lines, two neighbours in it differ.

    Only the spans that hold no other are kept: in order, their starts and ends both rise, so
    that the one a period may hold is the first to start in it, the one whose `after` (the
    start of the span before) is before the period: a report counts each account once."""
    deals = sorted(
        ((d["closed_at"], frozenset(products_of(d))) for d in won),
        key=lambda deal: deal[0],
    )
    deals = [deal for deal in deals if deal[1]]  # no line: adds none to a run
    spans = [(at, at) for at, lines in deals if len(lines) > 1]
    spans += [(a, b) for (a, one), (b, other) in itertools.pairwise(deals) if len(one | other) > 1]
    kept: list[Doc] = []
    for a, b in sorted(spans, key=lambda span: (span[1], -span[0].timestamp())):
        if not kept or a > kept[-1]["a"]:  # else it holds one kept already
            kept.append({"a": a, "b": b, "after": kept[-1]["a"] if kept else BEGINNING})
    return kept


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
    found = {SCORECARD: entries} if entries else {}
    if kind == DEAL:
        found.update(_plan_of_won(fact, profile, segment))
    return {family: found[family] for family in found if found[family]}


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
    """Each item under the slot it happened in (counted in the blocks of time that hold it:
    `counted_keys`), with its time (`at`: what a report reads at a period's ends); a person's
    amounts named after them (`packed`), so that a block's counter holds every salesperson's:
    a period reads a counter a block, not one a block and salesperson."""
    filters = {name: segment.get(name) for name in FILTERS}
    return [
        {
            "key": {"slot": slot_of(at), **filters},
            "n": packed(person, n) if person else n,
            "at": at,
        }
        for at, person, n in items
    ]


# Between a person's id (or a line's mode or origin) and an amount's name: none holds it escaped.
SEPARATOR = "|"
_ESCAPES = {"%": "%25", ".": "%2E", "$": "%24", SEPARATOR: "%7C"}


def packed(of: str, n: dict[str, int]) -> dict[str, int]:
    """The amounts of a person (or a line's mode or origin), named `<of>|<amount>`, with the
    characters a MongoDB field name cannot hold (or the separator) escaped in `of`: many
    people's amounts in one counter."""
    escaped = _escaped(of)
    return {f"{escaped}{SEPARATOR}{name}": amount for name, amount in n.items()}


@functools.lru_cache(maxsize=10_000)
def _escaped(of: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in of)


def unpacked(n: dict[str, int]) -> dict[str, Counter[str]]:
    """The amounts named by `packed`, per person (or mode, origin) again (those that sum to
    nothing left out)."""
    found: dict[str, Counter[str]] = {}
    for named, amount in n.items():
        if not amount:  # added and taken away again: no row of its own
            continue
        person, name = _named(named)
        # Neither setdefault (a Counter made for every amount) nor Counter's missing key: the
        # thousands of amounts a report reads made these a quarter of its time.
        if (of := found.get(person)) is None:
            of = found[person] = Counter()
        of[name] = of.get(name, 0) + amount
    return found


@functools.lru_cache(maxsize=100_000)
def _named(named: str) -> tuple[str, str]:
    """The person and the amount's name in a name made by `packed` (few: every report reads
    the same again)."""
    escaped, _, name = named.rpartition(SEPARATOR)
    return unquote(escaped), name


def is_dormant(stage: str, last: datetime | None, before: datetime) -> bool | None:
    """Not followed up since `before`; None for the churned, which are churned, neither dormant
    nor awake: no threshold turns them (nor does a report ask them whether it did)."""
    return None if stage == "churned" else last is not None and last < before


def counted_keys(family: str, key: Doc) -> Iterator[Doc]:
    """The counters an entry adds to: its key, and for the families SUMMED the same summed over
    each subset of FILTERS (`across` names them, comma-separated; "" for none). An entry of a
    period (its "slot") adds to the blocks that hold that slot (`blocks_of`) where summed as
    FINE, else to its day's."""
    if family not in SUMMED and family not in PLANS:
        yield key
        return
    if family in PLANS:
        rest = {name: value for name, value in key.items() if name != "month"}
        if family == PLAN:
            variants = [summed for summed, _ in _summed(rest)]
        else:
            variants = [rest, {**rest, "owner": None}]
        for variant in variants:
            yield from ({**variant, "period": period} for period in periods_holding(key["month"]))
        return
    slot = key.get("slot")
    rest = {name: value for name, value in key.items() if name != "slot"}
    for summed, fine in _summed(rest):
        if slot is None:
            yield summed
        elif fine:
            yield from ({"bucket": block, **summed} for block in blocks_of(slot))
        else:
            yield {"bucket": _day_of(slot), **summed}


# Each subset of FILTERS a SUMMED family is also kept summed over.
ACROSS: tuple[list[str], ...] = ([], ["industry"], ["region"], ["industry", "region"])


def _summed(key: Doc) -> Iterator[tuple[Doc, bool]]:
    """The key summed over each subset of FILTERS (`across` names them), and whether those
    counters are kept in blocks (FINE) or by the day."""
    for subset in ACROSS:
        joined = ",".join(subset)
        yield {**key, **dict.fromkeys(subset), "across": joined}, joined in FINE


def across(filtered: set[str]) -> str:
    """The counters of a family SUMMED to read for a report filtered on `filtered`."""
    return ",".join(name for name in FILTERS if name not in filtered)


Pairs = tuple[tuple[str, Any], ...]


class Deltas(defaultdict[tuple[str, Pairs], dict[str, int]]):
    """(family, an entry's key as sorted pairs) -> {amount's name: change}: summed over the
    entries of many units before they are spread over their counters (`counted`)."""

    def __init__(self) -> None:
        super().__init__(dict)


def changes(before: dict[str, list[Doc]], after: dict[str, list[Doc]], into: Deltas) -> None:
    """Adds to `into` what goes from counting a unit as `before` to counting it as `after`."""
    for family in before.keys() | after.keys():
        old, new = before.get(family, []), after.get(family, [])
        if old == new or [(e["key"], e["n"]) for e in old] == [(e["key"], e["n"]) for e in new]:
            continue
        for entries, sign in ((old, -1), (new, 1)):
            for entry in entries:
                _add(into[family, tuple(sorted(entry["key"].items()))], entry["n"], sign)


def _add(into: dict[str, int], n: dict[str, int], sign: int = 1) -> None:
    """Adds amounts to others (a loop: Counter.update costs more for the few each entry has)."""
    for name, amount in n.items():
        into[name] = into.get(name, 0) + sign * amount


Counted = dict[tuple[str, Pairs], dict[str, int]]


def counted(deltas: Deltas) -> Counted:
    """The changes per counter (`counted_keys`): (family, counter's key as sorted pairs) ->
    {amount: change}. A period's blocks are summed size by size, each from the one below it:
    what the smallest blocks hold is added up once, not once for every size."""
    found: Counted = defaultdict(dict)
    # (family, key summed as FINE without its bucket, the start of a block of the size): amounts.
    level: dict[tuple[str, Pairs, str], dict[str, int]] = defaultdict(dict)
    for (family, pairs), n in deltas.items():
        if family not in SUMMED or pairs[-1][0] != "slot":  # sorted: a slot is last
            for key in _counted_pairs(family, pairs):
                _add(found[family, key], n)
            continue
        slot = pairs[-1][1]
        for summed, fine in _summed_pairs(pairs[:-1]):
            if fine:
                _add(level[family, summed, slot], n)
            else:
                _add(found[family, _with_bucket(summed, _day_of(slot))], n)
    for size in range(len(BLOCKS)):
        above: dict[tuple[str, Pairs, str], dict[str, int]] = defaultdict(dict)
        for (family, summed, start), n in level.items():
            found[family, _with_bucket(summed, blocks_of(start)[size])] = n  # its only part
            if size + 1 < len(BLOCKS):
                _add(above[family, summed, _starts(start)[size + 1]], n)
        level = above
    return {counter: n for counter, n in found.items() if any(n.values())}


@functools.lru_cache(maxsize=100_000)
def _counted_pairs(family: str, pairs: Pairs) -> list[Pairs]:
    """counted_keys as sorted pairs (a batch's entries share few keys: each is worked out once)."""
    return [tuple(sorted(key.items())) for key in counted_keys(family, dict(pairs))]


@functools.lru_cache(maxsize=100_000)
def _summed_pairs(rest: Pairs) -> list[tuple[Pairs, bool]]:
    """`_summed` of a period's entry's key without its slot (`rest`), as sorted pairs."""
    return [(tuple(sorted(summed.items())), fine) for summed, fine in _summed(dict(rest))]


@functools.lru_cache(maxsize=100_000)
def _with_bucket(summed: Pairs, bucket: str) -> Pairs:
    return tuple(sorted((*summed, ("bucket", bucket))))


# --- periods -------------------------------------------------------------------------------------

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SLOT = timedelta(hours=2)  # the finest a period's amounts are counted
# The blocks a period's amounts are also counted in, each aligned on EPOCH and a multiple of the
# one before, so that any period's whole slots are a few blocks (at most about two of each size,
# `cover`): a year's scorecard reads some twenty counters, not 365 days. None is shorter than
# two hours: below that, a block's counter holds each of its facts' amounts apart (its
# salespeople's, named), so that each finer size would store the facts again (two hours cost a
# quarter more than four, and halve what a report reads at its ends); what a period holds of a
# slot at either end is read from the entries of its facts (`counters.between`). None
# is longer than 32 days: each holds every salesperson's amounts, which a batch counted rewrites.
# Only the counters of reports filtered on no more than a region (FINE) are kept so: the others,
# per industry, hold few amounts a day, and count their ends' hours from the entries.
BLOCKS = [
    *(timedelta(hours=n) for n in (2, 4, 8)),
    *(timedelta(days=n) for n in (1, 2, 4, 8, 16, 32)),
]
FINE = ("industry,region", "industry")


def slot_of(at: datetime) -> str:
    """The slot (two hours, UTC) a time falls in, by its start: 2026-11-28T12:00."""
    if at.utcoffset():
        at = at.astimezone(UTC)
    return f"{at.isoformat()[:11]}{at.hour // 2 * 2:02d}:00"  # without strftime


@functools.lru_cache(maxsize=100_000)
def blocks_of(slot: str) -> list[str]:
    """The names of the blocks that hold a slot, the smallest first."""
    start = datetime.fromisoformat(slot).replace(tzinfo=UTC)
    return [_name(_floor(start, size), size) for size in BLOCKS]


def _day_of(slot: str) -> str:
    """The name of the day's block that holds a slot."""
    return blocks_of(slot)[BLOCKS.index(DAY)]


@functools.lru_cache(maxsize=100_000)
def _starts(slot: str) -> list[str]:
    """The slots that start the blocks holding a slot, the smallest first."""
    start = datetime.fromisoformat(slot).replace(tzinfo=UTC)
    return [slot_of(_floor(start, size)) for size in BLOCKS]


def _name(start: datetime, size: timedelta) -> str:
    if size < DAY:
        return f"h{size // HOUR}:{start.isoformat()[:13]}"
    return f"d{size // DAY}:{start.isoformat()[:10]}"


def _floor(at: datetime, step: timedelta) -> datetime:
    return at - (at - EPOCH) % step


def _ceil(at: datetime, step: timedelta) -> datetime:
    floor = _floor(at, step)
    return floor if floor == at else floor + step


Span = tuple[datetime, datetime]


def cover(since: datetime, until: datetime, fine: bool = False) -> tuple[list[str], list[Span]]:
    """[since, until) as the blocks counted (their names): whole days, or with `fine` the fewest
    blocks of BLOCKS over its whole slots; and what is left (under a day at either end, or under
    a slot), for a report to read from the entries counted (`counters.between`)."""
    unit = SLOT if fine else DAY
    first, last = _ceil(since, unit), _floor(until, unit)
    if first >= last:
        return [], [(since, until)]
    edges = [(a, b) for a, b in ((since, first), (last, until)) if a < b]
    sizes = BLOCKS[::-1] if fine else [DAY]
    names, at = [], first
    while at < last:  # the largest block that starts here and fits
        size = next(s for s in sizes if _floor(at, s) == at and at + s <= last)
        names.append(_name(at, size))
        at += size
    return names, edges
