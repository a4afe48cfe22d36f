"""Win probability: incremental naive Bayes over the segment, Laplace smoothing, the min_support
fallback to the global rate, and log-odds that add up. Pure: no I/O."""

import math
import random

import pytest
from crm_scoring.domain.win_probability import (
    GLOBAL,
    FeatureEffect,
    WinCounts,
    WinModel,
    estimate,
    keys_for,
    learn,
    recount,
)

RETAIL_EAST = {"industry": "retail", "region": "east", "size": "large"}


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def history(*deals: tuple[dict, str]) -> WinCounts:
    counts = WinCounts()
    for segment, outcome in deals:
        counts = learn(counts, segment, outcome)
    return counts


def effect(estimate_, feature: str) -> FeatureEffect:
    return next(e for e in estimate_.effects if e.feature == feature)


def industry_history(a_won: int, a_lost: int, b_won: int, b_lost: int) -> WinCounts:
    return history(
        *[({"industry": "a"}, "won")] * a_won,
        *[({"industry": "a"}, "lost")] * a_lost,
        *[({"industry": "b"}, "won")] * b_won,
        *[({"industry": "b"}, "lost")] * b_lost,
    )


# --- no deals yet -------------------------------------------------------------------------------


def test_with_no_deals_the_probability_is_a_coin_toss():
    result = estimate(WinCounts(), RETAIL_EAST)
    assert result.probability == 0.5
    assert result.prior_log_odds == 0.0
    assert result.log_odds == 0.0


def test_with_no_deals_every_value_contributes_nothing_because_there_are_too_few_deals():
    result = estimate(WinCounts(), RETAIL_EAST)
    assert [(e.feature, e.value, e.log_odds) for e in result.effects] == [
        ("industry", "retail", 0.0),
        ("region", "east", 0.0),
        ("size", "large", 0.0),
    ]
    assert [e.reason for e in result.effects] == [
        "industry retail: 0 deal(s), too few: global rate",
        "region east: 0 deal(s), too few: global rate",
        "size large: 0 deal(s), too few: global rate",
    ]


def test_an_empty_segment_gets_the_global_rate_with_no_effects():
    counts = history(({}, "won"), ({}, "won"), ({}, "lost"))
    result = estimate(counts, {})
    assert result.effects == ()
    assert math.isclose(result.prior_log_odds, math.log(3 / 2))
    assert result.probability == 0.6


def test_effects_come_sorted_by_feature_name():
    result = estimate(
        WinCounts(), {"size": "large", "freight_band": "1000t+", "industry": "retail"}
    )
    assert [e.feature for e in result.effects] == ["freight_band", "industry", "size"]


# --- the global rate and smoothing --------------------------------------------------------------


def test_the_prior_is_the_laplace_smoothed_global_win_rate():
    counts = history(*[({}, "won")] * 6, *[({}, "lost")] * 2)
    result = estimate(counts, {}, alpha=1.0)
    assert math.isclose(result.prior_log_odds, math.log(7 / 3))
    assert result.probability == round(7 / 10, 4)
    assert math.isclose(estimate(counts, {}, alpha=2.0).prior_log_odds, math.log(8 / 4))


@pytest.mark.parametrize("deals", [1, 2, 5, 20, 100, 200])
def test_smoothing_never_gives_certainty_with_only_wins(deals):
    counts = history(*[(RETAIL_EAST, "won")] * deals)
    result = estimate(counts, RETAIL_EAST)
    assert 0.5 < result.probability < 1.0
    assert result.probability == round((deals + 1) / (deals + 2), 4)


@pytest.mark.parametrize("deals", [1, 2, 5, 20, 100, 200])
def test_smoothing_never_gives_certainty_with_only_losses(deals):
    counts = history(*[(RETAIL_EAST, "lost")] * deals)
    result = estimate(counts, RETAIL_EAST)
    assert 0.0 < result.probability < 0.5
    assert result.probability == round(1 / (deals + 2), 4)


def test_a_value_that_won_every_one_of_its_deals_has_a_finite_log_odds():
    counts = industry_history(a_won=8, a_lost=0, b_won=0, b_lost=8)
    a = effect(estimate(counts, {"industry": "a"}), "industry")
    b = effect(estimate(counts, {"industry": "b"}), "industry")
    assert math.isfinite(a.log_odds) and math.isfinite(b.log_odds)
    assert math.isclose(a.log_odds, math.log((9 / 10) / (1 / 10)))
    assert math.isclose(b.log_odds, -a.log_odds)


