"""Which active salesperson should own a customer, and why. Pure: no I/O."""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from crm_contracts.customer_events import MAX_CANDIDATES_LISTED, MAX_REASONS_PER_CANDIDATE
from crm_contracts.texts import fit, listing, quoted

MIN_SENIORITY_FOR_HIGH_VALUE = 2

SENIORITY_NAMES = {1: "junior", 2: "intermediate", 3: "senior"}
PLURALS = {"region": "regions", "industry": "industries"}
HIGH_VALUE_TIERS = frozenset({"A", "B"})

# Never-assigned first, then the longest since their last assignment.
RecencyKey = tuple[int] | tuple[int, datetime]


@dataclass(frozen=True)
class SalespersonProfile:
    salesperson_id: str
    active: bool
    regions: frozenset[str]  # empty = covers every region
    industries: frozenset[str]  # empty = covers every industry
    capacity: int  # most active customers this person may own
    load: int  # active customers owned now
    seniority: int  # 1 junior, 2 intermediate, 3 senior
    last_assigned_at: datetime | None  # aware datetime, None = never assigned


@dataclass(frozen=True)
class CustomerProfile:
    customer_id: str
    region: str | None
    industry: str | None
    size: str | None  # "micro" | "small" | "medium" | "large" | None
    tier: str | None  # "A".."D" from scoring, None if not scored yet


@dataclass(frozen=True)
class CandidateVerdict:
    salesperson_id: str
    eligible: bool
    reasons: tuple[str, ...]  # ineligible: every reason it was passed over; eligible: what counted


@dataclass(frozen=True)
class AssignmentDecision:
    customer_id: str
    winner_id: str | None
    # Eligible in ranking order, then the passed over: near misses (who cover the customer's
    # region and industry) first, each group by id.
    candidates: tuple[CandidateVerdict, ...]
    why: str


def listed_candidates(decision: AssignmentDecision) -> tuple[CandidateVerdict, ...]:
    """The candidates an assignment event lists: the first ones (the winner, the runners-up, the
    near misses), each with its reasons; `decision.candidates` says how many were weighed."""
    return tuple(
        CandidateVerdict(c.salesperson_id, c.eligible, c.reasons[:MAX_REASONS_PER_CANDIDATE])
        for c in decision.candidates[:MAX_CANDIDATES_LISTED]
    )


def is_high_value(customer: CustomerProfile) -> bool:
    return _clean(customer.tier).upper() in HIGH_VALUE_TIERS or _clean(customer.size) == "large"


def decide(
    customer: CustomerProfile, salespeople: Iterable[SalespersonProfile]
) -> AssignmentDecision:
    people = list(salespeople)
    if not people:
        return AssignmentDecision(customer.customer_id, None, (), "no salesperson registered")
    high_value = is_high_value(customer)
    eligible: list[tuple[SalespersonProfile, tuple[str, ...]]] = []
    passed_over: list[tuple[SalespersonProfile, list[tuple[str, str]]]] = []
    for person in people:
        problems = _problems(customer, person, high_value)
        if problems:
            passed_over.append((person, problems))
        else:
            eligible.append((person, _what_counted(customer, person, high_value)))
    eligible.sort(key=lambda pair: _rank(pair[0], high_value))
    passed_over.sort(key=lambda pair: (_outside_coverage(pair[1]), pair[0].salesperson_id))
    candidates = tuple(_verdict(p, True, counted) for p, counted in eligible) + tuple(
        _verdict(p, False, [text for _, text in problems]) for p, problems in passed_over
    )
    if not eligible:
        why = _why_nobody(passed_over)
        return AssignmentDecision(customer.customer_id, None, candidates, fit(why))
    ranked = [p for p, _ in eligible]
    why = _why_winner(ranked, len(people), high_value)
    return AssignmentDecision(customer.customer_id, ranked[0].salesperson_id, candidates, fit(why))


def _verdict(
    person: SalespersonProfile, eligible: bool, reasons: Iterable[str]
) -> CandidateVerdict:
    # Reasons quote the data (regions, industries): each is cut to fit the event's limit.
    return CandidateVerdict(person.salesperson_id, eligible, tuple(fit(text) for text in reasons))


def _outside_coverage(problems: list[tuple[str, str]]) -> bool:
    # Passed over for not covering the customer: the least telling, and usually the most.
    return any(kind in COVERAGE_PROBLEMS for kind, _ in problems)


def should_move_on_tier_up(
    current_owner: SalespersonProfile | None,
    decision: AssignmentDecision,
    salespeople_by_id: Mapping[str, SalespersonProfile],
) -> bool:
    if decision.winner_id is None:
        return False
    if current_owner is None:
        return True
    if decision.winner_id == current_owner.salesperson_id:
        return False
    winner = salespeople_by_id.get(decision.winner_id)
    # A winner we cannot look up cannot be shown to be more senior: the customer stays put.
    return winner is not None and winner.seniority > current_owner.seniority


def _clean(value: str | None) -> str:
    return (value or "").strip().casefold()


