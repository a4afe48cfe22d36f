"""What scoring knows of one customer, built from events: every event's effect, idempotence,
tolerance of order, the segment and the freight bands. Pure: no I/O."""

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from crm_contracts import (
    CompetitorRecorded,
    CustomerCreated,
    CustomerUpdated,
    DealClosed,
    FinancialsRecorded,
    FollowupRevoked,
    FollowupUpdated,
    OpportunityOpened,
    ProposalAccepted,
    ProposalCreated,
    ProposalRejected,
    ProposalRevised,
    ProposalWithdrawn,
    StageChanged,
    VisitLogged,
    parse_event,
)
from crm_scoring.domain.features import FREIGHT_BANDS, Features, apply, freight_band

SAMPLES = Path(__file__).resolve().parents[4] / "contracts" / "samples"
CID = "cust-0001"
T0 = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def sample(event_type: str, name: str):
    return parse_event((SAMPLES / event_type / "v1" / f"{name}.json").read_bytes())


def replay(*events, start: Features | None = None) -> Features:
    features = start or Features()
    for event in events:
        features = apply(features, event)
    return features


# --- event builders -----------------------------------------------------------------------------


def created(at=T0, **fields) -> CustomerCreated:
    payload = {"name": "Huadong Cold Chain Co., Ltd.", **fields}
    return CustomerCreated(producer="customer", customer_id=CID, occurred_at=at, payload=payload)


def updated(changed: list[str], at=T0, **fields) -> CustomerUpdated:
    return CustomerUpdated(
        producer="customer",
        customer_id=CID,
        occurred_at=at,
        payload={"version": 2, "changed": changed, "fields": fields},
    )


def financials(*ratios: dict, at=T0) -> FinancialsRecorded:
    return FinancialsRecorded(
        producer="customer",
        customer_id=CID,
        occurred_at=at,
        payload={"statements": [{"year": 2024, "revenue": "1000000.00"}], "ratios": list(ratios)},
    )


def visit(followup_id="fu-1", channel="visit", started=T0, at=None) -> VisitLogged:
    return VisitLogged(
        producer="followup",
        customer_id=CID,
        occurred_at=at or started,
        payload={
            "followup_id": followup_id,
            "salesperson_id": "sp-0042",
            "channel": channel,
            "subject": "Warehouse tour",
            "started_at": started,
            "ended_at": started + timedelta(hours=1),
        },
    )


def corrected(
    followup_id="fu-1", version=2, channel="visit", started=T0, salesperson_id="sp-0042"
) -> FollowupUpdated:
    """A FollowupUpdated carrying the follow-up as it is after its `version`-th change."""
    return FollowupUpdated(
        producer="followup",
        customer_id=CID,
        occurred_at=T0 + timedelta(hours=version),
        payload={
            "followup_id": followup_id,
            "version": version,
            "changed": ["started_at", "ended_at", "channel", "salesperson_id"],
            "followup": {
                "followup_id": followup_id,
                "salesperson_id": salesperson_id,
                "channel": channel,
                "subject": "Warehouse tour",
                "started_at": started,
                "ended_at": started + timedelta(hours=1),
            },
        },
    )


def revoked(followup_id="fu-1", at=T0) -> FollowupRevoked:
    return FollowupRevoked(
        producer="followup",
        customer_id=CID,
        occurred_at=at,
        payload={"followup_id": followup_id, "reason": "entered twice"},
    )


def opened(stage="qualified", probability=0.1, at=T0, opportunity_id="op-1") -> OpportunityOpened:
    return OpportunityOpened(
        producer="followup",
        customer_id=CID,
        occurred_at=at,
        payload={"opportunity_id": opportunity_id, "stage": stage, "win_probability": probability},
    )


def stage_changed(
    to_stage: str, probability: float, at: datetime, from_stage="qualified"
) -> StageChanged:
    return StageChanged(
        producer="followup",
        customer_id=CID,
        occurred_at=at,
        payload={
            "opportunity_id": "op-1",
            "from_stage": from_stage,
            "to_stage": to_stage,
            "win_probability": probability,
            "seconds_in_previous_stage": 3600.0,
        },
    )


