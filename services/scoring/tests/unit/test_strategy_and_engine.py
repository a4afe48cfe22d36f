"""Strategy matching, one assessment, and the engine reacting to events over in-memory state:
what is re-scored, what is announced, determinism of a replay, and the backtest's measures."""

from datetime import UTC, datetime, timedelta

import pytest
from crm_contracts import (
    CustomerCreated,
    CustomerScored,
    CustomerScoredPayload,
    CustomerUpdated,
    DealClosed,
    FinancialsRecorded,
    FollowupRevoked,
    OpportunityOpened,
    ProposalAccepted,
    ProposalCreated,
    StageChanged,
    VisitLogged,
)
from crm_scoring.domain.assessment import Assessment, assess
from crm_scoring.domain.features import Features, apply
from crm_scoring.domain.strategy import Segment, Strategy, StrategyDefinition, recommend
from crm_scoring.domain.value_model import score
from crm_scoring.domain.win_probability import WinCounts, WinModel, learn
from crm_scoring.engine import key_of, react, rescore
from crm_scoring.memory_state import InMemoryState
from crm_scoring.replay import Backtest, run
from pydantic import ValidationError

T0 = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
MODEL = "value-v1"


# --- builders -----------------------------------------------------------------------------------


def snapshot(counts: WinCounts | None = None, version: int = 1) -> WinModel:
    return WinModel(version, counts or WinCounts())


def strategy(
    strategy_id: str, *, priority: int = 0, active: bool = True, version: int = 1, **segment
) -> Strategy:
    return Strategy(
        strategy_id=strategy_id,
        version=version,
        name=f"strategy {strategy_id}",
        segment=Segment(**segment),
        contact_every_days=14,
        channel="visit",
        offer="a dedicated lane",
        owner_seniority=2,
        priority=priority,
        active=active,
    )


def created(customer_id: str, at: datetime = T0, **fields) -> CustomerCreated:
    return CustomerCreated(
        producer="customer",
        customer_id=customer_id,
        occurred_at=at,
        payload={"name": f"Customer {customer_id}", **fields},
    )


def updated(customer_id: str, changed: list[str], at: datetime = T0, **fields) -> CustomerUpdated:
    return CustomerUpdated(
        producer="customer",
        customer_id=customer_id,
        occurred_at=at,
        payload={"version": 2, "changed": changed, "fields": fields},
    )


def financials(customer_id: str, at: datetime = T0, **ratios) -> FinancialsRecorded:
    return FinancialsRecorded(
        producer="customer",
        customer_id=customer_id,
        occurred_at=at,
        payload={
            "statements": [{"year": 2024, "revenue": "1000000.00"}],
            "ratios": [{"year": 2024, **ratios}],
        },
    )


def visit(
    customer_id: str, followup_id: str, at: datetime = T0, channel: str = "visit"
) -> VisitLogged:
    return VisitLogged(
        producer="followup",
        customer_id=customer_id,
        occurred_at=at,
        payload={
            "followup_id": followup_id,
            "salesperson_id": "sp-0042",
            "channel": channel,
            "subject": "Freight tender",
            "started_at": at,
            "ended_at": at + timedelta(minutes=30),
        },
    )


def revoked(customer_id: str, followup_id: str, at: datetime = T0) -> FollowupRevoked:
    return FollowupRevoked(
        producer="followup",
        customer_id=customer_id,
        occurred_at=at,
        payload={"followup_id": followup_id, "reason": "entered twice"},
    )


def opened(customer_id: str, at: datetime = T0) -> OpportunityOpened:
    return OpportunityOpened(
        producer="followup",
        customer_id=customer_id,
        occurred_at=at,
        payload={
            "opportunity_id": f"op-{customer_id}",
            "stage": "qualified",
            "win_probability": 0.1,
        },
    )


def stage(customer_id: str, to_stage: str, probability: float, at: datetime) -> StageChanged:
    return StageChanged(
        producer="followup",
        customer_id=customer_id,
        occurred_at=at,
        payload={
            "opportunity_id": f"op-{customer_id}",
            "from_stage": "qualified",
            "to_stage": to_stage,
            "win_probability": probability,
            "seconds_in_previous_stage": 86400.0,
        },
    )


def proposal(customer_id: str, proposal_id: str, at: datetime = T0) -> ProposalCreated:
    return ProposalCreated(
        producer="followup",
        customer_id=customer_id,
        occurred_at=at,
        payload={
            "proposal_id": proposal_id,
            "revision": 1,
            "needs": ["weekly lane"],
            "solution": "Two trucks a week",
        },
    )


