import itertools
from datetime import UTC, datetime

import pytest
from crm_contracts.common import LABEL_MAX_LENGTH, TEXT_MAX_LENGTH
from crm_contracts.customer_events import MAX_CANDIDATES_LISTED
from crm_contracts.salesperson_events import MAX_COVERAGE
from crm_customer.domain.assignment import (
    MIN_SENIORITY_FOR_HIGH_VALUE,
    AssignmentDecision,
    CandidateVerdict,
    CustomerProfile,
    SalespersonProfile,
    decide,
    is_high_value,
    listed_candidates,
    should_move_on_tier_up,
)

MONDAY = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
TUESDAY = datetime(2024, 5, 7, 9, 0, tzinfo=UTC)


def salesperson(salesperson_id="sp-1", **changes) -> SalespersonProfile:
    fields = dict(
        active=True,
        regions=frozenset(),
        industries=frozenset(),
        capacity=10,
        load=0,
        seniority=2,
        last_assigned_at=None,
    )
    return SalespersonProfile(salesperson_id=salesperson_id, **(fields | changes))


def customer(**changes) -> CustomerProfile:
    fields = dict(customer_id="c-1", region="east", industry="retail", size="small", tier="C")
    return CustomerProfile(**(fields | changes))


HIGH_VALUE = dict(tier="A")


def verdict(decision: AssignmentDecision, salesperson_id: str) -> CandidateVerdict:
    return next(c for c in decision.candidates if c.salesperson_id == salesperson_id)


def only_reasons(person: SalespersonProfile, **customer_changes) -> tuple[str, ...]:
    decision = decide(customer(**customer_changes), [person])
    assert decision.winner_id is None and not decision.candidates[0].eligible
    return decision.candidates[0].reasons


# --- every reason to be passed over, alone --------------------------------------------------------


def test_an_inactive_salesperson_never_receives_a_customer():
    assert only_reasons(salesperson(active=False)) == ("inactive",)


def test_a_salesperson_outside_the_customers_region_is_passed_over_naming_what_they_cover():
    person = salesperson(regions=frozenset({"west", "north"}))
    assert only_reasons(person, region="east") == (
        "region 'east' not covered (covers: north, west)",
    )


def test_a_salesperson_outside_the_customers_industry_is_passed_over_naming_what_they_cover():
    person = salesperson(industries=frozenset({"retail"}))
    assert only_reasons(person, industry="cold chain") == (
        "industry 'cold chain' not covered (covers: retail)",
    )


@pytest.mark.parametrize("unknown", [None, "", "   "])
def test_a_customer_of_unknown_region_cannot_go_to_someone_covering_only_some_regions(unknown):
    person = salesperson(regions=frozenset({"north"}))
    assert only_reasons(person, region=unknown) == ("region unknown (covers only: north)",)


@pytest.mark.parametrize("unknown", [None, "", "   "])
def test_a_customer_of_unknown_industry_cannot_go_to_someone_covering_only_some_industries(unknown):
    person = salesperson(industries=frozenset({"retail", "automotive"}))
    assert only_reasons(person, industry=unknown) == (
        "industry unknown (covers only: automotive, retail)",
    )


@pytest.mark.parametrize(("load", "capacity"), [(10, 10), (11, 10), (0, 0), (3, 0), (0, -1)])
def test_a_salesperson_at_or_over_capacity_is_passed_over(load, capacity):
    assert only_reasons(salesperson(load=load, capacity=capacity)) == (
        f"at capacity ({load}/{capacity})",
    )


def test_one_customer_below_capacity_is_still_room_for_one_more():
    assert decide(customer(), [salesperson(load=9, capacity=10)]).winner_id == "sp-1"


@pytest.mark.parametrize("high_value", [dict(tier="A"), dict(tier="B"), dict(size="large")])
def test_a_junior_never_receives_a_high_value_customer(high_value):
    assert only_reasons(salesperson(seniority=1), **high_value) == (
        f"seniority 1 below {MIN_SENIORITY_FOR_HIGH_VALUE} required for a high-value customer",
    )


def test_an_intermediate_is_senior_enough_for_a_high_value_customer():
    decision = decide(customer(**HIGH_VALUE), [salesperson(seniority=MIN_SENIORITY_FOR_HIGH_VALUE)])
    assert decision.winner_id == "sp-1"


def test_a_junior_may_receive_a_customer_that_is_not_high_value():
    assert decide(customer(tier="C", size="medium"), [salesperson(seniority=1)]).winner_id == "sp-1"


# --- every reason at once -------------------------------------------------------------------------