def proposal(kind=ProposalCreated, proposal_id="pr-1", revision=1, at=T0):
    return kind(
        producer="followup",
        customer_id=CID,
        occurred_at=at,
        payload={
            "proposal_id": proposal_id,
            "revision": revision,
            "needs": ["weekly Shanghai-Chengdu lane"],
            "solution": "Two reefer trucks a week",
        },
    )


def decision(kind, proposal_id="pr-1", at=T0):
    return kind(
        producer="followup",
        customer_id=CID,
        occurred_at=at,
        payload={"proposal_id": proposal_id, "revision": 1},
    )


def deal(outcome="won", deal_id="deal-1", at=T0) -> DealClosed:
    facts = (
        {"amount": "350000.00", "currency": "CNY"} if outcome == "won" else {"lost_reason": "price"}
    )
    return DealClosed(
        producer="followup",
        customer_id=CID,
        occurred_at=at,
        payload={"deal_id": deal_id, "outcome": outcome, **facts},
    )


# --- a customer we know nothing about -----------------------------------------------------------


def test_a_customer_we_know_nothing_about_has_empty_features():
    features = Features()
    assert features.segment() == {}
    assert features.active_followups() == []
    assert (features.stage, features.stage_probability, features.stage_at) == (None, None, None)
    assert (features.followups, features.proposals, features.deals) == ({}, {}, {})


def test_features_are_frozen():
    with pytest.raises(ValueError):
        Features().industry = "retail"  # type: ignore[misc]


# --- CustomerCreated ----------------------------------------------------------------------------


def test_customer_created_sets_the_profile_from_the_full_sample():
    features = apply(Features(), sample("CustomerCreated", "full"))
    assert features.monthly_freight_volume_tons == 1200.0
    assert (features.industry, features.region, features.size) == ("cold chain", "east", "large")
    assert features.nature == "private_enterprise"
    assert type(features.nature) is str  # the enum's plain value, not the enum
    assert features.credit is None


def test_a_minimal_customer_created_is_of_nature_other_and_nothing_else():
    features = apply(Features(), sample("CustomerCreated", "minimal"))
    assert features.nature == "other"
    assert (
        features.industry
        is features.region
        is features.size
        is features.monthly_freight_volume_tons
        is None
    )
    assert features.segment() == {"nature": "other"}


def test_customer_created_keeps_the_credit_report_as_plain_json():
    features = apply(
        Features(),
        created(credit={"defaults": 1, "lawsuits": 2, "current_liabilities": "5200000.00"}),
    )
    assert features.credit == {
        "defaults": 1,
        "lawsuits": 2,
        "current_liabilities": "5200000.00",
        "contingent_liabilities": None,
        "guarantees": None,
    }


def test_customer_created_touches_only_the_profile_and_credit():
    before = Features(
        stage="proposal",
        stage_probability=0.5,
        stage_at=T0,
        deals={"d": "won"},
        proposals={"p": "open"},
        ratios={"year": 2024, "current_ratio": 1.2},
    )
    after = apply(before, created(industry="retail"))
    assert after.industry == "retail"
    assert (after.stage, after.deals, after.proposals, after.ratios) == (
        "proposal",
        {"d": "won"},
        {"p": "open"},
        {"year": 2024, "current_ratio": 1.2},
    )


# --- CustomerUpdated ----------------------------------------------------------------------------


def test_customer_updated_changes_only_the_profile_fields_it_names():
    before = apply(
        Features(),
        created(
            industry="retail",
            region="east",
            size="small",
            nature="other",
            monthly_freight_volume_tons=80.0,
        ),
    )
    after = apply(
        before, updated(["region", "size"], region="west", size="large", industry="mining")
    )
    assert (after.region, after.size) == ("west", "large")
    assert after.industry == "retail"  # sent, but not named in `changed`
    assert after.monthly_freight_volume_tons == 80.0


