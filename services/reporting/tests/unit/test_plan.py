"""The period forecast against quotas: what opportunities and deals add to a month, split over
their service lines, and the rows with attainment and gaps. Pure: no I/O."""

from collections import Counter
from datetime import UTC, datetime

import pytest
from crm_reporting.counting import (
    DEAL,
    PLAN,
    PLAN_MODES,
    PLAN_ORIGINS,
    Account,
    contributions,
    counted_keys,
    fact_contributions,
    unpacked,
)
from crm_reporting.plan import (
    close_month,
    line_row,
    line_shares,
    open_amounts,
    quota_of,
    row,
    value_of,
    won_amounts,
)
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2027, 2, 10, tzinfo=UTC)
SEGMENT = {"region": "east", "industry": "retail"}
REEFER = {"mode": "cold_chain", "origin": "Shanghai", "monthly_tons": 120.0}
WAREHOUSE = {"mode": "warehousing", "origin": "Chengdu", "monthly_tons": 40.0}

# --- what an opportunity is worth, and when --------------------------------------------------


def test_an_opportunity_is_worth_its_amount_else_its_latest_priced_proposal():
    prices = {"o-1": (80.5, "CNY"), "o-2": (9.0, "USD")}
    assert value_of({"_id": "o-1", "amount": 100.0, "currency": "EUR"}, prices) == (100.0, "EUR")
    assert value_of({"_id": "o-2", "amount": None}, prices) == (9.0, "USD")
    assert value_of({"_id": "o-3"}, prices) is None


def test_an_opportunity_counts_in_the_month_it_is_expected_to_close_or_none():
    assert close_month({"expected_close_date": "2027-03-31"}) == "2027-03"
    assert close_month({"expected_close_date": None}) is None


@pytest.mark.parametrize(
    ("probability", "counted"),
    [
        (0.1, {"pipeline", "weighted"}),
        (0.5, {"pipeline", "weighted", "best"}),
        (0.74, {"pipeline", "weighted", "best"}),
        (0.75, {"pipeline", "weighted", "best", "commit"}),
    ],
)
def test_commit_and_best_case_take_the_opportunities_likely_enough(probability, counted):
    n = open_amounts(probability, (1000.0, "CNY"), 10.0)
    assert {name.removesuffix("_CNY") for name in n if name.endswith("_CNY")} == counted
    assert n["pipeline_CNY"] == 1_000_000_000 and n["weighted_CNY"] == round(1e9 * probability)
    assert n["freight_micro_pipeline"] == 10_000_000 and n["open"] == 1


def test_an_opportunity_without_a_value_counts_its_tons_and_says_it_is_unvalued():
    n = open_amounts(0.8, None, 12.5)
    assert n == Counter(
        open=1,
        unvalued=1,
        freight_micro_pipeline=12_500_000,
        freight_micro_weighted=10_000_000,
        freight_micro_best=12_500_000,
        freight_micro_commit=12_500_000,
    )


def test_a_won_deal_adds_its_revenue_and_tons():
    assert won_amounts(350.25, "CNY", 240.0) == Counter(
        won=1, revenue_CNY=350_250_000, freight_micro_won=240_000_000
    )


# --- lines ------------------------------------------------------------------------------------


def test_an_amount_is_split_by_the_lines_monthly_value_where_each_has_one():
    lines = [
        {"rate": 100.0, "rate_basis": "ton", "monthly_tons": 30.0},
        {"rate": 500.0, "rate_basis": "shipment", "monthly_shipments": 2},
        {"rate": 2000.0, "rate_basis": "month"},
    ]
    assert line_shares(6000, lines) == [3000, 1000, 2000]


def test_without_values_an_amount_is_split_by_tons_else_equally():
    assert line_shares(1000, [REEFER, WAREHOUSE]) == [750, 250]
    assert line_shares(1000, [{"mode": "customs"}, REEFER, WAREHOUSE]) == [334, 333, 333]
    assert line_shares(1000, []) == []


@given(
    st.integers(min_value=0, max_value=10**22),
    st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50),
)
def test_the_shares_of_an_amount_always_add_up_to_it(total, tons):
    shares = line_shares(total, [{"monthly_tons": t} for t in tons])
    assert sum(shares) == total and all(share >= 0 for share in shares)


# --- the counters' entries --------------------------------------------------------------------