def test_a_manager_sees_every_reason_a_salesperson_was_passed_over_not_only_the_first():
    person = salesperson(
        active=False,
        regions=frozenset({"north"}),
        industries=frozenset({"retail"}),
        load=10,
        capacity=10,
        seniority=1,
    )
    assert only_reasons(person, region="east", industry="cold chain", tier="A") == (
        "inactive",
        "region 'east' not covered (covers: north)",
        "industry 'cold chain' not covered (covers: retail)",
        "at capacity (10/10)",
        "seniority 1 below 2 required for a high-value customer",
    )


def test_unknown_region_and_industry_are_both_reported_with_the_other_reasons():
    person = salesperson(
        active=False, regions=frozenset({"north"}), industries=frozenset({"retail"}), capacity=0
    )
    assert only_reasons(person, region=None, industry=None) == (
        "inactive",
        "region unknown (covers only: north)",
        "industry unknown (covers only: retail)",
        "at capacity (0/0)",
    )


# --- region and industry matching -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "covered"),
    [
        ("east", {"east"}),
        ("East", {"east"}),
        ("east", {"EAST"}),
        ("  east ", {"east"}),
        ("east", {" East  "}),
        ("EAST", {"north", " east"}),
    ],
)
def test_regions_match_whatever_their_case_and_surrounding_spaces(wanted, covered):
    decision = decide(customer(region=wanted), [salesperson(regions=frozenset(covered))])
    assert decision.winner_id == "sp-1"


@pytest.mark.parametrize(
    ("wanted", "covered"),
    [
        ("Cold Chain", {"cold chain"}),
        (" cold chain", {"COLD CHAIN "}),
        ("retail", {"Retail", "automotive"}),
    ],
)
def test_industries_match_whatever_their_case_and_surrounding_spaces(wanted, covered):
    decision = decide(customer(industry=wanted), [salesperson(industries=frozenset(covered))])
    assert decision.winner_id == "sp-1"


def test_a_salesperson_covering_a_region_written_with_spaces_is_listed_without_them():
    person = salesperson(regions=frozenset({" north ", "West"}))
    assert only_reasons(person, region="east") == (
        "region 'east' not covered (covers: north, West)",
    )


def test_spaces_inside_a_region_still_count():
    person = salesperson(regions=frozenset({"north east"}))
    assert only_reasons(person, region="northeast") == (
        "region 'northeast' not covered (covers: north east)",
    )


@pytest.mark.parametrize(
    ("region", "industry"), [("east", "retail"), (None, None), ("", "  "), ("mars", "piracy")]
)
def test_a_salesperson_with_no_regions_or_industries_listed_covers_everything(region, industry):
    decision = decide(customer(region=region, industry=industry), [salesperson()])
    assert decision.winner_id == "sp-1"
    assert decision.candidates[0].reasons[:2] == ("covers every region", "covers every industry")


def test_an_eligible_salesperson_shows_what_counted():
    person = salesperson(
        regions=frozenset({"east"}),
        industries=frozenset({"retail"}),
        load=2,
        seniority=3,
        last_assigned_at=MONDAY,
    )
    decision = decide(customer(region="East", industry="retail", **HIGH_VALUE), [person])
    assert decision.candidates == (
        CandidateVerdict(
            "sp-1",
            True,
            (
                "covers region 'East'",
                "covers industry 'retail'",
                "load 2/10 (20%)",
                "seniority 3 (senior) for a high-value customer",
                "last assigned 2024-05-06T09:00:00+00:00",
            ),
        ),
    )


# --- what makes a customer high-value -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "size", "high"),
    [
        ("A", None, True),
        ("B", None, True),
        (None, "large", True),
        ("C", "large", True),
        ("D", "large", True),
        ("C", None, False),
        ("D", None, False),
        (None, None, False),
        ("C", "medium", False),
        ("D", "small", False),
        (None, "micro", False),
        ("a", None, True),
        (" b ", None, True),
        (None, " Large ", True),
    ],
)
def test_a_customer_is_high_value_by_tier_a_or_b_or_by_being_large(tier, size, high):
    assert is_high_value(customer(tier=tier, size=size)) is high


# --- ranking --------------------------------------------------------------------------------------


def test_for_a_high_value_customer_the_more_senior_wins_even_when_busier():
    senior = salesperson("sp-senior", seniority=3, load=8, last_assigned_at=TUESDAY)
    intermediate = salesperson("sp-mid", seniority=2, load=0)
    decision = decide(customer(**HIGH_VALUE), [intermediate, senior])
    assert decision.winner_id == "sp-senior"
    assert [c.salesperson_id for c in decision.candidates] == ["sp-senior", "sp-mid"]


