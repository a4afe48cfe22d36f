import pytest

from crm_contracts import Tier
from crm_scoring.domain import Signals, assess


def test_a_customer_we_know_nothing_about_is_tier_d_and_says_so():
    assessment = assess(Signals())
    assert (assessment.score, assessment.tier) == (0, Tier.D)
    assert assessment.reasons == ["no signals yet"]
    assert assessment.win_probability == 0.05


def test_freight_volume_counts_a_point_per_25_tons_up_to_40():
    assert assess(Signals(monthly_freight_volume_tons=250)).score == 10
    assert assess(Signals(monthly_freight_volume_tons=99_999)).score == 40


@pytest.mark.parametrize(("size", "points"), [("large", 15), ("medium", 10), ("small", 5), ("micro", 2)])
def test_bigger_companies_score_higher(size, points):
    assert assess(Signals(size=size)).score == points


def test_state_owned_listed_and_group_companies_count_double_of_other_natures():
    assert assess(Signals(nature="state_owned")).score == 10
    assert assess(Signals(nature="private_enterprise")).score == 5
    assert assess(Signals(nature="other")).score == 0


def test_engagement_counts_up_to_four_follow_ups():
    assert assess(Signals(followups=2)).score == 10
    assert assess(Signals(followups=9)).score == 20


def test_each_reason_names_its_points():
    reasons = assess(Signals(monthly_freight_volume_tons=800, size="large", followups=1)).reasons
    assert reasons == ["+32 freight volume 800 t/month", "+15 large company", "+5 1 follow-up(s)"]


@pytest.mark.parametrize(("score_signals", "tier"), [
    (Signals(monthly_freight_volume_tons=2000, size="large", nature="state_owned", followups=2), Tier.A),
    (Signals(monthly_freight_volume_tons=1000, size="medium"), Tier.B),
    (Signals(monthly_freight_volume_tons=500, size="small"), Tier.C),
    (Signals(size="micro"), Tier.D),
])
def test_tiers_follow_the_score(score_signals, tier):
    assert assess(score_signals).tier == tier


def test_a_lost_deal_lowers_score_and_win_probability():
    before = assess(Signals(monthly_freight_volume_tons=500, followups=2))
    after = assess(Signals(monthly_freight_volume_tons=500, followups=2, deals_lost=1))
    assert after.score == before.score - 10
    assert after.win_probability < before.win_probability


def test_a_won_deal_makes_the_customer_a_near_certain_win():
    assessment = assess(Signals(deals_won=1))
    assert assessment.win_probability == 0.99
    assert assessment.score == 15


def test_the_score_never_leaves_0_to_100():
    assert assess(Signals(deals_lost=5)).score == 0
    assert assess(Signals(monthly_freight_volume_tons=1e9, size="large", nature="state_owned",
                          followups=10, deals_won=5)).score == 100
