"""The pipeline's stage machine and the time an opportunity spends in each stage. Pure: no I/O."""

from datetime import UTC, datetime, timedelta, timezone
from itertools import product

import pytest
from crm_followup.domain.pipeline import (
    DEFAULT_PIPELINE,
    LOST,
    WON,
    Pipeline,
    Stage,
    StageVisit,
    time_in_stages,
)
from pydantic import ValidationError

OPEN = ["qualified", "needs_analysed", "proposal", "negotiation"]
WINNABLE = ["proposal", "negotiation"]
KNOWN = [*OPEN, WON, LOST]
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
HOUR = 3600.0


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


# --- the default pipeline's stages -------------------------------------------------------------


def test_the_default_pipeline_has_its_open_stages_in_order_and_starts_qualified():
    assert DEFAULT_PIPELINE.open_stages() == OPEN
    assert DEFAULT_PIPELINE.first == "qualified"


def test_won_and_lost_are_not_open_stages_of_the_default_pipeline():
    assert WON not in DEFAULT_PIPELINE.open_stages()
    assert LOST not in DEFAULT_PIPELINE.open_stages()


@pytest.mark.parametrize("stage", [WON, LOST])
def test_won_and_lost_are_final(stage):
    assert DEFAULT_PIPELINE.is_final(stage) is True


@pytest.mark.parametrize("stage", OPEN)
def test_an_open_stage_is_not_final(stage):
    assert DEFAULT_PIPELINE.is_final(stage) is False


# --- allowed moves -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_stage", "to_stage"),
    [
        ("qualified", "needs_analysed"),
        ("needs_analysed", "proposal"),
        ("proposal", "negotiation"),
    ],
)
def test_an_opportunity_moves_forward_one_stage(from_stage, to_stage):
    assert DEFAULT_PIPELINE.move_problem(from_stage, to_stage) is None


@pytest.mark.parametrize(
    ("from_stage", "to_stage"),
    [
        ("qualified", "proposal"),
        ("qualified", "negotiation"),
        ("needs_analysed", "negotiation"),
    ],
)
def test_an_opportunity_may_skip_forward_over_stages(from_stage, to_stage):
    assert DEFAULT_PIPELINE.move_problem(from_stage, to_stage) is None


@pytest.mark.parametrize(
    ("from_stage", "to_stage"),
    [
        ("needs_analysed", "qualified"),
        ("proposal", "needs_analysed"),
        ("negotiation", "proposal"),
    ],
)
def test_an_opportunity_may_go_back_one_stage(from_stage, to_stage):
    assert DEFAULT_PIPELINE.move_problem(from_stage, to_stage) is None


@pytest.mark.parametrize("from_stage", WINNABLE)
def test_a_deal_is_won_from_a_stage_that_allows_winning(from_stage):
    assert DEFAULT_PIPELINE.move_problem(from_stage, WON) is None


@pytest.mark.parametrize("from_stage", OPEN)
def test_a_deal_is_lost_from_any_open_stage(from_stage):
    assert DEFAULT_PIPELINE.move_problem(from_stage, LOST) is None


# --- refused moves -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_stage", "to_stage"),
    [
        ("proposal", "qualified"),
        ("negotiation", "needs_analysed"),
        ("negotiation", "qualified"),
    ],
)
def test_an_opportunity_never_goes_back_more_than_one_stage(from_stage, to_stage):
    problem = DEFAULT_PIPELINE.move_problem(from_stage, to_stage)
    assert problem is not None
    assert "back more than one stage" in problem
    assert f"({from_stage} to {to_stage})" in problem
    assert "requalify step by step" in problem


@pytest.mark.parametrize("stage", OPEN)
def test_moving_to_the_stage_it_is_already_in_is_refused(stage):
    assert DEFAULT_PIPELINE.move_problem(stage, stage) == f"the opportunity is already in {stage}"


