"""The value score: every factor of value-v1, whole points that add up to the score, tiers, model
versions. Pure: no I/O."""

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from crm_scoring.domain.features import Features
from crm_scoring.domain.value_model import (
    _apportion,
    _engagement,
    _financial,
    _fit,
    _linear,
    load,
    score,
)

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
FACTORS = (
    "fit.freight_volume",
    "fit.size",
    "fit.nature",
    "fit.industry",
    "fit.region",
    "financial.current_ratio",
    "financial.debt_to_asset_ratio",
    "financial.sales_profit_margin",
    "financial.receivables_turnover",
    "financial.operating_cash_flow",
    "financial.credit",
    "engagement.recency",
    "engagement.frequency",
    "engagement.proposals_open",
    "engagement.stage",
)
FULL_FIT = {
    "monthly_freight_volume_tons": 1200.0,
    "size": "large",
    "nature": "state_owned",
    "industry": "cold chain",
    "region": "east",
}
FULL_RATIOS = {
    "year": 2024,
    "current_ratio": 1.5,
    "debt_to_asset_ratio": 0.4,
    "sales_profit_margin": 0.08,
    "receivables_turnover": 8.0,
    "operating_cash_flow": "12000000.00",
}
CLEAN_CREDIT = {"defaults": 0, "lawsuits": 0}


def contribution(result, factor):
    return next(c for c in result.contributions if c.factor == factor)


def points(result, factor) -> int:
    return contribution(result, factor).points


def followups(*days_before: float, revoked: tuple[int, ...] = (), channel: str = "call") -> dict:
    return {
        f"fu-{i}": {
            "channel": channel,
            "at": (AT - timedelta(days=days)).isoformat(),
            "revoked": i in revoked,
        }
        for i, days in enumerate(days_before)
    }


def assert_alone(features: Features, factor: str, share: float, version: str = "value-v1") -> None:
    """The factor is the only one that scores; its whole points are its share, rounded (either way
    when the share is exactly half a point)."""
    result = score(features, AT, version)
    got = points(result, factor)
    if share % 1 == 0.5:
        assert got in (math.floor(share), math.ceil(share))
    else:
        assert got == round(share)
    assert result.score == got
    assert [c.points for c in result.contributions if c.factor != factor] == [0] * 14


# --- nothing known ------------------------------------------------------------------------------


def test_a_customer_we_know_nothing_about_scores_zero_in_tier_d():
    result = score(Features(), AT)
    assert (result.score, result.tier, result.model_version) == (0, "D", "value-v1")
    assert [c.factor for c in result.contributions] == list(FACTORS)
    assert all(c.points == 0 for c in result.contributions)
    reasons = {c.factor: c.reason for c in result.contributions}
    assert reasons["fit.freight_volume"] == "freight volume unknown"
    assert reasons["fit.size"] == "size unknown"
    assert reasons["financial.current_ratio"] == "current ratio unknown"
    assert reasons["financial.credit"] == "no credit report"
    assert reasons["engagement.recency"] == "no follow-up yet"
    assert reasons["engagement.frequency"] == "0 follow-up(s)"
    assert reasons["engagement.proposals_open"] == "0 proposal(s) open"
    assert reasons["engagement.stage"] == "no opportunity"


def test_a_customer_perfect_on_every_factor_scores_100_in_tier_a():
    features = Features(
        **FULL_FIT,
        ratios=FULL_RATIOS,
        credit=CLEAN_CREDIT,
        followups=followups(*[1] * 6),
        proposals={"pr-1": "open"},
        stage="contract",
        stage_probability=1.0,
    )
    result = score(features, AT)
    assert (result.score, result.tier) == (100, "A")
    assert sum(c.points for c in result.contributions) == 100


# --- fit ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tons", "share"),
    [
        (None, 0.0),
        (0.0, 2.5),
        (49.9, 2.5),
        (50.0, 7.5),
        (199.9, 7.5),
        (200.0, 13.75),
        (499.9, 13.75),
        (500.0, 20.0),
        (999.9, 20.0),
        (1000.0, 25.0),
        (50_000.0, 25.0),
    ],
)
def test_freight_volume_scores_by_band(tons, share):
    assert_alone(Features(monthly_freight_volume_tons=tons), "fit.freight_volume", share)