def test_customer_updated_can_clear_a_profile_field():
    before = apply(Features(), created(industry="retail", monthly_freight_volume_tons=300.0))
    after = apply(before, updated(["industry", "monthly_freight_volume_tons"]))
    assert after.industry is None
    assert after.monthly_freight_volume_tons is None
    assert "industry" not in after.segment() and "freight_band" not in after.segment()


def test_customer_updated_nature_is_stored_as_its_plain_value():
    after = apply(Features(), updated(["nature"], nature="state_owned"))
    assert after.nature == "state_owned" and type(after.nature) is str


def test_customer_updated_credit_from_the_sample_replaces_the_credit_report():
    before = apply(Features(), created(credit={"defaults": 2}))
    after = apply(before, sample("CustomerUpdated", "address-and-credit"))
    assert after.credit["defaults"] == 0
    assert after.credit["lawsuits"] == 1
    assert after.credit["current_liabilities"] == "5200000.00"


def test_customer_updated_can_clear_the_credit_report():
    before = apply(Features(), created(credit={"defaults": 2}))
    assert apply(before, updated(["credit"])).credit is None


def test_a_customer_update_of_fields_scoring_ignores_returns_the_same_features():
    before = apply(Features(), created(industry="retail"))
    assert apply(before, sample("CustomerUpdated", "cleared-field")) is before
    assert apply(before, updated(["address", "phone"], address="88 Century Avenue")) is before


# --- FinancialsRecorded -------------------------------------------------------------------------


def test_financials_recorded_keeps_the_latest_years_ratios():
    features = apply(Features(), sample("FinancialsRecorded", "three-years"))
    assert features.ratios == {
        "year": 2024,
        "current_ratio": 1.5,
        "debt_to_asset_ratio": 0.6,
        "sales_profit_margin": 0.045,
        "receivables_turnover": 7.5,
        "operating_cash_flow": "-2500000.00",
    }


def test_financials_recorded_picks_the_latest_year_whatever_the_order_of_the_list():
    event = financials(
        {"year": 2024, "current_ratio": 2.0},
        {"year": 2022, "current_ratio": 0.5},
        {"year": 2023, "current_ratio": 1.0},
    )
    assert apply(Features(), event).ratios["year"] == 2024
    assert apply(Features(), event).ratios["current_ratio"] == 2.0


def test_financials_recorded_without_ratios_clears_them():
    before = apply(Features(), financials({"year": 2024, "current_ratio": 2.0}))
    assert apply(before, financials()).ratios is None


def test_financials_recorded_without_ratios_on_a_customer_without_ratios_only_dates_it():
    before = Features(industry="retail")
    assert apply(before, financials()) == before.model_copy(update={"as_of": T0})


# --- VisitLogged and FollowupRevoked ------------------------------------------------------------


def test_visit_logged_records_the_follow_up_by_id_with_channel_and_start():
    event = sample("VisitLogged", "site-visit")
    features = apply(Features(), event)
    assert features.followups == {
        "fu-0001": {
            "channel": "visit",
            "at": "2026-11-23T09:00:00+08:00",
            "version": 1,
            "revoked": False,
        }
    }
    assert features.active_followups() == [features.followups["fu-0001"]]


def test_follow_ups_are_kept_by_id():
    features = replay(visit("fu-1", "call"), visit("fu-2", "email", T0 + timedelta(days=1)))
    assert set(features.followups) == {"fu-1", "fu-2"}
    assert features.followups["fu-2"]["channel"] == "email"
    assert len(features.active_followups()) == 2


def test_follow_up_revoked_marks_the_follow_up_revoked_and_no_longer_active():
    features = replay(visit("fu-1"), visit("fu-2"), revoked("fu-1"))
    assert features.followups["fu-1"] == {
        "channel": "visit",
        "at": T0.isoformat(),
        "version": 1,
        "revoked": True,
    }
    assert [f["revoked"] for f in features.active_followups()] == [False]
    assert len(features.active_followups()) == 1


