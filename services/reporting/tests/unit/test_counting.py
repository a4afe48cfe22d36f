from collections import Counter
from datetime import UTC, datetime, timedelta

from crm_reporting.counting import (
    CROSS,
    DEAL,
    FOLLOWUP,
    FORECAST,
    FUNNEL,
    LIFECYCLE,
    OPPORTUNITY,
    OWNERS,
    PROPOSAL,
    SCORECARD,
    VALUE,
    Account,
    Deltas,
    across,
    by_person,
    changes,
    contributions,
    counted_keys,
    cover,
    fact_contributions,
    fact_items,
    of_person,
)
from crm_reporting.measures import churn_by_month, funnel_amounts, lifecycle_of

NOW = datetime(2026, 11, 28, tzinfo=UTC)
DAY = timedelta(days=1)
SEGMENT = {
    "tier": "A",
    "region": "east",
    "industry": "retail",
    "band": "50-200t",
    "monthly_freight_volume_tons": 120.5,
}


def account(**profile: object) -> Account:
    base = {"created_at": NOW - 10 * DAY, "segment": SEGMENT}
    return Account({**base, **profile})


def test_an_active_account_counts_its_value_and_its_lifecycle():
    found = contributions(account(), NOW)
    assert found[VALUE] == [
        {
            "key": {"tier": "A", "region": "east", "industry": "retail", "band": "50-200t"},
            "n": {"customers": 1, "freight_micro_tons": 120_500_000},
        }
    ]
    assert found[LIFECYCLE][0] == {
        "key": {
            "region": "east",
            "industry": "retail",
            "month": "2026-11",
            "stage": "lead",
            "dormant": False,
        },
        "n": {"customers": 1},
        "activity": NOW - 10 * DAY,
    }


def test_merged_and_uncreated_accounts_count_nothing_and_archived_ones_no_value():
    assert contributions(account(merged_into="c-2"), NOW) == {}
    assert contributions(Account({"segment": SEGMENT}, NOW), NOW) == {}
    archived = contributions(account(status="archived"), NOW)
    assert VALUE not in archived and archived[LIFECYCLE][0]["key"]["stage"] == "churned"


def test_the_lifecycle_counted_is_the_one_the_reports_computed_per_customer():
    old = NOW - 200 * DAY
    cases = [
        (account(), None, False, frozenset()),
        (account(), NOW - DAY, False, frozenset()),
        (account(), NOW - DAY, True, frozenset()),
        (account(), None, False, frozenset({"won", "lost"})),
        (account(), None, False, frozenset({"lost"})),
        (account(), None, True, frozenset({"lost"})),
        (account(created_at=old), None, False, frozenset()),
        (account(created_at=old), old, True, frozenset({"won"})),
        (account(created_at=old, status="archived"), None, False, frozenset()),
    ]
    for base, last, open_, outcomes in cases:
        opened = ({"_id": "o-1"},) if open_ else ()
        counted = contributions(Account(base.profile, last, outcomes, (), opened), NOW)
        [entry] = counted[LIFECYCLE]
        shown = "dormant" if entry["key"]["dormant"] else entry["key"]["stage"]
        profile = {**base.profile, "last_followup_at": last}
        expected = lifecycle_of(
            profile, open_, "won" in outcomes, outcomes == {"lost"}, NOW, timedelta(days=90)
        )
        assert shown == expected, (profile, open_, outcomes)


def test_lifecycle_entries_also_count_summed_over_each_filter():
    key = {"region": "east", "industry": "retail", "month": "2026-11", "stage": "lead"}
    keys = list(counted_keys(LIFECYCLE, key))
    assert [(k["region"], k["industry"], k["across"]) for k in keys] == [
        ("east", "retail", ""),
        ("east", None, "industry"),
        (None, "retail", "region"),
        (None, None, "industry,region"),
    ]
    assert list(counted_keys(VALUE, {"tier": "A"})) == [{"tier": "A"}]
    hour = {"bucket": "h2026-11-27T13", "region": "east", "industry": "retail"}
    assert [k["across"] for k in counted_keys(FUNNEL, hour)] == ["industry", "industry,region"]
    assert across(set()) == "industry,region" and across({"region"}) == "industry"
    assert across({"region", "industry", "tier"}) == ""