def accepted(customer_id: str, proposal_id: str, at: datetime = T0) -> ProposalAccepted:
    return ProposalAccepted(
        producer="followup",
        customer_id=customer_id,
        occurred_at=at,
        payload={"proposal_id": proposal_id, "revision": 1},
    )


def deal(customer_id: str, deal_id: str, outcome: str = "won", at: datetime = T0) -> DealClosed:
    facts = (
        {"amount": "350000.00", "currency": "CNY"} if outcome == "won" else {"lost_reason": "price"}
    )
    return DealClosed(
        producer="followup",
        customer_id=customer_id,
        occurred_at=at,
        payload={"deal_id": deal_id, "outcome": outcome, **facts},
    )


# --- strategy matching --------------------------------------------------------------------------


def test_a_strategy_with_an_empty_segment_matches_every_customer():
    catch_all = strategy("s-all")
    for tier, industry, region, size in (("A", "retail", "east", "large"), ("D", None, None, None)):
        assert recommend([catch_all], tier, industry, region, size) == catch_all


@pytest.mark.parametrize(("tier", "fits"), [("A", True), ("B", True), ("C", False), ("D", False)])
def test_a_strategy_for_some_tiers_matches_only_them(tier, fits):
    chosen = recommend([strategy("s-ab", tiers=["A", "B"])], tier, "retail", "east", "large")
    assert (chosen is not None) == fits


@pytest.mark.parametrize(
    ("industry", "fits"),
    [
        ("cold chain", True),
        ("Cold Chain", True),
        ("  COLD CHAIN ", True),
        ("retail", False),
        (None, False),
    ],
)
def test_a_strategy_for_some_industries_matches_them_case_insensitively(industry, fits):
    chosen = recommend(
        [strategy("s-cc", industries=["Cold Chain ", "automotive"])], "B", industry, "east", "large"
    )
    assert (chosen is not None) == fits


@pytest.mark.parametrize(
    ("region", "fits"),
    [("east", True), ("EAST", True), ("south", True), ("west", False), (None, False)],
)
def test_a_strategy_for_some_regions_matches_only_them(region, fits):
    chosen = recommend(
        [strategy("s-es", regions=["East", "south"])], "B", "retail", region, "large"
    )
    assert (chosen is not None) == fits


@pytest.mark.parametrize(
    ("size", "fits"), [("large", True), ("Large", True), ("medium", False), (None, False)]
)
def test_a_strategy_for_some_sizes_matches_only_them(size, fits):
    chosen = recommend([strategy("s-l", sizes=["large"])], "C", "retail", "east", size)
    assert (chosen is not None) == fits


def test_a_strategy_matches_only_when_every_criterion_fits():
    narrow = strategy(
        "s-narrow", tiers=["A"], industries=["retail"], regions=["east"], sizes=["large"]
    )
    assert recommend([narrow], "A", "retail", "east", "large") == narrow
    assert recommend([narrow], "A", "retail", "east", "small") is None
    assert recommend([narrow], "A", "retail", "west", "large") is None
    assert recommend([narrow], "B", "retail", "east", "large") is None


def test_the_most_specific_strategy_wins_over_a_higher_priority():
    general = strategy("s-general", priority=100)
    by_tier = strategy("s-tier", priority=50, tiers=["A"])
    by_tier_and_industry = strategy(
        "s-tier-industry", priority=-5, tiers=["A"], industries=["retail"]
    )
    assert (
        recommend([general, by_tier, by_tier_and_industry], "A", "retail", "east", "large")
        == by_tier_and_industry
    )
    assert recommend([general, by_tier], "A", "retail", "east", "large") == by_tier


def test_priority_breaks_ties_between_equally_specific_strategies():
    by_region = strategy("s-a-region", priority=1, regions=["east"])
    by_size = strategy("s-b-size", priority=7, sizes=["large"])
    assert recommend([by_region, by_size], "B", "retail", "east", "large") == by_size
    assert recommend([by_size, by_region], "B", "retail", "east", "large") == by_size


def test_the_id_breaks_the_remaining_ties():
    first, second = strategy("s-001", industries=["retail"]), strategy("s-002", regions=["east"])
    assert recommend([second, first], "B", "retail", "east", "large") == first
    assert recommend([first, second], "B", "retail", "east", "large") == first


def test_an_inactive_strategy_is_never_recommended():
    inactive = strategy("s-inactive", active=False, tiers=["A"], industries=["retail"], priority=99)
    fallback = strategy("s-fallback")
    assert recommend([inactive, fallback], "A", "retail", "east", "large") == fallback
    assert recommend([inactive], "A", "retail", "east", "large") is None