def test_open_opportunities_count_in_their_month_under_their_owner_and_lines_by_mode_and_origin():
    opportunities = (
        {
            "_id": "o-1",
            "win_probability": 0.8,
            "amount": 1600.0,
            "currency": "CNY",
            "expected_close_date": "2027-03-15",
            "owner_id": "sp-2",
            "lines": [REEFER, WAREHOUSE],
        },
        {"_id": "o-2", "win_probability": 0.1, "expected_close_date": "2027-03-02"},
        {"_id": "o-3", "win_probability": 0.9, "amount": 5.0, "lines": [REEFER]},  # unscheduled
    )
    account = Account({"owner_id": "sp-1", "segment": SEGMENT}, open_opportunities=opportunities)
    found = contributions(account, NOW)
    # One month: every owner's amounts in it, named after them; of the unscheduled, a count.
    entry, unscheduled = found[PLAN]
    assert entry["key"] == {"month": "2027-03", **SEGMENT}
    assert unscheduled["key"] == {"month": None, **SEGMENT}
    assert unpacked(unscheduled["n"]) == {"sp-1": Counter(open=1)}
    mine = unpacked(entry["n"])["sp-2"]
    assert mine["commit_CNY"] == mine["pipeline_CNY"] == 1_600_000_000
    assert mine["freight_micro_commit"] == 160_000_000
    assert unpacked(entry["n"])["sp-1"] == Counter(open=1, unvalued=1)
    # Lines: the owner's month, each mode's (origin's) amounts named after it; no filters, none
    # unscheduled.
    [of_modes], [of_origins] = found[PLAN_MODES], found[PLAN_ORIGINS]
    assert of_modes["key"] == of_origins["key"] == {"month": "2027-03", "owner": "sp-2"}
    modes, origins = unpacked(of_modes["n"]), unpacked(of_origins["n"])
    assert (
        modes["cold_chain"]["pipeline_CNY"] == origins["Shanghai"]["pipeline_CNY"] == 1_200_000_000
    )
    assert modes["warehousing"]["pipeline_CNY"] == origins["Chengdu"]["pipeline_CNY"] == 400_000_000


def test_a_month_counts_in_its_quarter_and_year_and_the_unscheduled_apart():
    key = {"month": "2027-03", "region": "east", "industry": None}
    counted = list(counted_keys(PLAN, key))
    assert {k["period"] for k in counted} == {"2027-03", "2027-Q1", "2027"}
    assert len(counted) == 3 * 4  # each also summed over region, industry and both
    unscheduled = {k["period"] for k in counted_keys(PLAN, {**key, "month": None})}
    assert unscheduled == {"none"}
    line = {"month": "2027-03", "owner": "sp-1"}
    counted = list(counted_keys(PLAN_MODES, line))  # the owner's, and everyone's (None)
    assert {(k["period"], k["owner"]) for k in counted} == {
        (period, owner) for period in ("2027-03", "2027-Q1", "2027") for owner in ("sp-1", None)
    }


def test_a_won_deal_counts_in_its_salesperson_month_of_closing_and_its_lines_share_it():
    deal = {
        "_id": "d-1",
        "outcome": "won",
        "amount": 100.0,
        "currency": "CNY",
        "freight_tons": 160.0,
        "closed_at": datetime(2027, 1, 31, 23, tzinfo=UTC),
        "salesperson_id": "sp-3",
        "lines": [REEFER, WAREHOUSE],
    }
    found = fact_contributions(DEAL, deal, {"owner_id": "sp-1", "segment": SEGMENT})
    [entry] = found[PLAN]
    assert entry["key"] == {"month": "2027-01", **SEGMENT}
    assert unpacked(entry["n"]) == {
        "sp-3": Counter(won=1, revenue_CNY=100_000_000, freight_micro_won=160_000_000)
    }
    [of_modes], [of_origins] = found[PLAN_MODES], found[PLAN_ORIGINS]
    assert of_modes["key"] == {"month": "2027-01", "owner": "sp-3"}
    shares = sorted(n["revenue_CNY"] for n in unpacked(of_modes["n"]).values())
    assert shares == [25_000_000, 75_000_000]
    assert sorted(unpacked(of_origins["n"])) == ["Chengdu", "Shanghai"]
    lost = {**deal, "outcome": "lost", "lines": []}
    assert PLAN not in fact_contributions(DEAL, lost, {"owner_id": "sp-1"})