def test_freight_volume_points_grow_with_the_band():
    scored = [
        points(score(Features(monthly_freight_volume_tons=t), AT), "fit.freight_volume")
        for t in (0, 50, 200, 500, 1000)
    ]
    assert scored == sorted(scored) and len(set(scored)) == 5


def test_freight_volume_reason_names_the_volume():
    assert (
        contribution(
            score(Features(monthly_freight_volume_tons=1200.0), AT), "fit.freight_volume"
        ).reason
        == "freight volume 1200 t/month"
    )
    assert (
        contribution(
            score(Features(monthly_freight_volume_tons=42.5), AT), "fit.freight_volume"
        ).reason
        == "freight volume 42.5 t/month"
    )


@pytest.mark.parametrize(
    ("size", "share"),
    [
        ("large", 10.0),
        ("medium", 6.5),
        ("small", 3.5),
        ("micro", 1.5),
        (" Large ", 10.0),
        ("MEDIUM", 6.5),
        ("enormous", 0.0),
        (None, 0.0),
    ],
)
def test_size_scores_bigger_companies_higher_and_an_unknown_size_zero(size, share):
    assert_alone(Features(size=size), "fit.size", share)


def test_size_points_order_large_medium_small_micro():
    scored = [
        points(score(Features(size=s), AT), "fit.size")
        for s in ("large", "medium", "small", "micro")
    ]
    assert scored == sorted(scored, reverse=True) and scored[0] == 10 and scored[-1] > 0


@pytest.mark.parametrize(
    ("nature", "share"),
    [
        ("state_owned", 7.5),
        ("listed_company", 7.5),
        ("group_company", 6.75),
        ("joint_venture_or_foreign", 6.375),
        ("finance_company", 4.5),
        ("private_enterprise", 4.5),
        ("investment_company", 3.75),
        ("public_institution", 3.75),
        ("ordinary_company", 3.375),
        ("other", 2.25),
        ("State_Owned", 7.5),
        ("cooperative", 0.0),
        (None, 0.0),
    ],
)
def test_nature_scores_from_its_table(nature, share):
    assert_alone(Features(nature=nature), "fit.nature", share)


@pytest.mark.parametrize(
    ("industry", "share"),
    [
        ("cold chain", 5.0),
        ("automotive", 4.5),
        ("electronics", 4.25),
        ("chemicals", 4.0),
        ("retail", 3.75),
        ("mining", 3.5),
        ("textiles", 3.0),
        ("  Cold Chain ", 5.0),
        ("ELECTRONICS", 4.25),
    ],
)
def test_industry_scores_from_its_table(industry, share):
    assert_alone(Features(industry=industry), "fit.industry", share)


@pytest.mark.parametrize("industry", ["shipbuilding", "agriculture", "Pharma"])
def test_an_industry_not_in_the_table_gets_the_default(industry):
    result = score(Features(industry=industry), AT)
    assert points(result, "fit.industry") in (2, 3)  # the default 0.5 of 5 points: 2.5
    assert contribution(result, "fit.industry").reason == f"industry {industry}"
    assert points(result, "fit.industry") == points(
        score(Features(industry="shipbuilding"), AT), "fit.industry"
    )
    assert points(result, "fit.industry") < points(
        score(Features(industry="textiles"), AT), "fit.industry"
    )


def test_an_unknown_industry_scores_nothing_unlike_an_unlisted_one():
    assert points(score(Features(), AT), "fit.industry") == 0
    assert contribution(score(Features(), AT), "fit.industry").reason == "industry unknown"
    assert points(score(Features(industry="shipbuilding"), AT), "fit.industry") > 0


@pytest.mark.parametrize(
    ("region", "share"),
    [
        ("east", 2.5),
        ("south", 2.25),
        ("north", 2.0),
        ("central", 1.75),
        ("west", 1.5),
        ("overseas", 1.25),
        ("North", 2.0),
        (None, 0.0),
    ],
)
def test_region_scores_from_its_table_with_a_default_for_unlisted_regions(region, share):
    assert_alone(Features(region=region), "fit.region", share)


