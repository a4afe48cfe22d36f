import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from crm_reporting.counting import (
    BEGINNING,
    BLOCKS,
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
    SLOT,
    VALUE,
    Account,
    Deltas,
    account_of,
    across,
    blocks_of,
    changes,
    contributions,
    counted,
    counted_keys,
    cover,
    cross_selling_witnesses,
    fact_contributions,
    fact_items,
    packed,
    slot_of,
    unpacked,
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
    slot = {"slot": "2026-11-27T12:00", "region": "east", "industry": "retail"}
    keys = [(k["across"], k["bucket"]) for k in counted_keys(FUNNEL, slot)]
    day, blocks = "d1:2026-11-27", blocks_of("2026-11-27T12:00")
    assert keys == [
        ("", day),
        *[("industry", block) for block in blocks],
        ("region", day),
        *[("industry,region", block) for block in blocks],
    ]
    assert across(set()) == "industry,region" and across({"region"}) == "industry"
    assert across({"region", "industry", "tier"}) == ""


def test_changes_take_away_what_was_counted_and_add_what_is_now():
    before = contributions(account(), NOW)
    moved = {**SEGMENT, "tier": "B", "monthly_freight_volume_tons": 10.0}
    after = contributions(account(segment=moved), NOW)
    deltas = Deltas()
    changes(before, after, deltas)
    value = {
        (name, dict(pairs)["tier"]): amount
        for (family, pairs), n in deltas.items()
        if family == VALUE
        for name, amount in n.items()
    }
    assert value == {
        ("customers", "A"): -1,
        ("freight_micro_tons", "A"): -120_500_000,
        ("customers", "B"): 1,
        ("freight_micro_tons", "B"): 10_000_000,
    }
    assert not [n for (family, _), n in deltas.items() if family == LIFECYCLE]

    unchanged = Deltas()
    changes(before, before, unchanged)
    gone = Deltas()
    changes(before, {}, gone)
    assert not unchanged and len(counted(gone)) == 1 + 4  # value's counter; four lifecycle ones
    lifecycle = [n for (family, _), n in counted(gone).items() if family == LIFECYCLE]
    assert lifecycle == [{"customers": -1}] * 4


def test_the_counters_of_many_entries_are_their_counted_keys_summed():
    rng = random.Random(8)
    deltas = Deltas()
    for _ in range(3_000):
        at = NOW - timedelta(minutes=rng.randrange(200 * 24 * 60))
        key = {"slot": slot_of(at), "region": rng.choice(["east", None]), "industry": "retail"}
        family = rng.choice([SCORECARD, FUNNEL, LIFECYCLE])
        if family == LIFECYCLE:
            key = {"region": key["region"], "month": at.strftime("%Y-%m"), "stage": "lead"}
        name = rng.choice(["sp-1|proposals", "sp-2|won", "opened"])
        n = deltas[family, tuple(sorted(key.items()))]
        n[name] = n.get(name, 0) + rng.choice([-1, 1, 2])
    expected: dict = {}
    for (family, pairs), n in deltas.items():
        for key in counted_keys(family, dict(pairs)):
            expected.setdefault((family, tuple(sorted(key.items()))), Counter()).update(n)

    def nonzero(counters: dict) -> dict:
        return {
            c: {k: v for k, v in n.items() if v} for c, n in counters.items() if any(n.values())
        }

    found = counted(deltas)
    assert nonzero(found) == nonzero(expected)
    assert len(found) > 5_000  # days, blocks and every sum of them


def test_an_account_is_the_same_whatever_order_its_facts_are_read_in():
    won = [
        {"_id": f"d-{n}", "outcome": "won", "closed_at": NOW, "product_lines": [line]}
        for n, line in enumerate(["road", "rail", "road", "sea"])
    ]
    opened = [{"_id": f"o-{n}", "closed": n == 3, "win_probability": 0.5} for n in range(1, 4)]
    proposals = [
        {"_id": f"p-{n}", "opportunity_id": "o-1", "price": float(n), "created_at": NOW}
        for n in range(3)
    ] + [{"_id": "p-9", "opportunity_id": "o-closed", "price": 1.0, "created_at": NOW}]
    followups = [{"at": NOW - n * DAY, "revoked": n == 0} for n in range(3)]
    lost = [{"_id": "d-9", "outcome": "lost", "closed_at": NOW}]
    one = account_of({}, followups, won + lost, opened, proposals)
    other = account_of({}, followups[::-1], (won + lost)[::-1], opened[::-1], proposals[::-1])
    assert one == other and contributions(one, NOW) == contributions(other, NOW)
    assert one.last_followup_at == NOW - DAY  # the revoked one left out
    assert one.outcomes == {"won", "lost"} and len(one.won) == 4
    assert [o["_id"] for o in one.open_opportunities] == ["o-1", "o-2"]
    assert [p["_id"] for p in one.proposals] == ["p-0", "p-1", "p-2"]  # of its open ones


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
    assert contributions(Account({}, None, frozenset(), (), opportunities[1:]), NOW)[FORECAST] == [
        {
            "key": {"owner": "unassigned", "region": None, "industry": None},
            "n": {"open": 2, "unvalued": 2},
        }
    ]


def test_an_opportunity_amount_values_it_before_any_proposal():
    opportunities = ({"_id": "o-1", "win_probability": 0.5, "amount": 1000.0, "currency": "EUR"},)
    proposals = ({"opportunity_id": "o-1", "price": 80.5, "currency": "CNY", "created_at": NOW},)
    owned = {"owner_id": "sp-1", "segment": SEGMENT}
    entry = contributions(Account(owned, None, frozenset(), (), opportunities, proposals), NOW)
    assert entry[FORECAST][0]["n"] == {
        "open": 1,
        "pipeline_EUR": 1_000_000_000,
        "weighted_EUR": 500_000_000,
    }


def test_each_opportunity_counts_in_the_funnel_under_the_slot_it_was_opened_in():
    opened = datetime(2026, 11, 27, 13, 45, tzinfo=UTC)
    history = [{"stage": "qualified", "at": opened}, {"stage": "proposal", "at": opened + DAY}]
    opportunity = {"_id": "o-1", "opened_at": opened, "stage": "proposal", "history": history}
    [entry] = fact_contributions(OPPORTUNITY, opportunity, {})[FUNNEL]
    assert entry["key"] == {"slot": "2026-11-27T12:00", "industry": None, "region": None}
    assert entry["at"] == opened  # what a period's ends are read by
    assert entry["n"] == dict(funnel_amounts(opportunity))
    assert entry["n"]["spent_ms_qualified"] == 86_400_000


def test_a_slot_is_counted_in_each_block_that_holds_it():
    assert slot_of(datetime(2026, 11, 27, 13, 59, tzinfo=UTC)) == "2026-11-27T12:00"
    blocks = blocks_of("2026-11-27T12:00")
    assert blocks[:4] == [
        "h2:2026-11-27T12",
        "h4:2026-11-27T12",
        "h8:2026-11-27T08",
        "d1:2026-11-27",
    ]
    assert len(blocks) == len(BLOCKS) and len(set(blocks)) == len(blocks)
    for name, size in zip(blocks, BLOCKS, strict=True):  # each block holds the slot
        start = datetime.fromisoformat(name.split(":", 1)[1]).replace(tzinfo=UTC)
        assert start <= datetime(2026, 11, 27, 12, tzinfo=UTC) < start + size, name


def test_a_period_is_covered_by_whole_days_and_what_is_left_at_either_end():
    since = datetime(2026, 11, 1, 22, 30, tzinfo=UTC)
    until = datetime(2026, 11, 4, 1, 10, tzinfo=UTC)
    names, edges = cover(since, until)
    assert names == ["d1:2026-11-02", "d1:2026-11-03"]
    assert edges == [
        (since, datetime(2026, 11, 2, tzinfo=UTC)),
        (until.replace(hour=0, minute=0), until),
    ]
    assert cover(since, since + timedelta(hours=3)) == ([], [(since, since + timedelta(hours=3))])
    # Fine: the whole slots in blocks, and the hours left.
    names, edges = cover(since, until, fine=True)
    assert names == ["d2:2026-11-02"]
    assert edges == [
        (since, datetime(2026, 11, 2, tzinfo=UTC)),
        (until.replace(hour=0, minute=0), until),
    ]
    names, edges = cover(since - timedelta(hours=5), until + timedelta(hours=4), fine=True)
    assert names == ["h2:2026-11-01T18", "h4:2026-11-01T20", "d2:2026-11-02", "h4:2026-11-04T00"]
    assert edges == [
        (since - timedelta(hours=5), datetime(2026, 11, 1, 18, tzinfo=UTC)),
        (datetime(2026, 11, 4, 4, tzinfo=UTC), until + timedelta(hours=4)),
    ]
    inside = datetime(2026, 11, 1, 20, 20, tzinfo=UTC)
    assert cover(inside, inside + timedelta(hours=1), fine=True) == (
        [],
        [(inside, inside + timedelta(hours=1))],
    )
    whole = cover(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    assert whole == (["d1:2026-11-01", "d1:2026-11-02"], [])


def test_the_blocks_of_a_period_hold_each_of_its_whole_slots_once_and_are_few():
    rng = random.Random(5)
    for _ in range(100):
        since = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(800_000))
        until = since + timedelta(minutes=rng.randrange(1, 150_000))
        names, edges = cover(since, until, fine=True)
        slots = _slots(since, until)
        held = Counter(name for slot in slots for name in blocks_of(slot) if name in names)
        # Each whole slot is in exactly one of the blocks, and each block holds only those.
        assert all(sum(name in names for name in blocks_of(slot)) == 1 for slot in slots), since
        assert sum(held.values()) == len(slots) and len(held) == len(names)
        assert len(names) <= 2 * len(BLOCKS) + (until - since) // BLOCKS[-1]
        assert sum((b - a for a, b in edges), timedelta()) < 2 * SLOT


def _slots(since: datetime, until: datetime) -> list[str]:
    """The whole slots of [since, until), by name."""
    hours = SLOT // timedelta(hours=1)
    at = since.replace(hour=since.hour // hours * hours, minute=0, second=0, microsecond=0)
    at += SLOT if at < since else timedelta()
    found = []
    while at + SLOT <= until:
        found.append(slot_of(at))
        at += SLOT
    return found


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
    assert found[CROSS][0]["w"] == [{"a": NOW - DAY, "b": NOW, "after": BEGINNING}]
    assert [(e["key"]["slot"], e["n"]) for e in found[SCORECARD]] == [
        ("2026-05-12T00:00", {"sp-1|new_leads": 1}),  # its two hours' slot
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
    [entry] = fact_contributions(FOLLOWUP, followup, merged)[SCORECARD]
    assert entry["key"] == {"slot": "2026-11-27T00:00", "industry": None, "region": None}
    assert entry["n"] == {"sp-3|followups_visit": 1}


def test_a_persons_amounts_are_named_after_them_and_read_back_whatever_their_id_holds():
    odd = "sp.1|$x%2E"  # a dot, the separator, a dollar, and what looks like an escape
    named = packed(odd, {"proposals": 2, "won": 1})
    assert all("." not in name and not name.startswith("$") for name in named)
    assert unpacked({**named, **packed("sp-2", {"won": 0})}) == {
        odd: Counter(proposals=2, won=1)
    }  # nothing but zeros: no row


def test_an_account_cross_sells_in_a_period_exactly_when_one_of_its_spans_lies_in_it():
    rng = random.Random(11)
    lines = ["road", "rail", "sea"]
    for _ in range(2000):
        won = [
            {
                "closed_at": NOW + timedelta(hours=rng.randrange(10)),
                "product_lines": rng.sample(lines, rng.choice([0, 1, 1, 1, 2])),
            }
            for _ in range(rng.randrange(5))
        ]
        spans = cross_selling_witnesses(won)
        since = NOW + timedelta(hours=rng.randrange(10))
        until = since + timedelta(hours=rng.randrange(1, 10))
        inside = [d for d in won if since <= d["closed_at"] < until]
        expected = len({line for d in inside for line in d["product_lines"]}) > 1
        assert any(since <= s["a"] and s["b"] < until for s in spans) == expected, (won, since)
        # Where it cross-sells, one span is counted: its first in the period.
        first = [s for s in spans if s["after"] < since <= s["a"] and s["b"] < until]
        assert len(first) == int(expected), (won, since, until)


def test_a_counter_amount_reads_back_as_the_integer_stored_fast_or_not():
    from decimal import Decimal

    from bson import Decimal128
    from crm_reporting.counters import narrow, whole, wide

    rng = random.Random(5)
    amounts = [0, 1, -1, 10**33, -(10**34) + 1, 2**64, -(2**63), 9_999_999_999_999_999_990_000]
    amounts += [rng.randrange(-(10**34) + 1, 10**34) for _ in range(2000)]
    for amount in amounts:
        # Written fast, the very bits `decimal` makes (so that MongoDB sums them the same).
        assert wide(amount).bid == Decimal128(str(amount)).bid
        assert whole(Decimal128(str(amount))) == amount
    assert wide(10**40) == Decimal128(str(10**40))  # beyond 34 digits: as decimal rounds it
    # A counter's amounts: 64-bit integers while they fit (read fast), Decimal128 beyond.
    kept = narrow({"a": 2**63 - 1, "b": -(2**63), "c": 2**63, "d": -(2**63) - 1, "e": 5})
    assert kept == {
        "a": 2**63 - 1,
        "b": -(2**63),
        "c": wide(2**63),
        "d": wide(-(2**63) - 1),
        "e": 5,
    }
    assert [type(kept[name]) for name in "abcde"] == [int, int, Decimal128, Decimal128, int]
    # Not integers as counted (an exponent, a large form): read through `decimal` all the same.
    assert whole(Decimal128("1.5E3")) == 1500 and whole(Decimal128(Decimal("12.0"))) == 12