def test_no_fitting_strategy_gives_none():
    assert recommend([], "A", "retail", "east", "large") is None
    assert (
        recommend(
            [strategy("s-d", tiers=["D"]), strategy("s-mining", industries=["mining"])],
            "A",
            "retail",
            "east",
            "large",
        )
        is None
    )


def test_a_strategy_segment_refuses_unknown_criteria_and_unknown_tiers():
    with pytest.raises(ValidationError):
        Segment(channels=["visit"])
    with pytest.raises(ValidationError):
        Segment(tiers=["E"])


@pytest.mark.parametrize("days", [0, 366])
def test_a_strategy_contacts_between_every_day_and_once_a_year(days):
    with pytest.raises(ValidationError):
        StrategyDefinition(
            name="x", contact_every_days=days, channel="call", offer="o", owner_seniority=1
        )


# --- one assessment -----------------------------------------------------------------------------


def test_assess_combines_value_win_probability_and_strategy():
    features = Features(
        as_of=T0,
        monthly_freight_volume_tons=1200.0,
        size="large",
        nature="state_owned",
        industry="Cold Chain",
        region="east",
    )
    counts = learn(WinCounts(), features.segment(), "won")
    catalogue = [strategy("s-b", tiers=["B"], industries=["cold chain"]), strategy("s-any")]
    result = assess(features, snapshot(counts), catalogue, MODEL)
    assert result.value == score(features, features.as_of, MODEL)
    assert (result.value.score, result.value.tier) == (50, "B")
    assert result.win.probability == round(
        2 / 3, 4
    )  # one win: (1+1)/(0+1) odds, too few for the values
    assert result.strategy.strategy_id == "s-b"


def test_an_assessment_key_is_score_tier_probability_strategy_and_model():
    result = assess(
        Features(monthly_freight_volume_tons=1200.0),
        snapshot(WinCounts(), version=7),
        [strategy("s-any", version=3)],
        MODEL,
    )
    assert result.key() == (25, "C", 0.5, ("s-any", 3), "value-v1")  # not the snapshot's 7
    assert key_of(result) == [25, "C", 0.5, ["s-any", 3], "value-v1"]
    assert assess(Features(), snapshot(WinCounts()), [], MODEL).key() == (
        0,
        "D",
        0.5,
        None,
        "value-v1",
    )


def test_a_new_snapshot_alone_is_no_change_worth_announcing():
    features = Features(industry="retail", as_of=T0)
    older = assess(features, snapshot(WinCounts(), version=1), [], MODEL)
    newer = assess(features, snapshot(WinCounts(), version=9), [], MODEL)
    assert (older.snapshot, newer.snapshot) == (1, 9)
    assert older.key() == newer.key() and key_of(older) == key_of(newer)
    assert (older.payload().model_snapshot, newer.payload().model_snapshot) == (1, 9)


def test_the_longest_regions_and_industries_still_make_a_valid_customer_scored():
    # The contract allows 500 characters for each; a reason quoting one must still fit.
    features = Features(as_of=T0, industry="i" * 500, region="r" * 500, size="large")
    counts = WinCounts()
    for _ in range(6):
        counts = learn(counts, features.segment(), "won")
    payload = assess(features, snapshot(counts), [], MODEL).payload()
    texts = [
        *payload.reasons,
        *(c.reason for c in payload.contributions),
        *(e.reason for e in payload.probability_contributions),
    ]
    assert any(text.endswith("…") for text in texts), "some were cut"
    assert max(map(len, texts)) <= 500
    CustomerScored(producer="scoring", customer_id="c-1", payload=payload)


def test_the_value_is_scored_at_the_customers_own_time():
    followed_up = {"fu-1": {"channel": "call", "at": T0.isoformat(), "revoked": False}}
    fresh = Features(followups=followed_up, as_of=T0 + timedelta(days=1))
    stale = Features(followups=followed_up, as_of=T0 + timedelta(days=200))
    recency = "engagement.recency"
    points = {
        name: next(
            c.points
            for c in assess(f, snapshot(), [], MODEL).value.contributions
            if c.factor == recency
        )
        for name, f in (("fresh", fresh), ("stale", stale))
    }
    assert points["fresh"] > points["stale"] == 0


def test_the_same_inputs_give_the_same_assessment():
    features = Features(
        industry="retail",
        followups={"fu-1": {"channel": "call", "at": T0.isoformat(), "revoked": False}},
    )
    first = assess(features, snapshot(WinCounts()), [strategy("s-any")], MODEL)
    assert assess(features, snapshot(WinCounts()), [strategy("s-any")], MODEL) == first