def test_fit_shares_are_the_table_values():
    config = load("value-v1")["fit"]
    rows = {
        name: (weight, value)
        for name, weight, value, _ in _fit(
            Features(
                monthly_freight_volume_tons=300.0,
                size="small",
                nature="group_company",
                industry="Aerospace",
                region="mars",
            ),
            config,
        )
    }
    assert rows == {
        "freight_volume": (0.5, 0.55),
        "size": (0.2, 0.35),
        "nature": (0.15, 0.9),
        "industry": (0.1, 0.5),
        "region": (0.05, 0.5),
    }


def test_a_full_fit_is_worth_half_the_score():
    result = score(Features(**FULL_FIT), AT)
    assert result.score == 50
    assert sum(c.points for c in result.contributions if c.factor.startswith("fit.")) == 50


# --- financial ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "share"),
    [(None, 0.0), (0.3, 0.0), (0.8, 0.0), (1.15, 3.125), (1.325, 4.6875), (1.5, 6.25), (4.0, 6.25)],
)
def test_current_ratio_is_linear_from_0_8_to_1_5(value, share):
    assert_alone(
        Features(ratios={"year": 2024, "current_ratio": value}), "financial.current_ratio", share
    )


@pytest.mark.parametrize(
    ("value", "share"),
    [(None, 0.0), (1.3, 0.0), (0.9, 0.0), (0.775, 1.25), (0.525, 3.75), (0.4, 5.0), (0.05, 5.0)],
)
def test_debt_to_asset_ratio_is_linear_downwards_from_0_9_to_0_4(value, share):
    assert_alone(
        Features(ratios={"year": 2024, "debt_to_asset_ratio": value}),
        "financial.debt_to_asset_ratio",
        share,
    )


@pytest.mark.parametrize(
    ("value", "share"),
    [(None, 0.0), (-0.12, 0.0), (0.0, 0.0), (0.02, 1.25), (0.06, 3.75), (0.08, 5.0), (0.35, 5.0)],
)
def test_sales_profit_margin_is_linear_from_0_to_8_percent(value, share):
    assert_alone(
        Features(ratios={"year": 2024, "sales_profit_margin": value}),
        "financial.sales_profit_margin",
        share,
    )


@pytest.mark.parametrize(
    ("value", "share"),
    [(None, 0.0), (0.5, 0.0), (2.0, 0.0), (5.0, 1.25), (6.5, 1.875), (8.0, 2.5), (30.0, 2.5)],
)
def test_receivables_turnover_is_linear_from_2_to_8(value, share):
    assert_alone(
        Features(ratios={"year": 2024, "receivables_turnover": value}),
        "financial.receivables_turnover",
        share,
    )


@pytest.mark.parametrize(
    ("value", "share"),
    [
        (None, 0.0),
        ("-2500000.00", 0.0),
        ("0.00", 0.0),
        (0.005, 1.25),
        (0.0075, 1.875),
        ("12000000.00", 2.5),
    ],
)
def test_operating_cash_flow_scores_when_positive(value, share):
    assert_alone(
        Features(ratios={"year": 2024, "operating_cash_flow": value}),
        "financial.operating_cash_flow",
        share,
    )


def test_a_ratio_reason_names_the_ratio_and_its_value():
    result = score(
        Features(
            ratios={"year": 2024, "current_ratio": 1.15, "operating_cash_flow": "-2500000.00"}
        ),
        AT,
    )
    assert contribution(result, "financial.current_ratio").reason == "current ratio 1.15"
    assert (
        contribution(result, "financial.operating_cash_flow").reason
        == "operating cash flow -2.5e+06"
    )
    assert (
        contribution(result, "financial.debt_to_asset_ratio").reason
        == "debt to asset ratio unknown"
    )


def test_full_financials_and_a_clean_credit_report_are_worth_a_quarter_of_the_score():
    result = score(Features(ratios=FULL_RATIOS, credit=CLEAN_CREDIT), AT)
    assert result.score == 25
    assert sum(c.points for c in result.contributions if c.factor.startswith("financial.")) == 25