# --- quotas -----------------------------------------------------------------------------------


def quota(period: str, revenue: float | None, tons: float | None = None, currency="CNY") -> dict:
    return {"period": period, "revenue": revenue, "currency": currency, "freight_tons": tons}


def test_a_quota_set_for_the_period_is_the_quota():
    quotas = {"2027-Q1": quota("2027-Q1", 3e6, 900.0), "2027-01": quota("2027-01", 5.0)}
    assert quota_of(quotas, "2027-Q1") == {
        "revenue": 3e6,
        "currency": "CNY",
        "freight_tons": 900.0,
        "from": "set",
    }


def test_a_quarter_without_its_own_quota_sums_its_months_when_each_has_one():
    months = {m: quota(m, 1e6, 300.0) for m in ("2027-01", "2027-02", "2027-03")}
    assert quota_of(months, "2027-Q1") == {
        "revenue": 3e6,
        "currency": "CNY",
        "freight_tons": 900.0,
        "from": "parts",
    }
    assert quota_of({k: v for k, v in months.items() if k != "2027-02"}, "2027-Q1") is None
    months["2027-02"] = quota("2027-02", 1e6, 300.0, currency="USD")
    assert quota_of(months, "2027-Q1") is None  # money in two currencies does not add up


def test_a_year_sums_its_quarters_each_found_from_its_months_where_needed():
    quotas = {f"2027-Q{q}": quota(f"2027-Q{q}", 1e6) for q in (1, 2, 3)}
    quotas |= {m: quota(m, 2e5) for m in ("2027-10", "2027-11", "2027-12")}
    found = quota_of(quotas, "2027")
    assert found is not None and found["revenue"] == 3.6e6 and found["freight_tons"] is None


def test_a_cleared_quota_is_no_quota():
    assert quota_of({"2027-03": quota("2027-03", None, None)}, "2027-03") is None


# --- rows -------------------------------------------------------------------------------------


def test_each_figure_includes_closed_won_and_is_set_against_the_quota():
    n = Counter(
        won=1,
        open=2,
        revenue_CNY=1_000_000,
        commit_CNY=500_000,
        best_CNY=700_000,
        pipeline_CNY=2_000_000,
        weighted_CNY=800_000,
        freight_micro_won=10_000_000,
        freight_micro_pipeline=30_000_000,
    )
    found = row(n, {"revenue": 4.0, "currency": "CNY", "freight_tons": 20.0, "from": "set"})
    assert found["revenue"] == {
        "CNY": {
            "closed_won": 1.0,
            "commit": 1.5,
            "best_case": 1.7,
            "pipeline": 3.0,
            "weighted": 1.8,
        }
    }
    assert found["attainment"] == {
        "closed_won": 0.25,
        "commit": 0.375,
        "best_case": 0.425,
        "pipeline": 0.75,
        "weighted": 0.45,
    }
    assert found["gap"]["closed_won"] == 3.0 and found["gap"]["pipeline"] == 1.0
    assert (
        found["freight_tons"]["pipeline"] == 40.0 and found["freight_attainment"]["pipeline"] == 2.0
    )
    assert (found["deals_won"], found["open_opportunities"]) == (1, 2)


def test_a_quota_in_a_currency_nothing_was_won_in_shows_zero_attained():
    found = row(Counter(revenue_USD=5_000_000), {"revenue": 10.0, "currency": "CNY"})
    assert found["revenue"]["CNY"]["closed_won"] == 0 and found["attainment"]["closed_won"] == 0
    assert found["revenue"]["USD"]["closed_won"] == 5.0


def test_without_a_quota_there_is_no_attainment():
    found = row(Counter(revenue_CNY=1), None)
    assert (found["quota"], found["attainment"], found["gap"]) == (None, None, None)


def test_a_line_row_shows_closed_won_pipeline_and_weighted():
    n = Counter(won=1, open=2, revenue_CNY=1_000_000, pipeline_CNY=3_000_000, weighted_CNY=500_000)
    n["freight_micro_pipeline"] = 4_000_000
    assert line_row(n) == {
        "revenue": {"CNY": {"closed_won": 1.0, "pipeline": 4.0, "weighted": 1.5}},
        "freight_tons": {"closed_won": 0.0, "pipeline": 4.0, "weighted": 0.0},
        "lines_won": 1,
        "open_lines": 2,
    }