def test_assess_uses_the_models_alpha_and_min_support():
    segment = {"industry": "retail"}
    counts = WinCounts()
    for _ in range(4):
        counts = learn(counts, segment, "won")
    for _ in range(4):
        counts = learn(counts, {"industry": "mining"}, "lost")
    four = assess(Features(industry="retail"), snapshot(counts), [], MODEL)
    assert four.win.effects[0].log_odds == 0.0  # value-v1: min_support 5
    five = assess(Features(industry="retail"), snapshot(learn(counts, segment, "won")), [], MODEL)
    assert five.win.effects[0].log_odds > 0


def test_the_payload_of_a_customer_we_know_nothing_about_says_no_signals_yet():
    payload = assess(Features(), snapshot(WinCounts()), [], MODEL).payload()
    assert isinstance(payload, CustomerScoredPayload)
    assert (payload.score, payload.tier, payload.win_probability, payload.rule_version) == (
        0,
        "D",
        0.5,
        "value-v1",
    )
    assert payload.reasons == ["no signals yet"]
    assert payload.strategy is None
    assert payload.prior_log_odds == 0.0
    assert payload.probability_contributions == []
    assert len(payload.contributions) == 15 and all(c.points == 0 for c in payload.contributions)


def test_the_payload_explains_the_score_and_the_probability():
    features = Features(
        monthly_freight_volume_tons=1200.0, size="large", industry="retail", credit={"defaults": 1}
    )
    counts = WinCounts()
    for outcome in ("won", "won", "lost"):
        counts = learn(counts, features.segment(), outcome)
    chosen = strategy("s-retail", industries=["retail"], version=2)
    assessment = assess(features, snapshot(counts), [chosen], MODEL)
    payload = assessment.payload()
    assert payload.reasons == [
        "+25 freight volume 1200 t/month",
        "+10 size large",
        "+4 industry retail",
        "+2 1 default(s), 0 lawsuit(s)",
    ]
    assert (
        sum(c.points for c in payload.contributions)
        == payload.score
        == assessment.value.score
        == 41
    )
    assert [c.factor for c in payload.contributions][:2] == ["fit.freight_volume", "fit.size"]
    assert payload.prior_log_odds == round(assessment.win.prior_log_odds, 6)
    assert [(p.feature, p.value) for p in payload.probability_contributions] == [
        ("freight_band", "1000t+"),
        ("industry", "retail"),
        ("size", "large"),
    ]
    assert payload.strategy.model_dump() == {
        "strategy_id": "s-retail",
        "version": 2,
        "name": "strategy s-retail",
        "contact_every_days": 14,
        "channel": "visit",
        "offer": "a dedicated lane",
        "owner_seniority": 2,
    }


# --- the engine ---------------------------------------------------------------------------------


async def test_a_customer_created_yields_one_assessment():
    state = InMemoryState()
    emitted = await react(
        state, created("c-1", industry="retail", monthly_freight_volume_tons=300.0), MODEL
    )
    assert len(emitted) == 1
    customer_id, assessment = emitted[0]
    assert customer_id == "c-1"
    assert isinstance(assessment, Assessment)
    assert assessment.value.score == score(state.known["c-1"], T0, MODEL).score > 0
    assert state.known["c-1"].industry == "retail"
    assert state.results["c-1"] == key_of(assessment)


async def test_the_same_event_again_yields_nothing():
    state = InMemoryState()
    event = created("c-1", industry="retail", size="large")
    assert len(await react(state, event, MODEL)) == 1
    known, results = dict(state.known), dict(state.results)
    assert await react(state, event, MODEL) == []
    assert (state.known, state.results) == (known, results)


async def test_an_event_that_changes_nothing_scoring_uses_yields_nothing():
    state = InMemoryState()
    await react(state, created("c-1", industry="retail"), MODEL)
    before = state.known["c-1"]
    assert await react(state, updated("c-1", ["address"], address="88 Century Avenue"), MODEL) == []
    assert state.known["c-1"] is before


async def test_a_change_that_moves_no_score_is_kept_but_not_announced():
    state = InMemoryState()
    await react(state, created("c-1", industry="cold chain"), MODEL)
    assert await react(state, updated("c-1", ["industry"], industry="Cold Chain"), MODEL) == []
    assert state.known["c-1"].industry == "Cold Chain"


async def test_an_older_stage_change_arriving_late_yields_nothing():
    state = InMemoryState()
    await react(state, created("c-1"), MODEL)
    assert (
        len(await react(state, stage("c-1", "negotiation", 0.8, T0 + timedelta(days=5)), MODEL))
        == 1
    )
    assert await react(state, stage("c-1", "proposal", 0.5, T0 + timedelta(days=2)), MODEL) == []
    assert state.known["c-1"].stage == "negotiation"


