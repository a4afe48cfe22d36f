"""Opportunities' terms, lines, probability overrides, which one a deal closes, and the time of a
change. Pure: no I/O."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from crm_contracts import LinePrice, OpportunityTerms, ServiceLine
from crm_followup.domain.opportunities import (
    OpportunityChange,
    StageMove,
    change_time,
    changed_terms,
    closing_choice,
    mode_problem,
    priced,
    pricing_problem,
    terms_of,
)
from crm_runtime.pipeline import DEFAULT_SERVICE_MODES
from pydantic import ValidationError

REEFER = ServiceLine(
    line_id="l1", origin="Shanghai", destination="Chengdu", mode="cold_chain", monthly_tons=120
)
WAREHOUSE = ServiceLine(
    line_id="l2", origin="Chengdu", mode="warehousing", rate=Decimal(38000), rate_basis="month"
)
TERMS = OpportunityTerms(
    title="Reefer lane",
    amount=Decimal("1200000.00"),
    currency="CNY",
    expected_close_date=date(2027, 3, 31),
    owner_id="sp-1",
    lines=[REEFER, WAREHOUSE],
)

# --- terms -------------------------------------------------------------------------------------


def test_an_opportunity_stored_before_terms_existed_has_none():
    legacy = {"_id": "op-1", "customer_id": "c-1", "stage": "qualified", "status": "open"}
    assert terms_of(legacy) == OpportunityTerms()


def test_stored_terms_read_back_as_they_were_written():
    stored = {"_id": "op-1", "stage": "qualified", **TERMS.model_dump(mode="json")}
    assert terms_of(stored) == TERMS


def test_a_change_names_only_the_terms_it_changes():
    change = OpportunityChange(amount=Decimal("950000.00"), title="Reefer lane", version=3)
    after, names = changed_terms(TERMS, change)
    assert names == ["amount"] and after.amount == Decimal("950000.00")
    assert after.lines == TERMS.lines and after.currency == "CNY"


def test_new_lines_replace_the_list_and_null_clears_an_optional_term():
    change = OpportunityChange.model_validate({"lines": [WAREHOUSE.model_dump()], "title": None})
    after, names = changed_terms(TERMS, change)
    assert names == ["title", "lines"] and after.lines == [WAREHOUSE] and after.title is None


def test_clearing_the_currency_of_an_amount_is_refused():
    with pytest.raises(ValidationError, match="an amount needs its currency"):
        changed_terms(TERMS, OpportunityChange.model_validate({"currency": None}))


def test_lines_sharing_an_id_are_refused_in_a_change():
    with pytest.raises(ValidationError, match="line ids repeat"):
        OpportunityChange.model_validate({"lines": [REEFER.model_dump(), REEFER.model_dump()]})


def test_an_owner_cannot_be_cleared():
    with pytest.raises(ValidationError, match="owner_id may not be null"):
        OpportunityChange.model_validate({"owner_id": None})


# --- the probability ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"win_probability": 0.4}, "change together"),
        ({"override_reason": "budget signed"}, "change together"),
        ({"win_probability": 0.4, "override_reason": None}, "an override needs its reason"),
        ({"win_probability": None, "override_reason": "x"}, "an override needs its reason"),
        ({"win_probability": 1.2, "override_reason": "x"}, "less than or equal to 1"),
    ],
)
def test_an_override_comes_with_its_reason(body, reason):
    with pytest.raises(ValidationError, match=reason):
        OpportunityChange.model_validate(body)


def test_null_for_both_returns_to_the_stage_probability():
    change = OpportunityChange.model_validate({"win_probability": None, "override_reason": None})
    assert change.win_probability is None and change.override_reason is None


def test_a_move_takes_an_override_only_with_its_reason():
    with pytest.raises(ValidationError, match="go together"):
        StageMove(to_stage="proposal", win_probability=0.6)
    assert StageMove(to_stage="proposal").win_probability is None


# --- modes and prices --------------------------------------------------------------------------


def test_a_line_in_an_unlisted_mode_is_refused_with_the_list():
    barge = REEFER.model_copy(update={"mode": "barge"})
    problem = mode_problem([barge, WAREHOUSE], ("ftl", "warehousing"))
    assert problem == "no mode barge: the modes are ftl, warehousing"
    assert mode_problem([REEFER, WAREHOUSE], DEFAULT_SERVICE_MODES) is None


def test_a_proposal_prices_only_lines_its_opportunity_has():
    prices = [
        LinePrice(line_id="l1", rate=Decimal(4950), rate_basis="shipment"),
        LinePrice(line_id="l9", rate=Decimal(1), rate_basis="ton"),
    ]
    assert pricing_problem(prices, [REEFER, WAREHOUSE]) == "the opportunity has no line l9"
    assert pricing_problem(prices[:1], [REEFER, WAREHOUSE]) is None


def test_lines_take_the_proposal_rates_and_keep_theirs_where_it_gave_none():
    price = LinePrice(line_id="l1", rate=Decimal(4950), rate_basis="shipment")
    reefer, warehouse = priced([REEFER, WAREHOUSE], [price])
    assert (reefer.rate, reefer.rate_basis, reefer.monthly_tons) == (Decimal(4950), "shipment", 120)
    assert warehouse == WAREHOUSE


# --- which opportunity a deal closes -----------------------------------------------------------


def test_a_deal_closes_the_only_open_opportunity_or_stands_alone_without_one():
    assert closing_choice(["op-1"]) == ("op-1", None)
    assert closing_choice([]) == (None, None)


def test_a_deal_must_name_its_opportunity_when_several_are_open():
    chosen, problem = closing_choice(["op-1", "op-2"])
    assert chosen is None
    assert problem == "the customer has 2 open opportunities: name opportunity_id"


# --- the time of a change ----------------------------------------------------------------------

NOW = datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=UTC)


def test_a_first_change_happens_now_to_the_millisecond():
    assert change_time(None, NOW) == NOW.replace(microsecond=123000)


def test_a_change_comes_after_the_previous_even_when_this_clock_is_behind():
    previous = NOW + timedelta(seconds=5)  # written by an instance whose clock is ahead
    assert change_time(previous, NOW) == previous.replace(microsecond=123000) + timedelta(
        milliseconds=1
    )


@pytest.mark.parametrize("gap_us", [0, 1, 400, 999, 1000, 1001, 250_000])
def test_changes_are_strictly_ordered_at_the_millisecond_mongodb_keeps(gap_us):
    previous = change_time(None, NOW)
    later = change_time(previous, NOW + timedelta(microseconds=gap_us))
    assert later > previous and later.microsecond % 1000 == 0