def test_for_a_normal_customer_seniority_does_not_rank_so_the_less_loaded_junior_wins():
    senior = salesperson("sp-senior", seniority=3, load=5)
    junior = salesperson("sp-junior", seniority=1, load=4)
    assert decide(customer(tier="C"), [senior, junior]).winner_id == "sp-junior"


def test_for_a_normal_customer_a_senior_wins_no_tie_just_for_being_senior():
    senior = salesperson("sp-b", seniority=3)
    junior = salesperson("sp-a", seniority=1)
    decision = decide(customer(tier="D"), [senior, junior])
    assert decision.winner_id == "sp-a"
    assert "decided by salesperson id" in decision.why


def test_the_load_ratio_ranks_not_the_number_of_customers():
    big_book = salesperson("sp-big", load=4, capacity=20)  # 20%
    small_book = salesperson("sp-small", load=3, capacity=10)  # 30%
    assert decide(customer(), [small_book, big_book]).winner_id == "sp-big"


def test_equal_ratios_tie_exactly_so_recency_decides():
    half_of_two = salesperson("sp-a", load=1, capacity=2, last_assigned_at=TUESDAY)
    half_of_ten = salesperson("sp-b", load=5, capacity=10, last_assigned_at=MONDAY)
    decision = decide(customer(), [half_of_two, half_of_ten])
    assert decision.winner_id == "sp-b"
    assert "decided by recency" in decision.why


def test_the_least_recently_assigned_wins_an_equal_load():
    recent = salesperson("sp-a", last_assigned_at=TUESDAY)
    earlier = salesperson("sp-b", last_assigned_at=MONDAY)
    assert decide(customer(), [recent, earlier]).winner_id == "sp-b"


def test_someone_never_assigned_comes_before_anyone_assigned_at_all():
    long_ago = salesperson("sp-a", last_assigned_at=datetime(1990, 1, 1, tzinfo=UTC))
    never = salesperson("sp-b", last_assigned_at=None)
    assert decide(customer(), [long_ago, never]).winner_id == "sp-b"


def test_when_everything_else_ties_the_lowest_salesperson_id_wins():
    decision = decide(customer(), [salesperson("sp-3"), salesperson("sp-1"), salesperson("sp-2")])
    assert decision.winner_id == "sp-1"
    assert [c.salesperson_id for c in decision.candidates] == ["sp-1", "sp-2", "sp-3"]


def test_the_decision_does_not_depend_on_the_order_salespeople_are_listed_in():
    team = [
        salesperson("sp-1", seniority=3, load=5),
        salesperson("sp-2", seniority=3, load=2, last_assigned_at=TUESDAY),
        salesperson("sp-3", seniority=3, load=2, last_assigned_at=MONDAY),
        salesperson("sp-4", seniority=1, load=0),
        salesperson("sp-5", active=False),
    ]
    decisions = {decide(customer(**HIGH_VALUE), order) for order in itertools.permutations(team)}
    assert len(decisions) == 1
    assert decisions.pop().winner_id == "sp-3"


def test_salespeople_may_come_from_any_iterable_such_as_a_generator():
    decision = decide(customer(), (salesperson(i) for i in ["sp-2", "sp-1"]))
    assert decision.winner_id == "sp-1" and len(decision.candidates) == 2


# --- order of candidates in the decision ----------------------------------------------------------


def test_eligible_candidates_come_first_in_ranking_order_then_near_misses_then_the_rest():
    team = [
        salesperson("sp-z", active=False),
        salesperson("sp-c", load=5),
        salesperson("sp-a", capacity=0),
        salesperson("sp-b", load=1),
        salesperson("sp-m", regions=frozenset({"north"})),
        salesperson("sp-n", industries=frozenset({"mining"})),
        salesperson("sp-d", load=1, last_assigned_at=MONDAY),
    ]
    decision = decide(customer(region="east"), team)
    # Who covers the customer but was full or inactive says more than who never covered it.
    assert [(c.salesperson_id, c.eligible) for c in decision.candidates] == [
        ("sp-b", True),
        ("sp-d", True),
        ("sp-c", True),
        ("sp-a", False),
        ("sp-z", False),
        ("sp-m", False),
        ("sp-n", False),
    ]
    assert decision.customer_id == "c-1" and decision.winner_id == "sp-b"


# --- why ------------------------------------------------------------------------------------------


def test_why_names_seniority_when_it_decided():
    team = [salesperson("sp-1", seniority=2), salesperson("sp-2", seniority=3, load=2)]
    decision = decide(customer(**HIGH_VALUE), team)
    assert decision.why == (
        "sp-2: first of 2 eligible among 2 for a high-value customer; "
        "decided by seniority: 3 (senior) against 2 (intermediate) for sp-1"
    )