@pytest.mark.parametrize("from_stage", ["qualified", "needs_analysed"])
def test_a_deal_is_won_only_from_a_stage_that_allows_winning(from_stage):
    problem = DEFAULT_PIPELINE.move_problem(from_stage, WON)
    assert problem is not None
    assert "a deal is won only from proposal, negotiation" in problem
    assert problem.endswith(f"not {from_stage}")


@pytest.mark.parametrize("from_stage", [*OPEN, WON, LOST])
@pytest.mark.parametrize("to_stage", ["closed", "Proposal", "", "negotiation "])
def test_a_move_to_an_unknown_stage_is_refused_with_the_list_of_stages(from_stage, to_stage):
    problem = DEFAULT_PIPELINE.move_problem(from_stage, to_stage)
    assert problem is not None
    assert f"no stage {to_stage!r}" in problem
    assert "the stages are qualified, needs_analysed, proposal, negotiation, won, lost" in problem


@pytest.mark.parametrize(("from_stage", "to_stage"), list(product([WON, LOST], KNOWN)))
def test_nothing_moves_out_of_won_or_lost(from_stage, to_stage):
    problem = DEFAULT_PIPELINE.move_problem(from_stage, to_stage)
    assert problem is not None
    assert f"the opportunity is {from_stage}: a final stage" in problem
    assert "reopen a lost one as a new opportunity" in problem


def _allowed_by_the_rules(from_stage: str, to_stage: str) -> bool:
    if from_stage == to_stage:
        return False
    if to_stage == LOST:
        return True
    if to_stage == WON:
        return from_stage in WINNABLE
    return OPEN.index(from_stage) - OPEN.index(to_stage) <= 1


@pytest.mark.parametrize(("from_stage", "to_stage"), list(product(OPEN, KNOWN)))
def test_every_move_from_an_open_stage_follows_the_rules(from_stage, to_stage):
    problem = DEFAULT_PIPELINE.move_problem(from_stage, to_stage)
    if _allowed_by_the_rules(from_stage, to_stage):
        assert problem is None
    else:
        assert isinstance(problem, str) and problem


# --- probabilities -----------------------------------------------------------------------------


def test_a_won_deal_is_certain():
    assert DEFAULT_PIPELINE.probability(WON) == 1.0


def test_a_lost_deal_has_no_chance():
    assert DEFAULT_PIPELINE.probability(LOST) == 0.0


@pytest.mark.parametrize(
    ("stage", "probability"),
    [
        ("qualified", 0.1),
        ("needs_analysed", 0.25),
        ("proposal", 0.5),
        ("negotiation", 0.75),
    ],
)
def test_an_open_stage_has_the_probability_of_its_configuration(stage, probability):
    assert DEFAULT_PIPELINE.probability(stage) == probability


# --- the pipeline's own validation -------------------------------------------------------------


def test_a_pipeline_with_a_repeated_stage_name_is_refused():
    with pytest.raises(ValidationError, match="stage names repeat"):
        Pipeline(
            stages=(
                Stage(name="qualified", win_probability=0.1),
                Stage(name="qualified", win_probability=0.5, may_win=True),
            )
        )


@pytest.mark.parametrize("name", [WON, LOST])
def test_won_and_lost_cannot_be_configured_as_stages(name):
    with pytest.raises(ValidationError, match="won and lost are added by the pipeline itself"):
        Pipeline(
            stages=(
                Stage(name="proposal", win_probability=0.5, may_win=True),
                Stage(name=name, win_probability=0.9, may_win=True),
            )
        )


def test_a_pipeline_where_no_stage_allows_winning_is_refused():
    with pytest.raises(ValidationError, match="at least one stage must allow winning"):
        Pipeline(
            stages=(
                Stage(name="qualified", win_probability=0.1),
                Stage(name="proposal", win_probability=0.5),
            )
        )


def test_a_pipeline_without_stages_is_refused():
    with pytest.raises(ValidationError, match="stages"):
        Pipeline(stages=())