def test_follow_up_revoked_before_its_visit_logged_still_ends_revoked():
    features = replay(revoked("fu-1"), visit("fu-1", "meeting"))
    assert features.followups["fu-1"] == {
        "channel": "meeting",
        "at": T0.isoformat(),
        "version": 1,
        "revoked": True,
    }
    assert features.active_followups() == []


def test_follow_up_revoked_alone_is_remembered_without_channel_or_time():
    features = apply(Features(), revoked("fu-9"))
    assert features.followups == {
        "fu-9": {"channel": None, "at": None, "version": 0, "revoked": True}
    }
    assert features.active_followups() == []


def test_revoked_then_logged_ends_like_logged_then_revoked():
    assert replay(revoked("fu-1"), visit("fu-1")) == replay(visit("fu-1"), revoked("fu-1"))


# --- FollowupUpdated ----------------------------------------------------------------------------


def test_a_corrected_follow_up_takes_its_new_channel_and_start():
    later = T0 + timedelta(days=3)
    features = replay(visit("fu-1", "call"), corrected("fu-1", 2, "visit", later))
    assert features.followups["fu-1"] == {
        "channel": "visit",
        "at": later.isoformat(),
        "version": 2,
        "revoked": False,
    }


def test_follow_up_updated_from_the_sample_replaces_the_logged_facts():
    features = replay(
        sample("VisitLogged", "site-visit"), sample("FollowupUpdated", "outcome-added")
    )
    assert features.followups["fu-0001"]["version"] == 2
    assert features.followups["fu-0001"]["at"] == "2026-11-23T09:00:00+08:00"


def test_a_correction_before_its_visit_logged_is_kept_when_the_visit_arrives():
    later = T0 + timedelta(days=3)
    features = replay(corrected("fu-1", 2, "email", later), visit("fu-1", "call"))
    assert features.followups["fu-1"]["channel"] == "email"
    assert features.followups["fu-1"]["at"] == later.isoformat()


def test_an_older_correction_after_a_newer_one_does_not_roll_the_follow_up_back():
    newer = corrected("fu-1", 3, "meeting", T0 + timedelta(days=5))
    older = corrected("fu-1", 2, "email", T0 + timedelta(days=1))
    features = replay(visit("fu-1"), newer, older)
    assert features == replay(visit("fu-1"), newer)
    assert apply(features, older) is features


def test_a_correction_of_a_revoked_follow_up_leaves_it_revoked():
    features = replay(visit("fu-1"), revoked("fu-1"), corrected("fu-1", 2, "call"))
    assert features.followups["fu-1"]["channel"] == "call"
    assert features.active_followups() == []


def test_a_salesperson_only_correction_changes_no_engagement():
    features = replay(visit("fu-1"), corrected("fu-1", 2, salesperson_id="sp-0007"))
    assert features.active_followups() == [
        {"channel": "visit", "at": T0.isoformat(), "version": 2, "revoked": False}
    ]


def test_corrections_logging_and_revoking_end_the_same_in_any_order():
    events = [
        visit("fu-1", "call"),
        corrected("fu-1", 2, "visit", T0 + timedelta(days=1)),
        corrected("fu-1", 3, "meeting", T0 + timedelta(days=2)),
        visit("fu-2", "email"),
        revoked("fu-2"),
        corrected("fu-2", 2, "call", T0 + timedelta(days=4)),
    ]
    forward = replay(*events)
    assert replay(*reversed(events)).followups == forward.followups
    assert replay(*events[2:], *events[:2]).followups == forward.followups
    assert forward.followups["fu-1"]["channel"] == "meeting"


# --- OpportunityOpened and StageChanged ---------------------------------------------------------


def test_opportunity_opened_sets_stage_probability_and_time():
    event = sample("OpportunityOpened", "new")
    features = apply(Features(), event)
    assert (features.stage, features.stage_probability, features.stage_at) == (
        "qualified",
        0.1,
        event.occurred_at,
    )