async def test_a_score_moves_after_financials_recorded():
    state = InMemoryState()
    [(_, first)] = await react(state, created("c-1", industry="retail"), MODEL)
    [(customer_id, second)] = await react(
        state,
        financials(
            "c-1",
            T0 + timedelta(days=1),
            current_ratio=1.5,
            debt_to_asset_ratio=0.4,
            sales_profit_margin=0.08,
        ),
        MODEL,
    )
    assert customer_id == "c-1"
    assert second.value.score == first.value.score + 16  # 6.25 + 5 + 5 = 16.25 points
    assert state.results["c-1"] == key_of(second)


async def test_a_score_moves_after_visit_logged_and_back_after_its_revocation():
    state = InMemoryState()
    [(_, first)] = await react(state, created("c-1", industry="retail"), MODEL)
    [(_, visited)] = await react(state, visit("c-1", "fu-1", T0 + timedelta(days=1)), MODEL)
    assert visited.value.score == first.value.score + 11  # recency 10 + one of six follow-ups 1.25
    [(_, withdrawn)] = await react(state, revoked("c-1", "fu-1", T0 + timedelta(days=2)), MODEL)
    assert withdrawn.value.score == first.value.score


async def test_a_deal_closed_is_recorded_for_the_next_snapshot_not_learnt_at_once():
    state = InMemoryState()
    await react(state, created("c-1", industry="retail"), MODEL)
    before = state.results["c-1"]
    assert await react(state, deal("c-1", "d-1", "won"), MODEL) == []  # nothing moved yet
    assert state.pending == {"d-1"} and state.snapshot.version == 0
    assert state.results["c-1"] == before
    assert state.known["c-1"].deals == {"d-1": "won"}


async def test_a_snapshot_learns_each_deal_under_every_key_of_its_customers_segment():
    state = InMemoryState()
    await react(
        state,
        created("c-1", industry="Retail", region="east", monthly_freight_volume_tons=600.0),
        MODEL,
    )
    await react(state, deal("c-1", "d-1", "won"), MODEL)
    await state.publish(MODEL)
    assert state.snapshot.version == 1 and not state.pending
    assert dict(state.snapshot.counts.by_key) == {
        "*": (1, 0),
        "freight_band=500-1000t": (1, 0),
        "industry=retail": (1, 0),
        "nature=other": (1, 0),
        "region=east": (1, 0),
    }


async def test_a_snapshot_re_scores_every_customer_it_moves_whatever_the_industry():
    state = InMemoryState()
    for event in (
        created("x", industry="retail"),
        created("y", industry="retail"),
        created("z", industry="mining"),
    ):
        await react(state, event, MODEL)
    await react(state, deal("x", "d-1", "won", T0 + timedelta(days=3)), MODEL)
    rescored = await state.publish(MODEL)
    assert [customer_id for customer_id, _ in rescored] == ["x", "y", "z"]
    assert {a.win.probability for _, a in rescored} == {round(2 / 3, 4)}
    assert {a.snapshot for _, a in rescored} == {1}
    assert state.results["z"][2] == 0.67 and state.scored_with == {"x": 1, "y": 1, "z": 1}


async def test_a_won_deal_of_a_similar_customer_raises_the_win_probability():
    state = InMemoryState()
    for event in (created("x", industry="retail"), created("y", industry="Retail ")):
        await react(state, event, MODEL)
    await react(state, deal("x", "d-1", "won"), MODEL)
    assert dict(await state.publish(MODEL))["y"].win.probability > 0.5


async def test_a_lost_deal_of_a_similar_customer_lowers_the_win_probability():
    state = InMemoryState()
    for event in (created("x", industry="retail"), created("y", industry="retail")):
        await react(state, event, MODEL)
    await react(state, deal("x", "d-1", "lost"), MODEL)
    assert dict(await state.publish(MODEL))["y"].win.probability == round(1 / 3, 4)


async def test_a_snapshot_that_moves_no_announced_probability_re_scores_nobody():
    state = InMemoryState()
    for event in (created("m", industry="mining"), created("r", industry="retail")):
        await react(state, event, MODEL)
    for n in range(30):
        await react(state, deal("m", f"won-{n}", "won"), MODEL)
        await react(state, deal("m", f"lost-{n}", "lost"), MODEL)
    await state.publish(MODEL)
    results = dict(state.results)
    await react(state, deal("m", "won-30", "won"), MODEL)
    await react(state, deal("m", "lost-30", "lost"), MODEL)
    assert await state.publish(MODEL) == []
    assert state.snapshot.version == 2 and state.results == results