@pytest.mark.parametrize(
    ("credit", "share", "reason"),
    [
        ({"defaults": 0, "lawsuits": 0}, 3.75, "0 default(s), 0 lawsuit(s)"),
        ({}, 3.75, "0 default(s), 0 lawsuit(s)"),
        (
            {"defaults": None, "lawsuits": None, "guarantees": "0.00"},
            3.75,
            "0 default(s), 0 lawsuit(s)",
        ),
        ({"defaults": 1, "lawsuits": 0}, 1.875, "1 default(s), 0 lawsuit(s)"),
        ({"defaults": 2}, 0.0, "2 default(s), 0 lawsuit(s)"),
        ({"defaults": 7}, 0.0, "7 default(s), 0 lawsuit(s)"),
        ({"lawsuits": 1}, 3.0, "0 default(s), 1 lawsuit(s)"),
        ({"lawsuits": 2}, 2.25, "0 default(s), 2 lawsuit(s)"),
        ({"lawsuits": 5}, 0.0, "0 default(s), 5 lawsuit(s)"),
        ({"defaults": 1, "lawsuits": 1}, 1.125, "1 default(s), 1 lawsuit(s)"),
        ({"defaults": 1, "lawsuits": 4}, 0.0, "1 default(s), 4 lawsuit(s)"),
    ],
)
def test_credit_loses_half_per_default_and_a_fifth_per_lawsuit(credit, share, reason):
    features = Features(credit=credit)
    assert_alone(features, "financial.credit", share)
    assert contribution(score(features, AT), "financial.credit").reason == reason


def test_no_credit_report_scores_nothing_and_says_so():
    result = score(Features(credit=None), AT)
    assert points(result, "financial.credit") == 0
    assert contribution(result, "financial.credit").reason == "no credit report"


def test_a_clean_credit_report_beats_none_and_one_with_defaults():
    clean = points(score(Features(credit=CLEAN_CREDIT), AT), "financial.credit")
    with_default = points(score(Features(credit={"defaults": 1}), AT), "financial.credit")
    assert clean > with_default > points(score(Features(), AT), "financial.credit")


# --- _linear ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "zero_at", "full_at", "expected"),
    [
        (None, 0.0, 1.0, 0.0),
        (-1.0, 0.0, 1.0, 0.0),
        (0.0, 0.0, 1.0, 0.0),
        (0.25, 0.0, 1.0, 0.25),
        (1.0, 0.0, 1.0, 1.0),
        (5.0, 0.0, 1.0, 1.0),
        (1.0, 0.9, 0.4, 0.0),
        (0.9, 0.9, 0.4, 0.0),
        (0.65, 0.9, 0.4, 0.5),
        (0.4, 0.9, 0.4, 1.0),
        (0.0, 0.9, 0.4, 1.0),
        (67.0, 120, 14, 0.5),
        (14, 120, 14, 1.0),
        (0, 120, 14, 1.0),
        (120, 120, 14, 0.0),
        (400, 120, 14, 0.0),
        (2.0, 2.0, 2.0, 1.0),
        (1.9, 2.0, 2.0, 0.0),
    ],
)
def test_linear_runs_from_zero_at_to_full_at_either_way_clipped(value, zero_at, full_at, expected):
    assert math.isclose(_linear(value, zero_at, full_at), expected, abs_tol=1e-12)


# --- engagement ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0.0, 10),
        (1.0, 10),
        (14.0, 10),
        (35.2, 8),
        (67.0, 5),
        (98.8, 2),
        (120.0, 0),
        (121.0, 0),
        (400.0, 0),
    ],
)
def test_recency_is_full_within_14_days_zero_after_120_and_linear_between(days, expected):
    # one follow-up, so frequency adds its 1/6 of 7.5 points (1.25) beside recency
    result = score(Features(followups=followups(days)), AT)
    assert points(result, "engagement.recency") == expected
    assert points(result, "engagement.frequency") == 1
    assert result.score == expected + 1