def test_why_names_load_when_it_decided():
    decision = decide(
        customer(),
        [
            salesperson("sp-1", load=5),
            salesperson("sp-2", load=2),
            salesperson("sp-3", load=7),
            salesperson("sp-4", active=False),
        ],
    )
    assert (
        decision.why
        == "sp-2: first of 3 eligible among 4; decided by load: 2/10 (20%) against 5/10 (50%) "
        "for sp-1"
    )


def test_why_names_load_and_the_tied_seniority_for_a_high_value_customer():
    decision = decide(
        customer(**HIGH_VALUE),
        [salesperson("sp-1", seniority=3, load=5), salesperson("sp-2", seniority=3, load=2)],
    )
    assert decision.why == (
        "sp-2: first of 2 eligible among 2 for a high-value customer; "
        "decided by load: 2/10 (20%) against 5/10 (50%) for sp-1 (tied on seniority 3)"
    )


def test_why_names_recency_when_it_decided():
    decision = decide(
        customer(),
        [salesperson("sp-1", load=1, last_assigned_at=MONDAY), salesperson("sp-2", load=1)],
    )
    assert decision.why == (
        "sp-2: first of 2 eligible among 2; decided by recency: never assigned against "
        "last assigned 2024-05-06T09:00:00+00:00 for sp-1 (tied on load 10%)"
    )


def test_why_names_recency_between_two_past_assignments():
    decision = decide(
        customer(),
        [
            salesperson("sp-1", last_assigned_at=TUESDAY),
            salesperson("sp-2", last_assigned_at=MONDAY),
        ],
    )
    assert (
        "decided by recency: last assigned 2024-05-06T09:00:00+00:00 against "
        "last assigned 2024-05-07T09:00:00+00:00 for sp-1" in decision.why
    )


def test_why_names_the_id_when_nothing_else_decided():
    decision = decide(
        customer(**HIGH_VALUE),
        [
            salesperson("sp-2", last_assigned_at=MONDAY),
            salesperson("sp-1", last_assigned_at=MONDAY),
        ],
    )
    assert decision.why == (
        "sp-1: first of 2 eligible among 2 for a high-value customer; "
        "decided by salesperson id over sp-2 (tied on seniority 2, load 0%, recency)"
    )


@pytest.mark.parametrize(
    ("team", "deciding"),
    [
        ([salesperson("sp-1", seniority=3), salesperson("sp-2", seniority=2)], "seniority"),
        ([salesperson("sp-1", load=1), salesperson("sp-2", load=2)], "load"),
        ([salesperson("sp-1"), salesperson("sp-2", last_assigned_at=MONDAY)], "recency"),
        ([salesperson("sp-1"), salesperson("sp-2")], "salesperson id"),
    ],
)
def test_why_names_exactly_one_deciding_tie_break(team, deciding):
    why = decide(customer(**HIGH_VALUE), team).why
    assert why.startswith("sp-1: ")
    assert why.count("decided by") == 1 and f"decided by {deciding}" in why


def test_why_says_when_the_winner_was_the_only_one_eligible():
    decision = decide(
        customer(**HIGH_VALUE),
        [salesperson("sp-1", active=False), salesperson("sp-2", seniority=3, load=2)],
    )
    assert decision.why == (
        "sp-2: the only eligible salesperson among 2 for a high-value customer; "
        "seniority 3 (senior); load 2/10 (20%); never assigned"
    )


def test_nobody_is_assigned_when_no_salesperson_is_registered():
    assert decide(customer(), []) == AssignmentDecision(
        "c-1", None, (), "no salesperson registered"
    )


def test_nobody_is_assigned_when_nobody_is_eligible_and_why_summarises_the_reasons():
    team = [
        salesperson("sp-1", active=False),
        salesperson("sp-2", load=10, capacity=10),
        salesperson("sp-3", regions=frozenset({"north"}), capacity=0),
        salesperson("sp-4", seniority=1, industries=frozenset({"retail"})),
    ]
    decision = decide(customer(region="east", industry=None, **HIGH_VALUE), team)
    assert decision.winner_id is None
    assert not any(c.eligible for c in decision.candidates)
    assert [c.salesperson_id for c in decision.candidates] == ["sp-1", "sp-2", "sp-3", "sp-4"]
    assert decision.why == (
        "no eligible salesperson among 4: 1 inactive, 1 region not covered, 1 industry unknown, "
        "2 at capacity, 1 too junior for a high-value customer"
    )


# --- moving a customer when scoring raises its tier -----------------------------------------------