def test_changes_take_away_what_was_counted_and_add_what_is_now():
    before = contributions(account(), NOW)
    moved = {**SEGMENT, "tier": "B", "monthly_freight_volume_tons": 10.0}
    after = contributions(account(segment=moved), NOW)
    deltas = Deltas()
    changes(before, after, deltas)
    value = {(name, dict(pairs)["tier"]): n for (f, name, pairs), n in deltas.items() if f == VALUE}
    assert value == {
        ("customers", "A"): -1,
        ("freight_micro_tons", "A"): -120_500_000,
        ("customers", "B"): 1,
        ("freight_micro_tons", "B"): 10_000_000,
    }
    assert not [n for (family, _, _), n in deltas.items() if family == LIFECYCLE]

    unchanged = Deltas()
    changes(before, before, unchanged)
    gone = Deltas()
    changes(before, {}, gone)
    assert not unchanged and len(gone) == 2 + 4  # value's two amounts; four lifecycle counters
    assert all(n == -1 for (family, _, _), n in gone.items() if family == LIFECYCLE)


def test_lifecycle_counts_by_month_give_the_stages_churn_and_cohorts():
    counts = Counter({("2026-10", "lead"): 2, ("2026-10", "dormant"): 2, ("2026-11", "client"): 1})
    counts["2026-11", "churned"] = 0  # taken away again: not shown
    result = churn_by_month(counts)
    assert result["by_lifecycle"] == {"client": 1, "dormant": 2, "lead": 2}
    assert result["customers"] == 5 and result["churn_rate"] == 0.4
    assert [c["month"] for c in result["cohorts"]] == ["2026-10", "2026-11"]


def test_open_opportunities_count_under_the_owner_valued_at_their_latest_priced_proposal():
    opportunities = ({"_id": "o-1", "win_probability": 0.5}, {"_id": "o-2"}, {"_id": "o-3"})
    proposals = (
        {"opportunity_id": "o-1", "price": 100.0, "currency": "CNY", "created_at": NOW - DAY},
        {"opportunity_id": "o-1", "price": 80.5, "currency": "CNY", "created_at": NOW},
        {"opportunity_id": "o-2", "price": 9.0, "currency": "USD", "status": "rejected"},
        {"opportunity_id": "o-3", "price": 10.0, "currency": "USD", "created_at": NOW},
    )
    owned = {"owner_id": "sp-1", "segment": SEGMENT}
    entry = contributions(Account(owned, None, frozenset(), (), opportunities, proposals), NOW)
    assert entry[FORECAST] == [
        {
            "key": {"owner": "sp-1", "region": "east", "industry": "retail"},
            "n": {
                "open": 3,
                "unvalued": 1,
                "pipeline_CNY": 80_500_000,
                "weighted_CNY": 40_250_000,
                "pipeline_USD": 10_000_000,
                "weighted_USD": 0,
            },
        }
    ]
    # Facts of a customer never created (or merged away) count under nobody's name.
    assert contributions(Account({}, None, frozenset(), (), opportunities[1:]), NOW) == {
        FORECAST: [
            {
                "key": {"owner": "unassigned", "region": None, "industry": None},
                "n": {"open": 2, "unvalued": 2},
            }
        ]
    }


def test_each_opportunity_counts_in_the_funnel_under_the_day_and_the_hour_it_was_opened():
    opened = datetime(2026, 11, 27, 13, 45, tzinfo=UTC)
    history = [{"stage": "qualified", "at": opened}, {"stage": "proposal", "at": opened + DAY}]
    opportunity = {"_id": "o-1", "opened_at": opened, "stage": "proposal", "history": history}
    entries = fact_contributions(OPPORTUNITY, opportunity, {})[FUNNEL]
    assert [e["key"] for e in entries] == [
        {"bucket": "d2026-11-27", "industry": None, "region": None},
        {"bucket": "h2026-11-27T13", "industry": None, "region": None},
    ]
    assert entries[0]["n"] == entries[1]["n"]
    assert entries[0]["n"] == dict(funnel_amounts(opportunity))
    assert entries[0]["n"]["spent_ms_qualified"] == 86_400_000