def test_recency_shares_are_exact_fractions():
    config = load("value-v1")["engagement"]
    for days, fraction in ((10, 1.0), (14, 1.0), (67, 0.5), (93.5, 0.25), (120, 0.0), (200, 0.0)):
        rows = {
            name: value
            for name, _, value, _ in _engagement(Features(followups=followups(days)), config, AT)
        }
        assert math.isclose(rows["recency"], fraction, abs_tol=1e-12), days


def test_recency_counts_from_the_latest_active_follow_up():
    result = score(Features(followups=followups(100, 3, 60)), AT)
    assert points(result, "engagement.recency") == 10
    assert contribution(result, "engagement.recency").reason == "last follow-up 3 day(s) before"


def test_a_revoked_follow_up_does_not_count_for_recency():
    with_revoked = score(Features(followups=followups(100, 1, revoked=(1,))), AT)
    without = score(Features(followups=followups(100)), AT)
    assert points(with_revoked, "engagement.recency") == points(without, "engagement.recency") < 10
    assert (
        contribution(with_revoked, "engagement.recency").reason
        == "last follow-up 100 day(s) before"
    )


def test_a_follow_up_dated_after_the_scoring_time_counts_as_today():
    result = score(Features(followups=followups(-3)), AT)
    assert points(result, "engagement.recency") == 10
    assert contribution(result, "engagement.recency").reason == "last follow-up 0 day(s) before"


def test_only_revoked_follow_ups_count_as_no_follow_up():
    result = score(Features(followups=followups(1, 2, revoked=(0, 1))), AT)
    assert points(result, "engagement.recency") == points(result, "engagement.frequency") == 0
    assert contribution(result, "engagement.recency").reason == "no follow-up yet"
    assert contribution(result, "engagement.frequency").reason == "0 follow-up(s)"


@pytest.mark.parametrize(
    ("count", "share"), [(0, 0.0), (1, 1.25), (2, 2.5), (3, 3.75), (4, 5.0), (5, 6.25), (6, 7.5)]
)
def test_frequency_grows_with_each_active_follow_up_up_to_six(count, share):
    # follow-ups older than 120 days: recency gives nothing, frequency alone scores
    assert_alone(Features(followups=followups(*[200] * count)), "engagement.frequency", share)


def test_frequency_is_capped_at_six_follow_ups():
    six = score(Features(followups=followups(*[200] * 6)), AT)
    twelve = score(Features(followups=followups(*[200] * 12)), AT)
    assert points(six, "engagement.frequency") == points(twelve, "engagement.frequency") in (7, 8)
    assert contribution(twelve, "engagement.frequency").reason == "12 follow-up(s) by call"


def test_revoked_follow_ups_do_not_count_for_frequency():
    result = score(Features(followups=followups(*[200] * 6, revoked=(0, 1))), AT)
    assert points(result, "engagement.frequency") == 5
    assert contribution(result, "engagement.frequency").reason == "4 follow-up(s) by call"


def test_frequency_reason_lists_the_channels_sorted_once_each():
    features = Features(
        followups={
            **followups(200, 200, channel="visit"),
            "fu-x": {"channel": "call", "at": AT.isoformat(), "revoked": False},
            "fu-y": {"channel": "email", "at": AT.isoformat(), "revoked": True},
        }
    )
    assert (
        contribution(score(features, AT), "engagement.frequency").reason
        == "3 follow-up(s) by call, visit"
    )


def test_an_open_proposal_scores_and_a_decided_one_does_not():
    opened = score(Features(proposals={"pr-1": "open"}), AT)
    assert points(opened, "engagement.proposals_open") in (2, 3)  # a tenth of 25 points: 2.5
    assert opened.score == points(opened, "engagement.proposals_open")
    assert contribution(opened, "engagement.proposals_open").reason == "1 proposal(s) open"
    decided = score(
        Features(proposals={"pr-1": "accepted", "pr-2": "rejected", "pr-3": "withdrawn"}), AT
    )
    assert points(decided, "engagement.proposals_open") == 0
    assert contribution(decided, "engagement.proposals_open").reason == "0 proposal(s) open"


