from datetime import UTC, datetime, timedelta

from crm_reporting.measures import (
    churn,
    forecast,
    funnel,
    lifecycle_of,
    products_of,
    rate,
    scorecard,
    win_rate,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def test_rates_say_no_data_rather_than_divide_by_zero():
    assert win_rate(0, 0) is None and rate(0, 0) is None
    assert win_rate(3, 1) == 0.75 and rate(1, 3) == 0.3333


def test_a_scorecard_counts_each_salespersons_period():
    profiles = [
        {
            "_id": "c1",
            "owner_id": "sp-1",
            "created_at": T0 + DAY,
            "status": "active",
            "last_followup_at": T0 + 2 * DAY,
        },
        {"_id": "c2", "owner_id": "sp-1", "created_at": T0 - 60 * DAY, "status": "archived"},
        {"_id": "c3", "owner_id": "sp-2", "created_at": T0 - 200 * DAY, "status": "active"},
    ]
    followups = [
        {"salesperson_id": "sp-1", "channel": "visit"},
        {"salesperson_id": "sp-1", "channel": "call"},
        {"salesperson_id": "sp-1", "channel": "visit"},
    ]
    deals = [
        {
            "account_id": "c1",
            "salesperson_id": "sp-1",
            "outcome": "won",
            "amount": 100.0,
            "currency": "CNY",
            "freight_tons": 20,
            "product_lines": ["FTL", "warehousing"],
            "closed_at": T0 + 11 * DAY,
        },
        {"account_id": "c3", "salesperson_id": None, "outcome": "lost", "closed_at": T0 + 3 * DAY},
    ]
    rows = {
        row["salesperson_id"]: row
        for row in scorecard(
            profiles,
            followups,
            [{"account_id": "c1"}],
            deals,
            T0,
            T0 + 30 * DAY,
            timedelta(days=90),
        )
    }
    one, two = rows["sp-1"], rows["sp-2"]
    assert (one["new_leads"], one["followups"], one["followups_by_channel"]) == (
        1,
        3,
        {"call": 1, "visit": 2},
    )
    assert (one["deals_won"], one["deals_lost"], one["win_rate"], one["proposals"]) == (
        1,
        0,
        1.0,
        1,
    )
    assert one["revenue_won"] == {"CNY": 100.0} and one["freight_won_tons"] == 20
    assert one["average_sales_cycle_days"] == 10.0 and one["cross_selling_customers"] == 1
    assert (one["active_customers"], one["customers_lost_or_dormant"]) == (1, 1)
    assert (two["deals_lost"], two["win_rate"], two["customers_lost_or_dormant"]) == (1, 0.0, 1)


def test_a_scorecard_with_no_closed_deal_has_no_win_rate():
    rows = scorecard(
        [{"_id": "c", "owner_id": "sp", "created_at": T0, "status": "active"}],
        [],
        [],
        [],
        T0,
        T0 + DAY,
        timedelta(days=90),
    )
    assert rows[0]["win_rate"] is None and rows[0]["average_sales_cycle_days"] is None


def test_the_funnel_counts_reach_conversion_and_time_in_stage():
    def history(*stages):
        return [{"stage": stage, "at": T0 + n * DAY} for n, stage in enumerate(stages)]

    opportunities = [
        {
            "stage": "proposal",
            "closed": False,
            "history": history("qualified", "needs_analysed", "proposal"),
        },
        {"stage": "won", "closed": True, "history": history("qualified", "proposal", "won")},
        {"stage": "qualified", "closed": False, "history": history("qualified")},
        {"stage": "lost", "closed": True, "history": history("qualified", "lost")},
    ]
    rows = {
        row["stage"]: row
        for row in funnel(
            opportunities, ["qualified", "needs_analysed", "proposal", "negotiation"], T0 + 4 * DAY
        )["stages"]
    }
    assert rows["qualified"]["reached"] == 4 and rows["qualified"]["open"] == 1
    assert rows["needs_analysed"]["conversion_from_previous"] == 0.25
    assert rows["proposal"]["reached"] == 2 and rows["proposal"]["open"] == 1
    assert rows["won"]["reached"] == 1 and rows["won"]["average_days_in_stage"] is None
    assert rows["negotiation"]["conversion_from_previous"] == 0.0
    assert rows["qualified"]["average_days_in_stage"] == (1 + 1 + 4 + 1) / 4


def test_an_empty_funnel_has_no_conversions():
    rows = funnel([], ["qualified", "proposal"], T0)["stages"]
    assert all(row["conversion_from_previous"] is None and row["reached"] == 0 for row in rows)


def test_the_forecast_weights_each_open_opportunity_by_its_stage():
    opportunities = [
        {"_id": "o1", "account_id": "c1", "closed": False, "win_probability": 0.5},
        {"_id": "o2", "account_id": "c2", "closed": False, "win_probability": 0.75},
        {"_id": "o3", "account_id": "c1", "closed": True, "win_probability": 1.0},
    ]
    proposals = [
        {"opportunity_id": "o1", "price": 100.0, "currency": "CNY", "created_at": T0},
        {"opportunity_id": "o1", "price": 80.0, "currency": "CNY", "created_at": T0 + DAY},
        {"opportunity_id": "o3", "price": 999.0, "currency": "CNY", "created_at": T0},
    ]
    rows = {
        r["salesperson_id"]: r
        for r in forecast(opportunities, proposals, {"c1": "sp-1", "c2": None})
    }
    assert rows["sp-1"]["weighted_forecast"] == {"CNY": 40.0} and rows["sp-1"][
        "pipeline_value"
    ] == {"CNY": 80.0}
    assert rows["unassigned"] == {
        "salesperson_id": "unassigned",
        "open_opportunities": 1,
        "without_value": 1,
        "pipeline_value": {},
        "weighted_forecast": {},
    }


def test_lifecycle_stages_and_churn():
    now, dormant = T0 + 100 * DAY, timedelta(days=90)
    fresh = {"created_at": now - DAY}
    assert lifecycle_of(fresh, False, False, False, now, dormant) == "lead"
    assert (
        lifecycle_of({**fresh, "last_followup_at": now}, False, False, False, now, dormant)
        == "prospect"
    )
    assert lifecycle_of(fresh, True, False, False, now, dormant) == "opportunity"
    assert lifecycle_of(fresh, False, True, False, now, dormant) == "client"
    assert lifecycle_of(fresh, False, False, True, now, dormant) == "churned"
    assert (
        lifecycle_of({**fresh, "status": "archived"}, True, True, False, now, dormant) == "churned"
    )
    assert lifecycle_of({"created_at": T0}, False, True, False, now, dormant) == "dormant"
    result = churn(
        {"a": "lead", "b": "churned", "c": "dormant", "d": "client"},
        {"a": T0, "b": T0, "c": T0 + 40 * DAY, "d": T0 + 40 * DAY},
    )
    assert result["churn_rate"] == 0.5 and result["by_lifecycle"]["churned"] == 1
    assert [(c["month"], c["customers"], c["churn_rate"]) for c in result["cohorts"]] == [
        ("2026-11", 2, 0.5),
        ("2026-12", 2, 0.5),
    ]


def test_churn_with_no_customers_is_no_data():
    assert churn({}, {}) == {"by_lifecycle": {}, "customers": 0, "churn_rate": None, "cohorts": []}


def test_a_deal_sold_the_modes_of_its_lines_else_its_product_lines():
    lines = [{"mode": "ftl"}, {"mode": "customs"}, {"mode": "ftl"}]
    assert products_of({"lines": lines, "product_lines": ["road"]}) == ["customs", "ftl"]
    assert products_of({"lines": [], "product_lines": ["road"]}) == ["road"]
    assert products_of({}) == []


def test_a_customer_whose_won_lines_hold_two_modes_cross_sells():
    profiles = [{"_id": "c1", "owner_id": "sp-1", "created_at": datetime(2026, 1, 1, tzinfo=UTC)}]
    at = datetime(2026, 3, 1, tzinfo=UTC)
    deal = {"account_id": "c1", "outcome": "won", "closed_at": at, "amount": 1.0}
    deals = [
        {**deal, "lines": [{"mode": "ftl"}], "product_lines": ["ftl", "ltl"]},
        {**deal, "lines": [{"mode": "ftl"}]},
    ]
    since, until = at - timedelta(days=1), at + timedelta(days=1)
    [row] = scorecard(profiles, [], [], deals, since, until, timedelta(days=90))
    assert row["cross_selling_customers"] == 0  # one mode, whatever the product lines said
    deals[1]["lines"] = [{"mode": "warehousing"}]
    [row] = scorecard(profiles, [], [], deals, since, until, timedelta(days=90))
    assert row["cross_selling_customers"] == 1