def test_a_larger_alpha_pulls_the_effects_towards_zero():
    counts = industry_history(a_won=6, a_lost=2, b_won=2, b_lost=6)
    weak = effect(estimate(counts, {"industry": "a"}, alpha=5.0), "industry").log_odds
    strong = effect(estimate(counts, {"industry": "a"}, alpha=0.5), "industry").log_odds
    assert 0 < weak < strong


# --- min_support --------------------------------------------------------------------------------


def test_a_value_seen_fewer_times_than_min_support_falls_back_to_the_global_rate():
    counts = industry_history(a_won=4, a_lost=0, b_won=0, b_lost=6)
    result = estimate(counts, {"industry": "a"}, min_support=5)
    assert effect(result, "industry").log_odds == 0.0
    assert effect(result, "industry").reason == "industry a: 4 deal(s), too few: global rate"
    assert result.probability == round(sigmoid(result.prior_log_odds), 4)


def test_a_value_seen_min_support_times_contributes():
    counts = industry_history(a_won=5, a_lost=0, b_won=0, b_lost=6)
    result = estimate(counts, {"industry": "a"}, min_support=5)
    assert effect(result, "industry").log_odds > 0
    assert effect(result, "industry").reason.startswith("industry a: 5 won, 0 lost (+")
    assert result.probability > round(sigmoid(result.prior_log_odds), 4)


def test_min_support_counts_wins_and_losses_together():
    counts = industry_history(a_won=3, a_lost=2, b_won=0, b_lost=6)
    assert effect(estimate(counts, {"industry": "a"}, min_support=5), "industry").log_odds != 0.0
    assert effect(estimate(counts, {"industry": "a"}, min_support=6), "industry").log_odds == 0.0


def test_min_support_applies_to_each_value_on_its_own():
    counts = history(
        *[({"industry": "a", "region": "east"}, "won")] * 5,
        *[({"industry": "b", "region": "west"}, "lost")] * 3,
        *[({"industry": "b", "region": "north"}, "lost")] * 3,
    )
    result = estimate(counts, {"industry": "b", "region": "west"}, min_support=5)
    assert effect(result, "industry").log_odds < 0  # industry b: 6 deals
    assert effect(result, "region").log_odds == 0.0  # region west: 3 deals
    assert effect(result, "region").reason == "region west: 3 deal(s), too few: global rate"


def test_a_value_never_seen_contributes_nothing():
    counts = industry_history(a_won=10, a_lost=0, b_won=0, b_lost=10)
    result = estimate(counts, {"industry": "c"}, min_support=1)
    assert effect(result, "industry").log_odds == 0.0
    assert effect(result, "industry").reason == "industry c: 0 deal(s), too few: global rate"


# --- effects ------------------------------------------------------------------------------------


def test_a_value_winning_above_the_global_rate_raises_the_probability_with_positive_log_odds():
    counts = industry_history(a_won=8, a_lost=2, b_won=2, b_lost=8)
    result = estimate(counts, {"industry": "a"})
    assert effect(result, "industry").log_odds > 0
    assert result.probability > round(sigmoid(result.prior_log_odds), 4) == 0.5


def test_a_value_losing_above_the_global_rate_lowers_the_probability_with_negative_log_odds():
    counts = industry_history(a_won=8, a_lost=2, b_won=2, b_lost=8)
    result = estimate(counts, {"industry": "b"})
    assert effect(result, "industry").log_odds < 0
    assert result.probability < 0.5


def test_a_value_winning_at_the_global_rate_contributes_nothing():
    counts = industry_history(a_won=5, a_lost=5, b_won=5, b_lost=5)
    result = estimate(counts, {"industry": "a"})
    assert math.isclose(effect(result, "industry").log_odds, 0.0, abs_tol=1e-12)
    assert result.probability == 0.5


def test_the_log_odds_of_a_value_is_naive_bayes_with_laplace_smoothing():
    counts = industry_history(
        a_won=5, a_lost=1, b_won=1, b_lost=3
    )  # 6 won, 4 lost; 2 industries seen
    result = estimate(counts, {"industry": "a"}, alpha=1.0, min_support=5)
    p_won, p_lost = (5 + 1) / (6 + 2), (1 + 1) / (4 + 2)
    assert math.isclose(effect(result, "industry").log_odds, math.log(p_won / p_lost))
    assert math.isclose(result.prior_log_odds, math.log(7 / 5))
    assert effect(result, "industry").reason == "industry a: 5 won, 1 lost (+0.81 log-odds)"