def test_several_open_proposals_score_as_one():
    one = score(Features(proposals={"pr-1": "open"}), AT)
    three = score(
        Features(proposals={"pr-1": "open", "pr-2": "open", "pr-3": "open", "pr-4": "accepted"}), AT
    )
    assert points(three, "engagement.proposals_open") == points(one, "engagement.proposals_open")
    assert contribution(three, "engagement.proposals_open").reason == "3 proposal(s) open"


@pytest.mark.parametrize(
    ("probability", "share"),
    [(None, 0.0), (0.0, 0.0), (0.25, 1.25), (0.6, 3.0), (0.75, 3.75), (0.8, 4.0), (1.0, 5.0)],
)
def test_stage_scores_its_win_probability(probability, share):
    features = Features(
        stage=None if probability is None else "negotiation", stage_probability=probability
    )
    assert_alone(features, "engagement.stage", share)


def test_stage_reason_names_the_stage():
    assert (
        contribution(
            score(Features(stage="proposal", stage_probability=0.5), AT), "engagement.stage"
        ).reason
        == "stage proposal"
    )


def test_full_engagement_is_worth_a_quarter_of_the_score():
    features = Features(
        followups=followups(*[2] * 6),
        proposals={"pr-1": "open"},
        stage="contract",
        stage_probability=1.0,
    )
    result = score(features, AT)
    assert result.score == 25
    assert [
        points(result, f)
        for f in (
            "engagement.recency",
            "engagement.frequency",
            "engagement.proposals_open",
            "engagement.stage",
        )
    ] in ([10, 8, 2, 5], [10, 7, 3, 5])


def test_the_score_depends_on_the_time_given_not_the_clock():
    features = Features(**FULL_FIT, followups=followups(10))
    assert score(features, AT) == score(features, AT)
    later = score(features, AT + timedelta(days=60))
    assert points(later, "engagement.recency") < points(score(features, AT), "engagement.recency")


# --- whole points add up ------------------------------------------------------------------------


def random_features(rng: random.Random) -> Features:
    def maybe(values):
        return rng.choice([None, *values])

    ratio_names = (
        "current_ratio",
        "debt_to_asset_ratio",
        "sales_profit_margin",
        "receivables_turnover",
    )
    ratios = (
        None
        if rng.random() < 0.3
        else {
            "year": 2024,
            **{
                name: maybe([round(rng.uniform(-1, 10), rng.randint(0, 4))]) for name in ratio_names
            },
            "operating_cash_flow": maybe(
                [f"{rng.uniform(-1e6, 1e6):.2f}", rng.uniform(-0.02, 0.02)]
            ),
        }
    )
    credit = (
        None
        if rng.random() < 0.3
        else {"defaults": maybe([rng.randint(0, 3)]), "lawsuits": maybe([rng.randint(0, 6)])}
    )
    statuses = ("open", "accepted", "rejected", "withdrawn")
    return Features(
        monthly_freight_volume_tons=maybe(
            [round(rng.uniform(0, 2000), rng.randint(0, 2)), 0.0, 50.0, 200.0]
        ),
        size=maybe(["large", "medium", "small", "micro", "Huge"]),
        nature=maybe(
            ["state_owned", "group_company", "finance_company", "ordinary_company", "other"]
        ),
        industry=maybe(["cold chain", "Automotive", "retail", "mining", "aerospace", " textiles "]),
        region=maybe(["east", "West", "north", "central", "south", "abroad"]),
        ratios=ratios,
        credit=credit,
        followups={
            f"fu-{i}": {
                "channel": rng.choice(["call", "visit", "email"]),
                "at": (AT - timedelta(days=rng.uniform(-5, 200))).isoformat(),
                "revoked": rng.random() < 0.2,
            }
            for i in range(rng.randint(0, 9))
        },
        proposals={f"pr-{i}": rng.choice(statuses) for i in range(rng.randint(0, 3))},
        stage=maybe(["qualified", "proposal"]),
        stage_probability=maybe([round(rng.random(), rng.randint(1, 3))]),
    )