@pytest.mark.parametrize(
    "name",
    [
        "Proposal",
        "1st_call",
        "_hidden",
        "needs analysed",
        "needs-analysed",
        "",
        "a" * 41,
        "prix_é",
    ],
)
def test_a_stage_name_outside_the_pattern_is_refused(name):
    with pytest.raises(ValidationError, match="pattern"):
        Stage(name=name, win_probability=0.5, may_win=True)


def test_a_badly_named_stage_is_refused_inside_a_pipeline_configuration_too():
    with pytest.raises(ValidationError, match="name"):
        Pipeline.model_validate(
            {"stages": [{"name": "Bad Stage", "win_probability": 0.5, "may_win": True}]}
        )


@pytest.mark.parametrize("name", ["a", "stage_2", "a" * 40])
def test_a_stage_name_within_the_pattern_is_accepted(name):
    assert Stage(name=name, win_probability=0.5).name == name


@pytest.mark.parametrize("probability", [-0.01, 1.01])
def test_a_stage_probability_outside_zero_to_one_is_refused(probability):
    with pytest.raises(ValidationError, match="win_probability"):
        Stage(name="proposal", win_probability=probability)


def test_a_stage_does_not_allow_winning_unless_configured_to():
    assert Stage(name="proposal", win_probability=0.5).may_win is False


def test_a_pipeline_cannot_be_changed_once_configured():
    with pytest.raises(ValidationError, match="frozen"):
        DEFAULT_PIPELINE.stages = ()  # type: ignore[misc]


# --- a custom pipeline behaves by its own configuration ----------------------------------------

CUSTOM = Pipeline.model_validate(
    {
        "stages": [
            {"name": "lead", "win_probability": 0.05},
            {"name": "demo", "win_probability": 0.3, "may_win": True},
            {"name": "trial", "win_probability": 0.6},
            {"name": "contract", "win_probability": 0.9, "may_win": True},
        ]
    }
)


def test_a_custom_pipeline_has_its_own_stages_in_order():
    assert CUSTOM.open_stages() == ["lead", "demo", "trial", "contract"]
    assert CUSTOM.first == "lead"


@pytest.mark.parametrize(
    ("stage", "probability"),
    [
        ("lead", 0.05),
        ("demo", 0.3),
        ("trial", 0.6),
        ("contract", 0.9),
        (WON, 1.0),
        (LOST, 0.0),
    ],
)
def test_a_custom_pipeline_has_the_probabilities_of_its_configuration(stage, probability):
    assert CUSTOM.probability(stage) == probability


@pytest.mark.parametrize("from_stage", ["demo", "contract"])
def test_a_custom_pipeline_allows_winning_from_its_own_winnable_stages(from_stage):
    assert CUSTOM.move_problem(from_stage, WON) is None


@pytest.mark.parametrize("from_stage", ["lead", "trial"])
def test_a_custom_pipeline_refuses_winning_from_its_other_stages(from_stage):
    problem = CUSTOM.move_problem(from_stage, WON)
    assert problem == f"a deal is won only from demo, contract, not {from_stage}"


def test_a_custom_pipeline_does_not_know_the_default_stages():
    problem = CUSTOM.move_problem("lead", "proposal")
    assert problem == "no stage 'proposal': the stages are lead, demo, trial, contract, won, lost"


@pytest.mark.parametrize(
    ("from_stage", "to_stage", "allowed"),
    [
        ("lead", "demo", True),
        ("lead", "contract", True),
        ("trial", "demo", True),
        ("contract", "trial", True),
        ("contract", "demo", False),
        ("contract", "lead", False),
        ("trial", "lead", False),
        ("trial", LOST, True),
        ("lead", LOST, True),
        (WON, "lead", False),
        (LOST, "contract", False),
    ],
)
def test_a_custom_pipeline_moves_by_the_same_rules_over_its_own_stages(
    from_stage, to_stage, allowed
):
    assert (CUSTOM.move_problem(from_stage, to_stage) is None) is allowed


# --- time in stages ----------------------------------------------------------------------------


