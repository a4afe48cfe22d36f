"""Edges found while testing the scoring domain, kept from coming back."""

import math
from datetime import UTC, datetime

from crm_contracts import CustomerCreated, CustomerCreatedPayload, DealClosed, DealClosedPayload
from crm_scoring.domain.features import Features, freight_band
from crm_scoring.domain.value_model import score
from crm_scoring.domain.win_probability import WinCounts, estimate, learn
from crm_scoring.engine import react
from crm_scoring.replay import InMemoryState


def won(customer_id: str, deal_id: str) -> DealClosed:
    return DealClosed(
        producer="erp",
        customer_id=customer_id,
        payload=DealClosedPayload(deal_id=deal_id, outcome="won", amount="1", currency="CNY"),
    )


async def test_a_deal_published_again_under_a_new_event_id_teaches_the_model_once():
    state = InMemoryState()
    await react(
        state,
        CustomerCreated(
            producer="c",
            customer_id="x",
            payload=CustomerCreatedPayload(name="X", industry="retail"),
        ),
        "value-v1",
    )
    await react(state, won("x", "d-1"), "value-v1")
    again = await react(state, won("x", "d-1"), "value-v1")
    await state.publish("value-v1")
    assert again == [] and (state.snapshot.counts.won, state.snapshot.counts.lost) == (1, 0)


def test_smoothing_is_not_undone_by_rounding():
    counts = WinCounts()
    for _ in range(50):
        counts = learn(counts, {"industry": "a", "region": "a", "size": "a", "nature": "a"}, "won")
        counts = learn(counts, {"industry": "b", "region": "b", "size": "b", "nature": "b"}, "lost")
    high = estimate(counts, {"industry": "a", "region": "a", "size": "a", "nature": "a"})
    low = estimate(counts, {"industry": "b", "region": "b", "size": "b", "nature": "b"})
    assert 0 < low.probability < high.probability < 1
    assert math.isclose(high.log_odds, high.prior_log_odds + sum(e.log_odds for e in high.effects))


def test_a_blank_value_counts_as_unknown():
    features = Features(industry="   ", region=" East ")
    assert features.segment() == {"region": "east"}
    industry = next(
        c
        for c in score(features, datetime(2026, 1, 1, tzinfo=UTC)).contributions
        if c.factor == "fit.industry"
    )
    assert industry.points == 0 and industry.reason == "industry unknown"


def test_a_volume_out_of_every_band_is_unknown():
    assert freight_band(-1) is None and freight_band(float("nan")) is None