def _problems(
    customer: CustomerProfile, person: SalespersonProfile, high_value: bool
) -> list[tuple[str, str]]:
    # (kind, text): the kind lets "nobody eligible" summarise many candidates in one line.
    problems = []
    if not person.active:
        problems.append(("inactive", "inactive"))
    problems += _coverage_problem("region", customer.region, person.regions)
    problems += _coverage_problem("industry", customer.industry, person.industries)
    # capacity <= 0 is always full, which also keeps the load ratio away from a zero divisor.
    if person.capacity <= 0 or person.load >= person.capacity:
        problems.append(("at capacity", f"at capacity ({person.load}/{person.capacity})"))
    if high_value and person.seniority < MIN_SENIORITY_FOR_HIGH_VALUE:
        problems.append(
            (
                "too junior for a high-value customer",
                f"seniority {person.seniority} below {MIN_SENIORITY_FOR_HIGH_VALUE} required "
                "for a high-value customer",
            )
        )
    return problems


def _coverage_problem(
    what: str, wanted: str | None, covered: frozenset[str]
) -> list[tuple[str, str]]:
    if not covered:
        return []
    listed = listing(sorted((c.strip() for c in covered), key=str.casefold), PLURALS[what])
    if wanted is None or not _clean(wanted):
        return [(f"{what} unknown", f"{what} unknown (covers only: {listed})")]
    if _clean(wanted) not in {_clean(c) for c in covered}:
        return [(f"{what} not covered", f"{what} {quoted(wanted)} not covered (covers: {listed})")]
    return []


def _what_counted(
    customer: CustomerProfile, person: SalespersonProfile, high_value: bool
) -> tuple[str, ...]:
    return (
        _coverage_note("region", customer.region, person.regions),
        _coverage_note("industry", customer.industry, person.industries),
        f"load {_load(person)}",
        f"seniority {_seniority(person)}" + (" for a high-value customer" if high_value else ""),
        _recency(person),
    )


def _coverage_note(what: str, wanted: str | None, covered: frozenset[str]) -> str:
    # Only called for a salesperson found eligible: one who covers `wanted`, or every value.
    return f"covers every {what}" if not covered else f"covers {what} {quoted(wanted or '')}"


def _rank(person: SalespersonProfile, high_value: bool) -> tuple[int, Fraction, RecencyKey, str]:
    # Seniority only ranks when the customer is worth a senior's time; otherwise it would starve
    # juniors.
    return (
        -person.seniority if high_value else 0,
        _ratio(person),
        _recency_key(person),
        person.salesperson_id,
    )


def _ratio(person: SalespersonProfile) -> Fraction:
    # Exact fractions so 1/2 and 5/10 tie instead of differing by a rounding error.
    return Fraction(person.load, person.capacity)


def _recency_key(person: SalespersonProfile) -> RecencyKey:
    return (0,) if person.last_assigned_at is None else (1, person.last_assigned_at)


def _load(person: SalespersonProfile) -> str:
    return f"{person.load}/{person.capacity} ({float(_ratio(person)):.0%})"


def _seniority(person: SalespersonProfile) -> str:
    name = SENIORITY_NAMES.get(person.seniority)
    return f"{person.seniority} ({name})" if name else str(person.seniority)


def _recency(person: SalespersonProfile) -> str:
    if person.last_assigned_at is None:
        return "never assigned"
    return f"last assigned {person.last_assigned_at.isoformat()}"


def _why_winner(ranked: list[SalespersonProfile], considered: int, high_value: bool) -> str:
    winner = ranked[0]
    for_whom = " for a high-value customer" if high_value else ""
    if len(ranked) == 1:
        return (
            f"{winner.salesperson_id}: the only eligible salesperson among {considered}{for_whom}; "
            f"seniority {_seniority(winner)}; load {_load(winner)}; {_recency(winner)}"
        )
    runner = ranked[1]
    header = (
        f"{winner.salesperson_id}: first of {len(ranked)} eligible among {considered}{for_whom}"
    )
    tied = []
    if high_value:
        if winner.seniority != runner.seniority:
            versus = f"{_seniority(winner)} against {_seniority(runner)}"
            return f"{header}; decided by seniority: {versus} for {runner.salesperson_id}"
        tied.append(f"seniority {winner.seniority}")
    if _ratio(winner) != _ratio(runner):
        versus = f"{_load(winner)} against {_load(runner)}"
        return f"{header}; decided by load: {versus} for {runner.salesperson_id}{_tied_on(tied)}"
    tied.append(f"load {float(_ratio(winner)):.0%}")
    if _recency_key(winner) != _recency_key(runner):
        versus = f"{_recency(winner)} against {_recency(runner)}"
        return f"{header}; decided by recency: {versus} for {runner.salesperson_id}{_tied_on(tied)}"
    tied.append("recency")
    return f"{header}; decided by salesperson id over {runner.salesperson_id}{_tied_on(tied)}"


def _tied_on(tied: list[str]) -> str:
    return f" (tied on {', '.join(tied)})" if tied else ""


# Same order as each candidate's own reasons, so the summary reads like one of them.
PROBLEM_ORDER = (
    "inactive",
    "region unknown",
    "region not covered",
    "industry unknown",
    "industry not covered",
    "at capacity",
    "too junior for a high-value customer",
)
COVERAGE_PROBLEMS = frozenset(
    {"region unknown", "region not covered", "industry unknown", "industry not covered"}
)


def _why_nobody(passed_over: list[tuple[SalespersonProfile, list[tuple[str, str]]]]) -> str:
    kinds = Counter(kind for _, problems in passed_over for kind, _ in problems)
    summary = ", ".join(f"{kinds[kind]} {kind}" for kind in PROBLEM_ORDER if kinds[kind])
    return f"no eligible salesperson among {len(passed_over)}: {summary}"
