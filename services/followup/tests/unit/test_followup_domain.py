import uuid

import pytest
from pydantic import ValidationError

from crm_contracts import Channel
from crm_followup.domain import CloseDeal, LogVisit, close_deal, log_visit

VISIT = {
    "customer_id": "c-1", "salesperson_id": "sp-1", "channel": "visit", "subject": "site tour",
    "started_at": "2026-11-27T09:00:00+08:00", "ended_at": "2026-11-27T10:30:00+08:00",
}


def test_a_logged_visit_is_recorded_and_announced_with_the_same_id():
    correlation = uuid.uuid4()
    document, event = log_visit(LogVisit(**VISIT), correlation)
    assert document["_id"] == event.payload.followup_id
    assert event.customer_id == "c-1" and event.correlation_id == correlation
    assert event.payload.channel is Channel.VISIT
    assert document["event_id"] == str(event.event_id)


def test_a_visit_ending_before_it_starts_is_refused():
    with pytest.raises(ValidationError, match="ended_at is before started_at"):
        LogVisit(**{**VISIT, "ended_at": "2026-11-27T08:00:00+08:00"})


def test_a_visit_without_a_time_zone_is_refused():
    with pytest.raises(ValidationError, match="timezone"):
        LogVisit(**{**VISIT, "started_at": "2026-11-27T09:00:00"})


def test_an_unknown_channel_is_refused():
    with pytest.raises(ValidationError, match="channel"):
        LogVisit(**{**VISIT, "channel": "carrier pigeon"})


def test_a_won_deal_carries_its_amount():
    _, event = close_deal(CloseDeal(customer_id="c-1", outcome="won", amount="99.50", currency="CNY"), uuid.uuid4())
    assert str(event.payload.amount) == "99.50"


def test_a_lost_deal_needs_a_reason():
    with pytest.raises(ValidationError, match="a lost deal needs lost_reason"):
        CloseDeal(customer_id="c-1", outcome="lost")