def shares(features: Features, version: str) -> list[float]:
    config = load(version)
    rows = [config["groups"]["fit"] * w * v for _, w, v, _ in _fit(features, config["fit"])]
    rows += [
        config["groups"]["financial"] * w * v
        for _, w, v, _ in _financial(features, config["financial"])
    ]
    rows += [
        config["groups"]["engagement"] * w * v
        for _, w, v, _ in _engagement(features, config["engagement"], AT)
    ]
    return rows


@pytest.mark.parametrize("version", ["value-v1", "value-v2"])
def test_contributions_always_add_up_exactly_to_the_score(version):
    rng = random.Random(20261130)
    seen_scores = set()
    for _ in range(1500):
        features = random_features(rng)
        result = score(features, AT, version)
        assert sum(c.points for c in result.contributions) == result.score, features
        assert 0 <= result.score <= 100
        assert [c.factor for c in result.contributions] == list(FACTORS)
        assert all(isinstance(c.points, int) and c.points >= 0 for c in result.contributions)
        seen_scores.add(result.score)
    assert len(seen_scores) > 30  # the generated customers are varied enough to mean something


@pytest.mark.parametrize("version", ["value-v1", "value-v2"])
def test_each_factor_gets_its_share_rounded_down_or_up_and_the_score_is_the_rounded_total(version):
    rng = random.Random(7)
    for _ in range(1000):
        features = random_features(rng)
        result = score(features, AT, version)
        expected = shares(features, version)
        assert result.score == round(sum(expected))
        for c, share in zip(result.contributions, expected, strict=True):
            assert math.floor(share) <= c.points <= math.floor(share) + 1, (c, share)


def test_apportion_gives_the_spare_points_to_the_largest_remainders():
    assert _apportion([1.2, 2.7, 3.6, 0.5]) == [
        1,
        3,
        4,
        0,
    ]  # total 8: 1+2+3+0 = 6, spares to .7 and .6
    assert _apportion([0.4, 0.4, 0.4]) == [1, 0, 0]  # total 1: the first of equal remainders
    assert _apportion([5.0, 3.0]) == [5, 3]
    assert _apportion([]) == []


def test_apportion_adds_up_to_the_rounded_total_for_random_shares():
    rng = random.Random(42)
    for _ in range(2000):
        shares_ = [rng.uniform(0, 30) for _ in range(rng.randint(1, 15))]
        whole = _apportion(shares_)
        assert sum(whole) == round(sum(shares_))
        assert all(
            math.floor(s) <= w <= math.floor(s) + 1 for s, w in zip(shares_, whole, strict=True)
        )
        raised = [
            s - math.floor(s) for s, w in zip(shares_, whole, strict=True) if w > math.floor(s)
        ]
        kept = [
            s - math.floor(s) for s, w in zip(shares_, whole, strict=True) if w == math.floor(s)
        ]
        assert not raised or not kept or min(raised) >= max(kept)


# --- tiers --------------------------------------------------------------------------------------

TIER_CASES = [
    pytest.param(Features(), 0, "D", id="0-D"),
    pytest.param(
        Features(monthly_freight_volume_tons=500.0, industry="chemicals"), 24, "D", id="24-D"
    ),
    pytest.param(Features(monthly_freight_volume_tons=1000.0), 25, "C", id="25-C"),
    pytest.param(Features(**{**FULL_FIT, "industry": "chemicals"}), 49, "C", id="49-C"),
    pytest.param(Features(**FULL_FIT), 50, "B", id="50-B"),
    pytest.param(
        Features(**{**FULL_FIT, "industry": "chemicals"}, ratios=FULL_RATIOS, credit=CLEAN_CREDIT),
        74,
        "B",
        id="74-B",
    ),
    pytest.param(Features(**FULL_FIT, ratios=FULL_RATIOS, credit=CLEAN_CREDIT), 75, "A", id="75-A"),
]


@pytest.mark.parametrize(("features", "expected_score", "tier"), TIER_CASES)
def test_tiers_start_at_75_50_and_25(features, expected_score, tier):
    result = score(features, AT)
    assert (result.score, result.tier) == (expected_score, tier)