def test_stage_changed_moves_to_the_new_stage():
    features = replay(opened(at=T0), stage_changed("proposal", 0.5, T0 + timedelta(days=7)))
    assert (features.stage, features.stage_probability) == ("proposal", 0.5)
    assert features.stage_at == T0 + timedelta(days=7)


def test_an_older_stage_changed_after_a_newer_one_does_not_roll_the_stage_back():
    newer = stage_changed("negotiation", 0.75, T0 + timedelta(days=10))
    older = stage_changed("proposal", 0.5, T0 + timedelta(days=5))
    in_order = replay(opened(at=T0), older, newer)
    out_of_order = replay(opened(at=T0), newer, older)
    assert out_of_order.stage == "negotiation" and out_of_order.stage_probability == 0.75
    assert out_of_order == in_order


def test_an_older_stage_changed_returns_the_same_features():
    current = replay(stage_changed("negotiation", 0.75, T0 + timedelta(days=10)))
    assert apply(current, stage_changed("proposal", 0.5, T0)) is current


def test_an_opportunity_opened_older_than_the_current_stage_only_gives_its_terms():
    current = replay(stage_changed("negotiation", 0.75, T0 + timedelta(days=10)))
    late = apply(current, opened(at=T0))
    assert (late.stage, late.stage_probability, late.as_of) == ("negotiation", 0.75, current.as_of)
    assert (
        late.opportunities["op-1"]["closed"] is False and "terms_at" in late.opportunities["op-1"]
    )


def test_stage_times_in_other_time_zones_compare_as_instants():
    shanghai = timezone(timedelta(hours=8))
    newer = stage_changed("negotiation", 0.75, datetime(2026, 11, 21, 9, 0, tzinfo=UTC))
    older = stage_changed(
        "proposal", 0.5, datetime(2026, 11, 21, 16, 0, tzinfo=shanghai)
    )  # 08:00 UTC
    assert replay(newer, older).stage == "negotiation"
    assert replay(older, newer).stage == "negotiation"


def test_a_stage_change_at_the_same_instant_is_applied():
    features = replay(stage_changed("proposal", 0.5, T0), stage_changed("negotiation", 0.75, T0))
    assert features.stage == "negotiation"


# --- proposals ----------------------------------------------------------------------------------


def test_proposal_created_and_revised_leave_it_open():
    assert apply(Features(), sample("ProposalCreated", "first")).proposals == {"pr-0001": "open"}
    assert replay(
        sample("ProposalCreated", "first"), sample("ProposalRevised", "cheaper")
    ).proposals == {"pr-0001": "open"}


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (ProposalAccepted, "accepted"),
        (ProposalRejected, "rejected"),
        (ProposalWithdrawn, "withdrawn"),
    ],
)
def test_each_decision_gives_its_final_status(kind, status):
    assert replay(proposal(), decision(kind)).proposals == {"pr-1": status}


@pytest.mark.parametrize("kind", [ProposalAccepted, ProposalRejected, ProposalWithdrawn])
def test_a_late_proposal_revised_does_not_reopen_a_decided_proposal(kind):
    decided = replay(proposal(), decision(kind))
    assert apply(decided, proposal(ProposalRevised, revision=2)) is decided


def test_a_decision_before_its_proposal_created_stays_final():
    features = replay(decision(ProposalAccepted), proposal(ProposalCreated))
    assert features.proposals == {"pr-1": "accepted"}


def test_proposals_are_kept_by_id():
    features = replay(
        proposal(proposal_id="pr-1"),
        proposal(proposal_id="pr-2"),
        decision(ProposalRejected, "pr-1"),
    )
    assert features.proposals == {"pr-1": "rejected", "pr-2": "open"}


# --- DealClosed ---------------------------------------------------------------------------------


def test_deal_closed_records_the_outcome_by_deal_id():
    features = replay(sample("DealClosed", "won"), sample("DealClosed", "lost"))
    assert features.deals == {"deal-000981": "won", "erp-deal-5521": "lost"}