def test_a_losing_values_reason_shows_a_negative_sign():
    counts = industry_history(a_won=1, a_lost=5, b_won=3, b_lost=1)
    assert (
        effect(estimate(counts, {"industry": "a"}), "industry").reason
        == "industry a: 1 won, 5 lost (-0.81 log-odds)"
    )


def test_a_won_deal_of_a_similar_customer_raises_the_win_probability():
    counts = history(
        *[(RETAIL_EAST, "won")] * 3,
        *[(RETAIL_EAST, "lost")] * 3,
        *[({"industry": "mining", "region": "west"}, "lost")] * 4,
    )
    before = estimate(counts, RETAIL_EAST)
    after = estimate(learn(counts, RETAIL_EAST, "won"), RETAIL_EAST)
    assert after.probability > before.probability


def test_a_lost_deal_of_a_similar_customer_lowers_the_win_probability():
    counts = history(
        *[(RETAIL_EAST, "won")] * 3,
        *[(RETAIL_EAST, "lost")] * 3,
        *[({"industry": "mining", "region": "west"}, "won")] * 4,
    )
    before = estimate(counts, RETAIL_EAST)
    after = estimate(learn(counts, RETAIL_EAST, "lost"), RETAIL_EAST)
    assert after.probability < before.probability


# --- the sums -----------------------------------------------------------------------------------


def random_counts(rng: random.Random) -> WinCounts:
    counts = WinCounts()
    for _ in range(rng.randint(0, 80)):
        segment = {
            name: rng.choice(values)
            for name, values in (
                ("industry", ["retail", "mining", "cold chain"]),
                ("region", ["east", "west"]),
                ("size", ["large", "small"]),
                ("freight_band", ["under 50t", "1000t+"]),
            )
            if rng.random() < 0.85
        }
        counts = learn(counts, segment, "won" if rng.random() < 0.4 else "lost")
    return counts


def test_the_prior_and_the_effects_add_up_to_the_log_odds_and_the_probability_is_its_sigmoid():
    rng = random.Random(2026)
    for _ in range(400):
        counts = random_counts(rng)
        segment = {
            name: rng.choice(values)
            for name, values in (
                ("industry", ["retail", "mining", "aerospace"]),
                ("region", ["east", "west"]),
                ("size", ["large", "small"]),
                ("freight_band", ["under 50t", "1000t+"]),
            )
            if rng.random() < 0.8
        }
        result = estimate(
            counts, segment, alpha=rng.choice([0.5, 1.0, 2.0]), min_support=rng.randint(1, 8)
        )
        total = result.prior_log_odds + sum(e.log_odds for e in result.effects)
        assert math.isclose(total, result.log_odds, abs_tol=1e-12)
        assert result.probability == round(sigmoid(result.log_odds), 4)
        assert 0.0 <= result.probability <= 1.0
        assert [e.feature for e in result.effects] == sorted(segment)
        assert [e.value for e in result.effects] == [segment[name] for name in sorted(segment)]


def test_the_log_odds_of_an_estimate_is_its_prior_plus_its_effects():
    counts = industry_history(a_won=8, a_lost=2, b_won=2, b_lost=8)
    result = estimate(
        learn(counts, {"industry": "a", "region": "east"}, "won"),
        {"industry": "a", "region": "east"},
        min_support=1,
    )
    assert len(result.effects) == 2
    assert math.isclose(
        result.prior_log_odds + sum(e.log_odds for e in result.effects), result.log_odds
    )
    assert result.probability == round(sigmoid(result.log_odds), 4)


# --- learning -----------------------------------------------------------------------------------


def test_learn_counts_the_deal_globally_and_under_each_value():
    counts = learn(WinCounts(), RETAIL_EAST, "won")
    counts = learn(counts, {"industry": "retail"}, "lost")
    assert dict(counts.by_key) == {
        GLOBAL: (1, 1),
        "industry=retail": (1, 1),
        "region=east": (1, 0),
        "size=large": (1, 0),
    }
    assert (counts.won, counts.lost) == (1, 1)


def test_learn_returns_new_counts_and_leaves_the_old_ones_alone():
    before = learn(WinCounts(), RETAIL_EAST, "won")
    snapshot = dict(before.by_key)
    after = learn(before, RETAIL_EAST, "lost")
    assert dict(before.by_key) == snapshot
    assert after != before
    assert after.lost == 1


def test_learning_is_incremental_a_then_b_equals_b_then_a():
    a, b = (RETAIL_EAST, "won"), ({"industry": "mining", "region": "west"}, "lost")
    assert learn(learn(WinCounts(), *a), *b) == learn(learn(WinCounts(), *b), *a)