def test_the_tier_always_follows_the_score():
    rng = random.Random(3)
    for _ in range(500):
        result = score(random_features(rng), AT)
        expected = (
            "A"
            if result.score >= 75
            else "B"
            if result.score >= 50
            else "C"
            if result.score >= 25
            else "D"
        )
        assert result.tier == expected


# --- model versions -----------------------------------------------------------------------------


def test_an_unknown_model_version_is_a_clear_error_naming_the_known_models():
    with pytest.raises(ValueError, match="no model 'value-v9'") as raised:
        score(Features(), AT, "value-v9")
    assert "known models are value-v1, value-v2" in str(raised.value)


def test_a_model_is_loaded_once():
    assert load("value-v1") is load("value-v1")
    assert load("value-v1")["version"] == "value-v1"
    assert load("value-v1")["tiers"] == [[75, "A"], [50, "B"], [25, "C"], [0, "D"]]


@pytest.mark.parametrize("version", ["value-v1", "value-v2"])
def test_each_model_weighs_its_groups_to_100_and_each_groups_factors_to_1(version):
    config = load(version)
    assert sum(config["groups"].values()) == 100
    for group, factors in (
        ("fit", ("freight_volume", "size", "nature", "industry", "region")),
        (
            "financial",
            (
                "current_ratio",
                "debt_to_asset_ratio",
                "sales_profit_margin",
                "receivables_turnover",
                "operating_cash_flow",
                "credit",
            ),
        ),
        ("engagement", ("recency", "frequency", "proposals_open", "stage")),
    ):
        assert math.isclose(sum(config[group][f]["weight"] for f in factors), 1.0)


def test_value_v2_scores_an_engaged_customer_higher_than_value_v1():
    engaged = Features(
        monthly_freight_volume_tons=120.0,
        size="small",
        followups=followups(2, 9, 20, 30),
        proposals={"pr-1": "open"},
        stage="negotiation",
        stage_probability=0.75,
    )
    v1, v2 = score(engaged, AT, "value-v1"), score(engaged, AT, "value-v2")
    assert (v1.model_version, v2.model_version) == ("value-v1", "value-v2")
    assert v2.score > v1.score
    engagement = [
        sum(c.points for c in r.contributions if c.factor.startswith("engagement."))
        for r in (v1, v2)
    ]
    assert engagement[1] > engagement[0]
    assert sum(c.points for c in v2.contributions) == v2.score


def test_value_v2_scores_a_customer_known_only_by_fit_lower_than_value_v1():
    fit_only = Features(**FULL_FIT)
    assert (score(fit_only, AT, "value-v1").score, score(fit_only, AT, "value-v2").score) == (
        50,
        40,
    )


def test_value_v3_weighs_engagement_with_the_open_pipeline_and_its_lines():
    engagement = load("value-v3")["engagement"]
    assert math.isclose(sum(factor["weight"] for factor in engagement.values()), 1.0)
    opportunities = {
        "op-1": {"closed": False, "amount": 600_000.0, "currency": "CNY", "lines": 2},
        "op-2": {"closed": False, "amount": 9e9, "currency": "USD", "lines": 1},
        "op-3": {"closed": True, "amount": 9e9, "currency": "CNY", "lines": 5},
    }
    busy = Features(followups=followups(2, 9), opportunities=opportunities)
    quiet = Features(followups=followups(2, 9))
    found = {c.factor: c for c in score(busy, AT, "value-v3").contributions}
    assert found["engagement.pipeline_value"].reason == "600,000 CNY open"
    assert found["engagement.lines_in_flight"].reason == "3 service line(s) in open opportunities"
    # 25 points of engagement: 0.1 of them for 0.6 of the pipeline's full value, 0.1 for 3 of 4.
    assert (
        found["engagement.pipeline_value"].points + found["engagement.lines_in_flight"].points == 3
    )
    assert score(busy, AT, "value-v3").score > score(quiet, AT, "value-v3").score
    assert score(busy, AT, "value-v1") == score(quiet, AT, "value-v1")  # v1 never weighs them
    result = score(busy, AT, "value-v3")
    assert sum(c.points for c in result.contributions) == result.score