def test_deal_closed_leaves_the_profile_alone():
    before = apply(Features(), created(industry="retail", monthly_freight_volume_tons=900.0))
    after = apply(before, deal("won"))
    assert after.monthly_freight_volume_tons == 900.0  # the contracted volume is not the customer's
    assert after.industry == "retail"
    assert after.deals == {"deal-1": "won"}


# --- events scoring does not use ----------------------------------------------------------------


def test_an_event_scoring_does_not_use_returns_the_same_features():
    before = apply(Features(), created(industry="retail"))
    assert apply(before, sample("CompetitorRecorded", "incumbent")) is before
    event = CompetitorRecorded(
        producer="customer", customer_id=CID, payload={"competitor_id": "c1", "name": "SF"}
    )
    assert apply(before, event) is before


# --- idempotence --------------------------------------------------------------------------------

EVERY_KIND = [
    pytest.param(
        lambda: created(
            industry="Retail",
            region="east",
            monthly_freight_volume_tons=300.0,
            credit={"defaults": 0},
        ),
        id="CustomerCreated",
    ),
    pytest.param(
        lambda: updated(["region", "credit"], region="west", credit={"lawsuits": 1}),
        id="CustomerUpdated",
    ),
    pytest.param(lambda: financials({"year": 2024, "current_ratio": 1.2}), id="FinancialsRecorded"),
    pytest.param(lambda: visit("fu-1"), id="VisitLogged"),
    pytest.param(lambda: revoked("fu-1"), id="FollowupRevoked"),
    pytest.param(lambda: corrected("fu-1", 2, "call"), id="FollowupUpdated"),
    pytest.param(lambda: opened(), id="OpportunityOpened"),
    pytest.param(lambda: stage_changed("proposal", 0.5, T0), id="StageChanged"),
    pytest.param(lambda: proposal(ProposalCreated), id="ProposalCreated"),
    pytest.param(lambda: proposal(ProposalRevised, revision=2), id="ProposalRevised"),
    pytest.param(lambda: decision(ProposalAccepted), id="ProposalAccepted"),
    pytest.param(lambda: decision(ProposalRejected), id="ProposalRejected"),
    pytest.param(lambda: decision(ProposalWithdrawn), id="ProposalWithdrawn"),
    pytest.param(lambda: deal("lost"), id="DealClosed"),
]


@pytest.mark.parametrize("make", EVERY_KIND)
def test_applying_the_same_event_twice_changes_nothing(make):
    event = make()
    once = apply(Features(), event)
    assert once != Features()  # the event does say something
    assert apply(once, event) == once


@pytest.mark.parametrize("make", EVERY_KIND)
def test_applying_the_same_event_twice_on_a_rich_customer_changes_nothing(make):
    rich = replay(
        created(industry="mining", size="medium", monthly_freight_volume_tons=40.0),
        visit("fu-0", "call"),
        proposal(proposal_id="pr-0"),
        deal("won", "deal-0"),
        stage_changed("negotiation", 0.75, T0 - timedelta(days=1)),
    )
    event = make()
    once = apply(rich, event)
    assert apply(once, event) == once


def test_a_whole_history_applied_twice_equals_it_applied_once():
    history = [
        created(industry="retail", size="small"),
        visit("fu-1"),
        visit("fu-2", "call"),
        revoked("fu-2"),
        corrected("fu-1", 2, "email", T0 + timedelta(days=2)),
        opened(at=T0),
        stage_changed("proposal", 0.5, T0 + timedelta(days=1)),
        proposal(),
        decision(ProposalAccepted),
        deal("won"),
        financials({"year": 2024, "current_ratio": 1.4}),
    ]
    once = replay(*history)
    assert replay(*history, start=once) == once
    assert replay(*[event for event in history for _ in range(2)]) == once