TEAM = {
    p.salesperson_id: p
    for p in [
        salesperson("junior", seniority=1),
        salesperson("mid", seniority=2),
        salesperson("other-mid", seniority=2),
        salesperson("senior", seniority=3),
    ]
}


def decision_for(winner_id):
    return AssignmentDecision("c-1", winner_id, (), "")


@pytest.mark.parametrize(
    ("owner", "winner", "moves"),
    [
        ("mid", None, False),  # nobody could take it
        (None, None, False),
        ("senior", "senior", False),  # already with the best one
        ("mid", "senior", True),  # up
        ("junior", "mid", True),
        ("mid", "other-mid", False),  # sideways
        ("senior", "mid", False),  # down
        (None, "junior", True),  # nobody owns it yet
        ("mid", "unknown-winner", False),  # cannot prove the winner is more senior
    ],
)
def test_a_customer_moves_up_in_seniority_on_a_tier_up_never_sideways_or_down(owner, winner, moves):
    current = TEAM[owner] if owner else None
    assert should_move_on_tier_up(current, decision_for(winner), TEAM) is moves


def test_a_tier_up_moves_the_customer_from_a_junior_to_the_senior_decide_picks():
    team = [TEAM["junior"], TEAM["senior"]]
    decision = decide(customer(tier="B"), team)
    assert decision.winner_id == "senior"
    assert should_move_on_tier_up(TEAM["junior"], decision, TEAM)


# --- whatever salespeople look like, the decision fits its event ----------------------------------

LONGEST = "x" * LABEL_MAX_LENGTH


def widest(salesperson_id="sp-wide", **changes) -> SalespersonProfile:
    """As much coverage as a salesperson may have, every name as long as it may be."""
    coverage = {
        "regions": frozenset(
            f"region {i:03} {LONGEST}"[:LABEL_MAX_LENGTH] for i in range(MAX_COVERAGE)
        ),
        "industries": frozenset(
            f"trade {i:03} {LONGEST}"[:LABEL_MAX_LENGTH] for i in range(MAX_COVERAGE)
        ),
    }
    return salesperson(salesperson_id, **(coverage | changes))


def test_a_salesperson_covering_many_regions_is_summarised_by_count_and_first_names():
    regions = frozenset({"East", "North", *(f"place {i:04}" for i in range(2198))})
    (reason,) = only_reasons(salesperson(regions=regions), region="Mars")
    assert reason.startswith("region 'Mars' not covered (covers: 2,200 regions: East, North, ")
    assert reason.endswith(", …)") and len(reason) <= TEXT_MAX_LENGTH


def test_the_reasons_and_why_fit_the_contract_with_the_widest_salespeople_and_longest_values():
    region, industry = "y" * LABEL_MAX_LENGTH, "z" * TEXT_MAX_LENGTH
    team = [widest(f"sp-{i}") for i in range(3)]
    team += [widest("sp-in", regions=frozenset({region}), industries=frozenset())]
    decision = decide(customer(region=region, industry=industry, **HIGH_VALUE), team)
    texts = [decision.why, *(r for c in decision.candidates for r in c.reasons)]
    assert decision.winner_id == "sp-in"
    assert all(0 < len(text) <= TEXT_MAX_LENGTH for text in texts)
    assert any("not covered (covers: 200 regions: region 000 " in text for text in texts)


def test_a_customer_value_quoted_in_a_reason_is_cut_with_an_ellipsis():
    person = salesperson(regions=frozenset({"north"}))
    (reason,) = only_reasons(person, region="z" * TEXT_MAX_LENGTH)
    assert reason == f"region '{'z' * (LABEL_MAX_LENGTH - 1)}…' not covered (covers: north)"


def test_an_assignment_lists_the_winner_and_the_first_candidates_and_says_how_many_were_weighed():
    team = [salesperson(f"sp-{i:02}", load=i) for i in range(MAX_CANDIDATES_LISTED + 5)]
    decision = decide(customer(), team)
    listed = listed_candidates(decision)
    assert len(decision.candidates) == MAX_CANDIDATES_LISTED + 5
    assert listed == decision.candidates[:MAX_CANDIDATES_LISTED]
    assert listed[0].salesperson_id == decision.winner_id == "sp-00"


def test_a_near_miss_is_listed_before_those_who_do_not_cover_the_customer():
    far = [salesperson(f"sp-{i:02}", regions=frozenset({"north"})) for i in range(20)]
    near = salesperson("sp-zz-full", capacity=0)
    listed = listed_candidates(decide(customer(region="east"), [*far, near]))
    assert listed[0] == CandidateVerdict("sp-zz-full", False, ("at capacity (0/0)",))