def test_a_period_is_covered_by_whole_days_and_what_is_left_at_either_end():
    since = datetime(2026, 11, 1, 22, 30, tzinfo=UTC)
    until = datetime(2026, 11, 4, 1, 10, tzinfo=UTC)
    names, edges = cover(since, until)
    assert names == ["d2026-11-02", "d2026-11-03"]
    assert edges == [
        (since, datetime(2026, 11, 2, tzinfo=UTC)),
        (until.replace(hour=0, minute=0), until),
    ]
    assert cover(since, since + timedelta(hours=3)) == ([], [(since, since + timedelta(hours=3))])
    # Hourly: the whole hours of either end too, and the minutes left.
    names, edges = cover(since, until, hourly=True)
    assert names == ["d2026-11-02", "d2026-11-03", "h2026-11-01T23", "h2026-11-04T00"]
    assert edges == [
        (since, since.replace(minute=0) + timedelta(hours=1)),
        (until.replace(minute=0), until),
    ]
    inside = datetime(2026, 11, 1, 20, 15, tzinfo=UTC)
    assert cover(inside, inside + timedelta(minutes=30), hourly=True) == (
        [],
        [(inside, inside + timedelta(minutes=30))],
    )
    whole = cover(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    assert whole == (["d2026-11-01", "d2026-11-02"], [])


def test_an_owned_account_and_its_facts_count_in_the_salespeoples_scorecards():
    created = NOW - 200 * DAY
    won = (
        {"outcome": "won", "closed_at": NOW - DAY, "product_lines": ["road"], "amount": 5.0},
        {"outcome": "won", "closed_at": NOW, "product_lines": ["rail"], "salesperson_id": "sp-2"},
    )
    profile = account(owner_id="sp-1", created_at=created).profile
    found = contributions(Account(profile, NOW - 100 * DAY, frozenset({"won"}), won), NOW)
    [owners] = found[OWNERS]
    assert owners["key"] | owners["n"] == {
        "owner": "sp-1",
        "region": "east",
        "industry": "retail",
        "dormant": True,  # followed up 100 days ago
        "accounts": 1,
        "active": 1,
        "archived": 0,
    }
    assert [(d["at"], d["lines"]) for d in found[CROSS][0]["won"]] == [
        (NOW - DAY, ["road"]),
        (NOW, ["rail"]),
    ]
    assert [(e["key"]["bucket"], e["n"]) for e in found[SCORECARD]] == [
        ("d2026-05-12", {"sp-1|new_leads": 1}),
        ("h2026-05-12T00", {"sp-1|new_leads": 1}),
    ]
    followup = {"at": NOW - DAY, "salesperson_id": "sp-3", "channel": "visit"}
    assert fact_items(FOLLOWUP, followup, profile) == [(NOW - DAY, "sp-3", {"followups_visit": 1})]
    assert fact_items(FOLLOWUP, {**followup, "revoked": True}, profile) == []
    assert fact_items(PROPOSAL, {"created_at": NOW}, profile) == [(NOW, "sp-1", {"proposals": 1})]
    assert fact_items(DEAL, won[0], profile) == [
        (
            NOW - DAY,
            "sp-1",
            {
                "won": 1,
                "revenue_?": 5_000_000,
                "revenue_n_?": 1,
                "freight_micro": 0,
                "cycle_ms": 199 * 86_400_000,
                "cycle_n": 1,
            },
        )
    ]
    assert fact_items(DEAL, {"outcome": "lost", "closed_at": NOW}, {}) == []  # nobody's
    merged = {**profile, "merged_into": "c-9"}
    assert OWNERS not in contributions(Account(merged), NOW)
    assert fact_items(PROPOSAL, {"created_at": NOW}, merged) == []
    entry, _hour = fact_contributions(FOLLOWUP, followup, merged)[SCORECARD]
    assert entry["key"] == {"bucket": "d2026-11-27", "industry": None, "region": None}
    assert entry["n"] == {"sp-3|followups_visit": 1}


def test_a_persons_amounts_are_named_after_them_and_read_back_whatever_their_id_holds():
    odd = "sp.1|$x%2E"  # a dot, the separator, a dollar, and what looks like an escape
    named = of_person(odd, {"proposals": 2, "won": 1})
    assert all("." not in name and not name.startswith("$") for name in named)
    assert by_person({**named, **of_person("sp-2", {"won": 0})}) == {
        odd: Counter(proposals=2, won=1)
    }  # nothing but zeros: no row