def test_follow_ups_proposals_and_deals_end_the_same_in_any_order():
    events = [
        visit("fu-1"),
        visit("fu-2", "call", T0 + timedelta(days=2)),
        revoked("fu-1"),
        corrected("fu-2", 2, "meeting", T0 + timedelta(days=3)),
        proposal(proposal_id="pr-1"),
        decision(ProposalWithdrawn, "pr-1"),
        proposal(proposal_id="pr-2"),
        deal("won", "d-1"),
        deal("lost", "d-2"),
        opened(at=T0),
        stage_changed("proposal", 0.5, T0 + timedelta(days=3)),
    ]
    forward = replay(*events)
    backward = replay(*reversed(events))
    assert forward.followups == backward.followups
    assert forward.proposals == backward.proposals == {"pr-1": "withdrawn", "pr-2": "open"}
    assert forward.deals == backward.deals == {"d-1": "won", "d-2": "lost"}
    assert (
        (forward.stage, forward.stage_at)
        == (backward.stage, backward.stage_at)
        == ("proposal", T0 + timedelta(days=3))
    )


def test_customer_and_follow_up_events_end_the_same_in_any_interleaving_of_the_two_topics():
    """Each topic keeps one customer's events in order; between the two topics, any order."""
    customer_topic = [
        created(industry="retail", size="small", monthly_freight_volume_tons=80.0),
        financials({"year": 2024, "current_ratio": 1.4}, at=T0 + timedelta(days=1)),
        updated(["size", "region"], at=T0 + timedelta(days=6), size="large", region="west"),
        updated(["address"], at=T0 + timedelta(days=9), address="1 Bund Road"),
    ]
    follow_up_topic = [
        visit("fu-1", at=T0 + timedelta(days=2)),
        opened(at=T0 + timedelta(days=2)),
        proposal(proposal_id="pr-1"),
        corrected("fu-1", 2, "meeting", T0 + timedelta(days=4)),
        stage_changed("proposal", 0.5, T0 + timedelta(days=5)),
        deal("won", "d-1"),
        decision(ProposalAccepted, "pr-1"),
        visit("fu-2", "call", T0 + timedelta(days=7)),
        revoked("fu-2"),
    ]
    rng = random.Random(5)
    endings = set()
    for _ in range(40):
        customer, follow_up, merged = list(customer_topic), list(follow_up_topic), []
        while customer or follow_up:
            pick = customer if not follow_up or (customer and rng.random() < 0.5) else follow_up
            merged.append(pick.pop(0))
        endings.add(replay(*merged).model_dump_json())
    (ending,) = endings
    assert Features.model_validate_json(ending).as_of == T0 + timedelta(days=7)


# --- the time a customer is scored at -----------------------------------------------------------


def test_a_customer_is_dated_by_its_latest_event_whatever_the_order():
    early, late = visit("fu-1", at=T0 + timedelta(days=3)), created(at=T0 + timedelta(days=1))
    assert replay(early, late).as_of == replay(late, early).as_of == T0 + timedelta(days=3)


def test_an_older_event_that_changes_nothing_leaves_the_customer_as_it_was():
    current = replay(stage_changed("negotiation", 0.75, T0 + timedelta(days=10)))
    assert current.as_of == T0 + timedelta(days=10)
    assert apply(current, stage_changed("proposal", 0.5, T0)) is current


def test_events_that_carry_nothing_scoring_reads_do_not_date_the_customer():
    before = replay(created(industry="retail"))
    later = T0 + timedelta(days=30)
    assert apply(before, updated(["address"], at=later, address="88 Century Avenue")) is before
    competitor = CompetitorRecorded(
        producer="customer",
        customer_id=CID,
        occurred_at=later,
        payload={"competitor_id": "c1", "name": "SF"},
    )
    assert apply(before, competitor) is before


def test_a_new_event_that_changes_no_fact_still_dates_the_customer():
    before = replay(created(industry="retail"))
    later = T0 + timedelta(days=30)
    again = apply(before, updated(["industry"], at=later, industry="retail"))
    assert again == before.model_copy(update={"as_of": later})