def test_learning_a_history_in_any_order_gives_the_same_counts_and_estimates():
    rng = random.Random(11)
    deals = [
        (
            {"industry": rng.choice(["retail", "mining"]), "size": rng.choice(["large", "small"])},
            rng.choice(["won", "lost"]),
        )
        for _ in range(40)
    ]
    shuffled = deals[:]
    rng.shuffle(shuffled)
    assert history(*deals) == history(*shuffled)
    assert estimate(history(*deals), RETAIL_EAST, min_support=2) == estimate(
        history(*shuffled), RETAIL_EAST, min_support=2
    )


def test_a_lost_deal_counts_one_loss_and_no_win():
    assert learn(WinCounts(), {"industry": "retail"}, "lost").by_key == {
        GLOBAL: (0, 1),
        "industry=retail": (0, 1),
    }


def test_empty_counts_have_no_wins_no_losses_and_no_values():
    counts = WinCounts()
    assert (counts.won, counts.lost, counts.values_seen("industry")) == (0, 0, 0)


def test_values_seen_counts_the_distinct_values_of_a_feature():
    counts = history(
        ({"industry": "a", "size": "large"}, "won"),
        ({"industry": "b"}, "lost"),
        ({"industry": "a"}, "lost"),
        ({"industry": "c"}, "won"),
    )
    assert counts.values_seen("industry") == 3
    assert counts.values_seen("size") == 1
    assert counts.values_seen("region") == 0


# --- keys_for -----------------------------------------------------------------------------------


def test_keys_for_is_the_global_counter_then_feature_value_pairs_sorted():
    assert keys_for({"size": "large", "industry": "retail", "freight_band": "1000t+"}) == [
        GLOBAL,
        "freight_band=1000t+",
        "industry=retail",
        "size=large",
    ]


def test_keys_for_an_empty_segment_is_only_the_global_counter():
    assert keys_for({}) == ["*"]


def test_keys_for_does_not_depend_on_the_order_of_the_segment():
    assert keys_for({"region": "east", "industry": "retail"}) == keys_for(
        {"industry": "retail", "region": "east"}
    )


# --- snapshots: recounting and estimating once per segment --------------------------------------


def test_recounting_new_deals_equals_learning_them_one_by_one():
    deals = [(RETAIL_EAST, "won"), ({"industry": "mining"}, "lost"), (RETAIL_EAST, "lost")]
    recounted = recount(WinCounts(), [(outcome, None, keys_for(s)) for s, outcome in deals])
    assert recounted == history(*deals)


def test_a_deal_recounted_under_another_segment_leaves_no_trace_of_the_old_one():
    counts = history((RETAIL_EAST, "won"), ({"industry": "mining"}, "lost"))
    moved = recount(counts, [("won", keys_for(RETAIL_EAST), keys_for({"industry": "mining"}))])
    assert moved == history(({"industry": "mining"}, "won"), ({"industry": "mining"}, "lost"))
    assert moved.values_seen("region") == moved.values_seen("size") == 0


def test_recounts_in_any_order_and_grouping_end_alike():
    rng = random.Random(3)
    segments = [{"industry": rng.choice("abc"), "size": rng.choice("xy")} for _ in range(30)]
    outcomes = [rng.choice(["won", "lost"]) for _ in segments]
    first = [(o, None, keys_for(s)) for s, o in zip(segments, outcomes, strict=True)]
    moved = zip(segments[:10], outcomes[:10], strict=True)
    moves = [(o, keys_for(s), keys_for({"industry": "z"})) for s, o in moved]
    at_once = recount(recount(WinCounts(), first), moves)
    shuffled = first[:]
    rng.shuffle(shuffled)
    in_steps = recount(recount(recount(WinCounts(), shuffled[:12]), shuffled[12:]), moves[::-1])
    assert at_once == in_steps


def test_a_snapshot_estimates_each_segment_once_and_as_estimate_does():
    counts = industry_history(6, 1, 1, 6)
    model = WinModel(3, counts)
    first = model.estimate({"industry": "a"}, 1.0, 5)
    assert model.estimate({"industry": "a"}, 1.0, 5) is first
    assert first == estimate(counts, {"industry": "a"}, 1.0, 5)
    assert model.estimate({"industry": "a"}, 2.0, 5) == estimate(counts, {"industry": "a"}, 2.0, 5)


def test_the_empty_snapshot_is_version_0_with_no_deals():
    assert (WinModel().version, WinModel().counts) == (0, WinCounts())