def test_the_only_stage_visited_counts_until_now():
    spent = time_in_stages([StageVisit("qualified", T0)], now=T0 + hours(2))
    assert spent == {"qualified": 2 * HOUR}


def test_each_stage_counts_until_the_next_one_is_entered():
    history = [
        StageVisit("qualified", T0),
        StageVisit("needs_analysed", T0 + hours(1)),
        StageVisit("proposal", T0 + hours(3)),
    ]
    spent = time_in_stages(history, now=T0 + hours(4))
    assert spent == {"qualified": 1 * HOUR, "needs_analysed": 2 * HOUR, "proposal": 1 * HOUR}


def test_a_stage_visited_twice_counts_the_sum_of_its_visits():
    history = [
        StageVisit("qualified", T0),
        StageVisit("needs_analysed", T0 + hours(1)),
        StageVisit("qualified", T0 + hours(2)),
        StageVisit("needs_analysed", T0 + hours(5)),
    ]
    spent = time_in_stages(history, now=T0 + hours(6))
    assert spent == {"qualified": 1 * HOUR + 3 * HOUR, "needs_analysed": 1 * HOUR + 1 * HOUR}


@pytest.mark.parametrize("final", [WON, LOST])
def test_a_final_stage_counts_nothing_and_the_time_stops_when_it_is_entered(final):
    history = [
        StageVisit("qualified", T0),
        StageVisit("proposal", T0 + hours(1)),
        StageVisit(final, T0 + hours(3)),
    ]
    spent = time_in_stages(history, now=T0 + hours(1000))
    assert spent == {"qualified": 1 * HOUR, "proposal": 2 * HOUR, final: 0.0}


@pytest.mark.parametrize("final", [WON, LOST])
def test_the_time_in_stages_of_a_closed_opportunity_does_not_grow_with_now(final):
    history = [StageVisit("negotiation", T0), StageVisit(final, T0 + hours(5))]
    assert time_in_stages(history, now=T0 + hours(6)) == time_in_stages(
        history, now=T0 + hours(600)
    )


def test_timestamps_out_of_order_never_give_a_negative_time():
    history = [
        StageVisit("qualified", T0 + hours(2)),
        StageVisit("needs_analysed", T0),
    ]
    spent = time_in_stages(history, now=T0 + hours(3))
    assert spent == {"qualified": 0.0, "needs_analysed": 3 * HOUR}
    assert all(seconds >= 0 for seconds in spent.values())


def test_a_now_before_the_current_stage_was_entered_counts_zero_not_negative():
    spent = time_in_stages([StageVisit("proposal", T0)], now=T0 - hours(1))
    assert spent == {"proposal": 0.0}


def test_stage_times_are_measured_between_instants_whatever_their_time_zone():
    shanghai = timezone(timedelta(hours=8))
    history = [
        StageVisit("qualified", datetime(2026, 11, 27, 17, 0, tzinfo=shanghai)),  # 09:00 UTC
        StageVisit("proposal", datetime(2026, 11, 27, 10, 30, tzinfo=UTC)),
    ]
    spent = time_in_stages(
        history, now=datetime(2026, 11, 27, 19, 30, tzinfo=shanghai)
    )  # 11:30 UTC
    assert spent == {"qualified": 1.5 * HOUR, "proposal": 1 * HOUR}


def test_an_empty_history_has_spent_no_time_anywhere():
    assert time_in_stages([], datetime(2026, 11, 27, tzinfo=UTC)) == {}


def test_an_opportunity_in_a_stage_no_longer_configured_can_only_be_lost():
    assert DEFAULT_PIPELINE.move_problem("retired_stage", "lost") is None
    for target in ("won", "qualified"):
        assert "no longer configured" in DEFAULT_PIPELINE.move_problem("retired_stage", target)


def test_the_probability_of_an_unknown_stage_is_a_clear_error():
    with pytest.raises(ValueError, match="no stage 'nope'"):
        DEFAULT_PIPELINE.probability("nope")