def opportunity_events():
    """An opportunity opened with two lines, its amount lowered a day later, won two days later."""
    opened = sample("OpportunityOpened", "with-lines")
    updated = sample("OpportunityUpdated", "amount-and-override")
    updated = updated.model_copy(update={"occurred_at": opened.occurred_at + timedelta(days=1)})
    won = StageChanged(
        producer="followup",
        customer_id=opened.customer_id,
        occurred_at=opened.occurred_at + timedelta(days=2),
        payload={
            "opportunity_id": "op-0003",
            "from_stage": "qualified",
            "to_stage": "won",
            "win_probability": 1.0,
            "seconds_in_previous_stage": 1.0,
        },
    )
    return opened, updated, won


def test_an_open_opportunity_adds_its_amount_and_lines_until_it_closes():
    opened, updated, won = opportunity_events()
    features = replay(opened)
    assert (features.open_pipeline("CNY"), features.lines_in_flight()) == (1_200_000.0, 2)
    assert features.open_pipeline("USD") == 0
    features = apply(features, updated)
    assert features.open_pipeline("CNY") == 950_000.0 and features.as_of == updated.occurred_at
    features = apply(features, won)
    assert (features.open_pipeline("CNY"), features.lines_in_flight()) == (0, 0)


def test_an_opportunity_ends_the_same_in_any_order_and_a_late_change_does_not_reopen_it():
    events = opportunity_events()
    ends = {replay(*order).model_dump_json() for order in itertools.permutations(events)}
    assert len(ends) == 1
    assert replay(*events).opportunities["op-0003"]["closed"] is True


# --- segment ------------------------------------------------------------------------------------


def test_the_segment_is_normalised_to_stripped_lowercase():
    features = Features(
        industry="  Cold Chain ",
        region="EAST",
        nature="State_Owned",
        size=" Large",
        monthly_freight_volume_tons=250.0,
    )
    assert features.segment() == {
        "industry": "cold chain",
        "region": "east",
        "nature": "state_owned",
        "size": "large",
        "freight_band": "200-500t",
    }


def test_the_segment_leaves_missing_values_out():
    assert Features(industry="retail").segment() == {"industry": "retail"}
    assert Features(region="", size=None, monthly_freight_volume_tons=None).segment() == {}


def test_the_segment_has_the_freight_band_of_the_volume():
    assert Features(monthly_freight_volume_tons=0.0).segment() == {"freight_band": "under 50t"}
    assert Features(monthly_freight_volume_tons=1200.0).segment() == {"freight_band": "1000t+"}


def test_the_segment_of_the_full_sample_customer():
    assert apply(Features(), sample("CustomerCreated", "full")).segment() == {
        "industry": "cold chain",
        "region": "east",
        "nature": "private_enterprise",
        "size": "large",
        "freight_band": "1000t+",
    }


# --- freight_band -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tons", "band"),
    [
        (None, None),
        (0, "under 50t"),
        (0.0, "under 50t"),
        (49.9, "under 50t"),
        (50, "50-200t"),
        (199.99, "50-200t"),
        (200, "200-500t"),
        (499.9, "200-500t"),
        (500, "500-1000t"),
        (999.9, "500-1000t"),
        (1000, "1000t+"),
        (1_000_000, "1000t+"),
    ],
)
def test_freight_band_edges(tons, band):
    assert freight_band(tons) == band


def test_the_freight_bands_run_from_the_highest_floor_down_to_zero():
    floors = [floor for floor, _ in FREIGHT_BANDS]
    assert floors == sorted(floors, reverse=True)
    assert floors[-1] == 0


def test_features_stored_before_opportunities_were_kept_read_as_having_none():
    stored = {"industry": "retail", "stage": "proposal", "stage_probability": 0.5, "deals": {}}
    features = Features.model_validate(stored)
    assert features.opportunities == {} and features.open_pipeline("CNY") == 0
    assert features.stage == "proposal"