async def test_no_deal_waiting_builds_no_snapshot():
    state = InMemoryState()
    await react(state, created("x", industry="retail"), MODEL)
    assert await state.publish(MODEL) == [] and state.snapshot.version == 0


async def test_a_deal_known_before_its_customer_counts_under_the_segment_the_customer_has():
    state = InMemoryState()
    await react(state, deal("x", "d-1", "won"), MODEL)  # the follow-up topic was ahead
    await react(state, created("x", industry="retail", region="east"), MODEL)
    await state.publish(MODEL)
    assert dict(state.snapshot.counts.by_key) == {
        "*": (1, 0),
        "industry=retail": (1, 0),
        "nature=other": (1, 0),
        "region=east": (1, 0),
    }


async def test_a_customer_moving_segment_takes_its_deals_along_in_the_next_snapshot():
    state = InMemoryState()
    await react(state, created("x", industry="retail"), MODEL)
    await react(state, deal("x", "d-1", "won"), MODEL)
    await state.publish(MODEL)
    await react(state, updated("x", ["industry"], T0 + timedelta(days=1), industry="mining"), MODEL)
    assert state.pending == {"d-1"}
    await state.publish(MODEL)
    assert dict(state.snapshot.counts.by_key) == {
        "*": (1, 0),
        "industry=mining": (1, 0),
        "nature=other": (1, 0),
    }


async def test_an_outcome_corrected_later_changes_the_features_not_what_was_learnt():
    state = InMemoryState()
    await react(state, created("x", industry="retail"), MODEL)
    await react(state, deal("x", "d-1", "won"), MODEL)
    await react(state, deal("x", "d-1", "lost", T0 + timedelta(days=1)), MODEL)
    await state.publish(MODEL)
    assert state.known["x"].deals == {"d-1": "lost"}
    assert (state.snapshot.counts.won, state.snapshot.counts.lost) == (1, 0)


async def test_the_final_results_do_not_depend_on_when_snapshots_were_built():
    history = mixed_history()
    [often] = await run([MODEL], history, snapshot_every_deals=1)
    # The first deal makes a snapshot at once, the next one only the end of the history.
    [rarely] = await run([MODEL], history, snapshot_every_deals=10_000, snapshot_every_s=1e9)
    assert often.state.snapshot.version > rarely.state.snapshot.version == 2
    assert often.emitted != rarely.emitted
    assert often.state.results == rarely.state.results
    assert often.state.snapshot.counts == rarely.state.snapshot.counts


async def test_the_final_results_do_not_depend_on_how_the_two_topics_interleave():
    history = mixed_history()
    customer_topic = [
        e for e in history if isinstance(e, (CustomerCreated, CustomerUpdated, FinancialsRecorded))
    ]
    follow_up_topic = [e for e in history if e not in customer_topic]
    in_time, follow_ups_first = InMemoryState(), InMemoryState()
    for state, events in ((in_time, history), (follow_ups_first, follow_up_topic + customer_topic)):
        for event in events:
            await react(state, event, MODEL)
        await state.publish(MODEL)
    assert follow_ups_first.known == in_time.known
    assert follow_ups_first.snapshot.counts == in_time.snapshot.counts
    assert follow_ups_first.results == in_time.results


async def test_a_new_strategy_version_is_announced_with_the_next_event():
    state = InMemoryState(catalogue=[strategy("s-any", version=1)])
    [(_, first)] = await react(state, created("c-1", industry="retail"), MODEL)
    assert first.strategy.version == 1
    state.catalogue = [strategy("s-any", version=2)]
    [(_, second)] = await react(state, visit("c-1", "fu-1", T0 - timedelta(days=400)), MODEL)
    assert second.strategy.version == 2
    assert state.results["c-1"][3] == ["s-any", 2]


async def test_rescore_announces_only_a_changed_key():
    state = InMemoryState()
    features = Features(industry="retail", as_of=T0)
    first = await rescore(state, "c-1", features, MODEL)
    assert first is not None
    assert await rescore(state, "c-1", features, MODEL) is None
    assert (
        await rescore(state, "c-1", features, "value-v2") is not None
    )  # the model is part of the key


async def test_in_memory_state_keeps_what_it_is_given():
    state = InMemoryState()
    assert await state.features("nobody") == Features()
    assert await state.last("nobody") is None
    await state.learn("d-1", "c-1", "won")
    await state.learn("d-1", "c-1", "lost")
    assert state.deals["d-1"].outcome == "won" and state.pending == {"d-1"}
    assert (await state.model()).version == 0
    assert await state.strategies() == []


# --- replay and backtest ------------------------------------------------------------------------


def mixed_history() -> list:
    """Fifty-odd events of six customers in two industries, in time order."""
    day = timedelta(days=1)
    events = [
        created(
            "c-1",
            at=T0,
            industry="retail",
            region="east",
            size="large",
            monthly_freight_volume_tons=800.0,
        ),
        created(
            "c-2",
            at=T0 + 0.1 * day,
            industry="retail",
            region="west",
            size="small",
            monthly_freight_volume_tons=30.0,
        ),
        created(
            "c-3",
            at=T0 + 0.2 * day,
            industry="mining",
            region="north",
            size="medium",
            monthly_freight_volume_tons=250.0,
            credit={"defaults": 1},
        ),
        created(
            "c-4",
            at=T0 + 0.3 * day,
            industry="Retail",
            region="east",
            size="large",
            nature="state_owned",
        ),
        created("c-5", at=T0 + 0.4 * day, industry="mining", size="micro"),
        created(
            "c-6",
            at=T0 + 0.5 * day,
            industry="cold chain",
            region="south",
            monthly_freight_volume_tons=1500.0,
        ),
    ]
    for i, customer_id in enumerate(("c-1", "c-2", "c-3", "c-4", "c-5", "c-6")):
        at = T0 + (i + 1) * day
        events += [
            visit(customer_id, f"fu-{customer_id}-1", at),
            financials(
                customer_id,
                at + 0.1 * day,
                current_ratio=0.9 + 0.15 * i,
                debt_to_asset_ratio=0.8 - 0.07 * i,
                sales_profit_margin=0.01 * i,
            ),
            opened(customer_id, at + 0.2 * day),
        ]
    later = T0 + 10 * day
    events += [
        visit("c-1", "fu-c-1-2", later, "call"),
        stage("c-1", "proposal", 0.5, later + 0.1 * day),
        proposal("c-1", "pr-1", later + 0.2 * day),
        visit("c-2", "fu-c-2-2", later + 0.3 * day, "email"),
        revoked("c-2", "fu-c-2-1", later + 0.4 * day),
        stage("c-3", "negotiation", 0.75, later + 0.5 * day),
        proposal("c-3", "pr-3", later + 0.6 * day),
        accepted("c-3", "pr-3", later + 0.7 * day),
        deal("c-3", "d-3", "won", later + 0.8 * day),
        deal("c-2", "d-2", "lost", later + 0.9 * day),
        updated("c-5", ["size", "region"], later + day, size="large", region="east"),
        visit("c-4", "fu-c-4-2", later + 1.1 * day, "meeting"),
        stage("c-4", "proposal", 0.5, later + 1.2 * day),
        deal("c-4", "d-4", "won", later + 1.3 * day),
        deal("c-5", "d-5", "lost", later + 1.4 * day),
        stage("c-1", "negotiation", 0.75, later + 1.5 * day),
        accepted("c-1", "pr-1", later + 1.6 * day),
        deal("c-1", "d-1", "won", later + 1.7 * day),
        deal("c-6", "d-6", "lost", later + 1.8 * day),
        visit("c-6", "fu-c-6-2", later + 2 * day, "call"),
        updated("c-6", ["address"], later + 2.1 * day, address="1 Harbour Road"),
        created(
            "c-1",
            at=T0,
            industry="retail",
            region="east",
            size="large",
            monthly_freight_volume_tons=800.0,
        ),
        deal("c-2", "d-2b", "won", later + 2.2 * day),
        visit("c-5", "fu-c-5-2", later + 2.3 * day),
        proposal("c-4", "pr-4", later + 2.4 * day),
        visit("c-3", "fu-c-3-2", later + 2.5 * day, "call"),
        revoked("c-6", "fu-c-6-2", later + 2.6 * day),
        deal("c-5", "d-5b", "won", later + 2.7 * day),
    ]
    return events


async def test_a_replay_of_the_same_events_twice_emits_the_same_results():
    history = mixed_history()
    assert len(history) >= 50
    first = await run([MODEL, "value-v2"], history)
    second = await run([MODEL, "value-v2"], history)
    assert [t.emitted for t in first] == [t.emitted for t in second]
    assert [t.predictions for t in first] == [t.predictions for t in second]
    assert len(first[0].emitted) > 20
    assert first[0].emitted != first[1].emitted  # two models, two different sets of scores


async def test_a_replay_does_not_depend_on_event_ids():
    first, second = await run([MODEL], mixed_history()), await run([MODEL], mixed_history())
    assert first[0].emitted == second[0].emitted
    assert first[0].state.snapshot.counts == second[0].state.snapshot.counts


async def test_a_backtest_emits_what_the_engine_emits():
    history = mixed_history()
    [test] = await run([MODEL], history)
    state, emitted = InMemoryState(), []
    for event in history:  # events at least hours apart: any deal waiting makes a snapshot
        rescored = [*await state.publish(MODEL), *await react(state, event, MODEL)]
        emitted += [(customer_id, key_of(a)) for customer_id, a in rescored]
    emitted += [(customer_id, key_of(a)) for customer_id, a in await state.publish(MODEL)]
    assert test.emitted == emitted


async def test_a_backtest_records_one_prediction_per_deal_made_before_the_deal():
    history = mixed_history()
    [test] = await run([MODEL], history)
    deals = [e for e in history if isinstance(e, DealClosed)]
    assert [won for _, _, won in test.predictions] == [e.payload.outcome == "won" for e in deals]
    assert test.predictions[0][0] == 0.5  # the first deal: nothing learnt yet
    assert all(tier in "ABCD" for _, tier, _ in test.predictions)


async def test_a_backtest_prediction_is_what_the_customer_scored_just_before_its_deal():
    test = Backtest(MODEL)
    for event in (
        created("x", industry="retail"),
        created("y", industry="retail"),
        deal("x", "d-1", "won"),
    ):
        await test.feed(event)
    await test.feed(deal("y", "d-2", "lost"))
    assert test.predictions == [(0.5, "D", True), (round(2 / 3, 4), "D", False)]


def test_auc_of_a_perfect_ranking_is_one():
    test = Backtest(
        MODEL,
        predictions=[(0.9, "A", True), (0.8, "B", True), (0.3, "C", False), (0.1, "D", False)],
    )
    assert test.auc() == 1.0


def test_auc_of_an_inverse_ranking_is_zero():
    test = Backtest(
        MODEL,
        predictions=[(0.1, "D", True), (0.2, "D", True), (0.8, "A", False), (0.9, "A", False)],
    )
    assert test.auc() == 0.0


def test_auc_counts_ties_as_half():
    assert Backtest(MODEL, predictions=[(0.5, "C", True), (0.5, "C", False)]).auc() == 0.5
    assert (
        Backtest(MODEL, predictions=[(0.5, "C", True), (0.7, "C", True), (0.5, "C", False)]).auc()
        == 0.75
    )


def test_auc_of_a_mixed_ranking_is_the_share_of_well_ordered_pairs():
    test = Backtest(
        MODEL,
        predictions=[(0.9, "A", True), (0.4, "C", True), (0.6, "B", False), (0.2, "D", False)],
    )
    assert test.auc() == 0.75  # 3 of the 4 won/lost pairs are ranked right


@pytest.mark.parametrize(
    "predictions", [[], [(0.7, "A", True), (0.2, "D", True)], [(0.7, "A", False)]]
)
def test_auc_needs_both_won_and_lost_deals(predictions):
    assert Backtest(MODEL, predictions=predictions).auc() is None


def test_win_rates_compare_tier_a_with_the_rest():
    test = Backtest(
        MODEL,
        predictions=[
            (0.9, "A", True),
            (0.8, "A", True),
            (0.7, "A", False),
            (0.6, "B", True),
            (0.4, "C", False),
            (0.3, "D", False),
            (0.2, "D", False),
        ],
    )
    tier_a, rest = test.win_rates()
    assert tier_a == pytest.approx(2 / 3)
    assert rest == 0.25


def test_win_rates_without_deals_in_a_group_are_none():
    assert Backtest(MODEL).win_rates() == (None, None)
    assert Backtest(MODEL, predictions=[(0.9, "A", True)]).win_rates() == (1.0, None)
    assert Backtest(MODEL, predictions=[(0.1, "D", False)]).win_rates() == (None, 0.0)


async def test_a_replay_starts_from_empty_state_every_time():
    history = mixed_history()
    [test] = await run([MODEL], history)
    counts = test.state.snapshot.counts
    assert counts.won + counts.lost == len(
        {e.payload.deal_id for e in history if isinstance(e, DealClosed)}
    )
    [again] = await run([MODEL], history)
    assert again.state.snapshot.counts == counts
    assert again.state is not test.state


async def test_the_engine_stores_the_features_the_events_build():
    events = [
        created("c-1", industry="retail"),
        visit("c-1", "fu-1"),
        proposal("c-1", "pr-1"),
        revoked("c-1", "fu-1", T0 + timedelta(hours=1)),
        deal("c-1", "d-1", "lost"),
    ]
    state, features = InMemoryState(), Features()
    for event in events:
        await react(state, event, MODEL)
        features = apply(features, event)
    assert state.known["c-1"] == features
    assert features.proposals == {"pr-1": "open"} and features.deals == {"d-1": "lost"}
