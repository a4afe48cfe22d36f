"""Proposal revisions and decisions, and closing a deal. Pure: no I/O."""

from datetime import date
from decimal import Decimal
from itertools import product

import pytest
from crm_contracts import ProposalContent
from crm_followup.domain.deals import LOST_REASONS, CloseDeal
from crm_followup.domain.proposals import DECISIONS, decision_problem, revised, revision_problem
from pydantic import ValidationError

FINAL_STATUSES = ["withdrawn", "accepted", "rejected"]
STATUSES = ["open", *FINAL_STATUSES]

# --- proposals: revising -----------------------------------------------------------------------


def test_an_open_proposal_may_be_revised():
    assert revision_problem("open") is None


@pytest.mark.parametrize("status", FINAL_STATUSES)
def test_a_decided_proposal_cannot_be_revised(status):
    problem = revision_problem(status)
    assert problem is not None
    assert f"the proposal is {status}: a final state" in problem
    assert "write a new proposal" in problem


# --- proposals: deciding -----------------------------------------------------------------------


def test_each_decision_leads_to_its_final_status():
    assert DECISIONS == {"withdraw": "withdrawn", "accept": "accepted", "reject": "rejected"}
    assert all(revision_problem(status) is not None for status in DECISIONS.values())


@pytest.mark.parametrize("decision", list(DECISIONS))
def test_an_open_proposal_may_be_withdrawn_accepted_or_rejected(decision):
    assert decision_problem("open", decision) is None


@pytest.mark.parametrize(("status", "decision"), list(product(FINAL_STATUSES, DECISIONS)))
def test_a_decided_proposal_cannot_be_decided_again(status, decision):
    assert decision_problem(status, decision) == f"the proposal is already {status}"


@pytest.mark.parametrize(
    ("status", "decision"), list(product(STATUSES, ["approve", "withdrawn", "", "Accept"]))
)
def test_an_unknown_decision_is_refused_with_the_list_of_decisions(status, decision):
    problem = decision_problem(status, decision)
    assert problem == f"no decision {decision!r}: withdraw, accept, reject"


# --- proposals: the content of a revision ------------------------------------------------------

CURRENT = ProposalContent(
    needs=["weekly full-truckload Shanghai to Chengdu", "temperature logging"],
    solution="Two dedicated reefer trucks a week with live temperature tracking.",
    price=Decimal("18500.00"),
    currency="CNY",
)


def test_a_revision_without_changes_is_no_revision():
    assert revised(CURRENT, {}) is None


def test_a_revision_repeating_the_current_content_is_no_revision():
    same = {
        "needs": list(CURRENT.needs),
        "solution": CURRENT.solution,
        "price": CURRENT.price,
        "currency": "CNY",
    }
    assert revised(CURRENT, same) is None


def test_a_revision_with_only_empty_values_is_no_revision():
    assert (
        revised(CURRENT, {"needs": None, "solution": None, "price": None, "currency": None}) is None
    )


def test_a_price_written_with_fewer_decimals_is_the_same_price():
    assert revised(CURRENT, {"price": Decimal("18500")}) is None


def test_new_needs_make_a_revision_and_keep_the_rest():
    after = revised(CURRENT, {"needs": ["daily less-than-truckload Shanghai to Chengdu"]})
    assert after is not None
    assert after.needs == ["daily less-than-truckload Shanghai to Chengdu"]
    assert (after.solution, after.price, after.currency) == (
        CURRENT.solution,
        CURRENT.price,
        CURRENT.currency,
    )


def test_a_new_solution_makes_a_revision_and_keeps_the_rest():
    after = revised(CURRENT, {"solution": "Rail to Chongqing, then trucks."})
    assert after is not None
    assert after.solution == "Rail to Chongqing, then trucks."
    assert (after.needs, after.price, after.currency) == (
        CURRENT.needs,
        CURRENT.price,
        CURRENT.currency,
    )


def test_a_new_price_makes_a_revision_and_keeps_the_rest():
    after = revised(CURRENT, {"price": Decimal("17250.50")})
    assert after is not None
    assert after.price == Decimal("17250.50")
    assert (after.needs, after.solution, after.currency) == (
        CURRENT.needs,
        CURRENT.solution,
        CURRENT.currency,
    )


def test_a_new_currency_makes_a_revision():
    after = revised(CURRENT, {"currency": "USD"})
    assert after is not None and after.currency == "USD"


def test_a_revision_ignores_empty_values_among_its_changes():
    after = revised(
        CURRENT, {"solution": "Rail to Chongqing, then trucks.", "price": None, "currency": None}
    )
    assert after is not None
    assert after.solution == "Rail to Chongqing, then trucks."
    assert after.price == Decimal("18500.00")
    assert after.currency == "CNY"


def test_a_first_price_may_be_added_to_a_proposal_without_one():
    unpriced = ProposalContent(needs=["storage"], solution="A bonded warehouse bay.")
    after = revised(unpriced, {"price": Decimal("900.00"), "currency": "EUR"})
    assert after is not None
    assert (after.price, after.currency) == (Decimal("900.00"), "EUR")


def test_revising_leaves_the_current_content_as_it_was():
    revised(CURRENT, {"solution": "Something else.", "price": Decimal("1.00")})
    assert CURRENT.solution == "Two dedicated reefer trucks a week with live temperature tracking."
    assert CURRENT.price == Decimal("18500.00")


def test_a_revision_is_a_proposal_content():
    assert isinstance(revised(CURRENT, {"solution": "Something else."}), ProposalContent)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"needs": []}, "needs"),
        ({"needs": [""]}, "needs"),
        ({"needs": ["need"] * 51}, "needs"),
        ({"solution": "x" * 4001}, "solution"),
        ({"price": Decimal("-1.00")}, "price"),
        ({"price": Decimal("1.005")}, "price"),
        ({"currency": "cny"}, "currency"),
        ({"currency": "CNYY"}, "currency"),
    ],
)
def test_a_revision_is_validated_like_any_proposal(changes, field):
    with pytest.raises(ValidationError, match=field):
        revised(CURRENT, changes)


# --- deals -------------------------------------------------------------------------------------

WON_DEAL = {
    "customer_id": "c-1",
    "outcome": "won",
    "amount": Decimal("120000.00"),
    "currency": "CNY",
}
LOST_DEAL = {"customer_id": "c-1", "outcome": "lost", "lost_reason": "price"}


def test_a_won_deal_carries_its_amount_and_currency():
    deal = CloseDeal(
        **WON_DEAL,
        monthly_freight_volume_tons=350.5,
        product_lines=["FTL", "warehousing"],
        contract_start=date(2027, 1, 1),
        contract_end=date(2027, 12, 31),
    )
    assert deal.outcome == "won"
    assert (deal.amount, deal.currency) == (Decimal("120000.00"), "CNY")
    assert deal.product_lines == ["FTL", "warehousing"]


@pytest.mark.parametrize("reason", LOST_REASONS)
def test_a_deal_may_be_lost_for_every_reason_of_the_catalogue(reason):
    deal = CloseDeal(**{**LOST_DEAL, "lost_reason": reason})
    assert deal.lost_reason == reason


def test_the_catalogue_of_lost_reasons():
    assert set(LOST_REASONS) == {
        "price",
        "service_quality",
        "coverage",
        "capacity",
        "transit_time",
        "relationship",
        "timing",
        "incumbent_contract",
        "requirements_mismatch",
        "went_in_house",
        "no_decision",
        "other",
    }
    assert len(LOST_REASONS) == len(set(LOST_REASONS))


@pytest.mark.parametrize("reason", ["too expensive", "Price", "price ", "competitor"])
def test_a_lost_reason_outside_the_catalogue_is_refused_with_the_catalogue(reason):
    with pytest.raises(ValidationError, match="lost_reason must be one of") as refused:
        CloseDeal(**{**LOST_DEAL, "lost_reason": reason})
    message = str(refused.value)
    assert "price, service_quality, coverage" in message
    assert all(known in message for known in LOST_REASONS)


def test_a_lost_deal_may_name_the_competitor_who_won():
    assert CloseDeal(**LOST_DEAL, competitor="Fast Freight Ltd").competitor == "Fast Freight Ltd"


@pytest.mark.parametrize("missing", [["amount"], ["currency"], ["amount", "currency"]])
def test_a_won_deal_without_amount_or_currency_is_refused(missing):
    facts = {k: v for k, v in WON_DEAL.items() if k not in missing}
    with pytest.raises(ValidationError, match="a won deal needs amount and currency"):
        CloseDeal(**facts)


def test_a_lost_deal_without_a_reason_is_refused():
    with pytest.raises(ValidationError, match="a lost deal needs lost_reason"):
        CloseDeal(customer_id="c-1", outcome="lost")


def test_a_contract_ending_before_it_starts_is_refused():
    with pytest.raises(ValidationError, match="contract_end is before contract_start"):
        CloseDeal(**WON_DEAL, contract_start=date(2027, 1, 1), contract_end=date(2026, 12, 31))


def test_a_contract_ending_the_day_it_starts_is_accepted():
    deal = CloseDeal(**WON_DEAL, contract_start=date(2027, 1, 1), contract_end=date(2027, 1, 1))
    assert deal.contract_end == deal.contract_start


@pytest.mark.parametrize(
    "facts",
    [
        {"contract_start": date(2027, 1, 1)},
        {"contract_end": date(2027, 1, 1)},
    ],
)
def test_a_contract_with_only_one_of_its_dates_is_accepted(facts):
    deal = CloseDeal(**WON_DEAL, **facts)
    assert deal.model_dump(include=set(facts)) == facts


@pytest.mark.parametrize("field", ["deal_id", "discount", "notes"])
def test_an_unknown_field_is_refused(field):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        CloseDeal(**WON_DEAL, **{field: "x"})


def test_a_deal_may_name_the_opportunity_it_closes():
    assert CloseDeal(**WON_DEAL, opportunity_id="op-2").opportunity_id == "op-2"
    assert CloseDeal(**WON_DEAL).opportunity_id is None


@pytest.mark.parametrize("currency", ["CNY", "USD", "EUR"])
def test_a_currency_is_three_capital_letters(currency):
    assert CloseDeal(**{**WON_DEAL, "currency": currency}).currency == currency


@pytest.mark.parametrize("currency", ["cny", "CN", "CNYY", "C1Y", "", "¥"])
def test_a_currency_other_than_three_capital_letters_is_refused(currency):
    with pytest.raises(ValidationError, match="currency"):
        CloseDeal(**{**WON_DEAL, "currency": currency})


@pytest.mark.parametrize("outcome", ["open", "WON", "cancelled", ""])
def test_a_deal_is_closed_only_as_won_or_lost(outcome):
    with pytest.raises(ValidationError, match="outcome"):
        CloseDeal(**{**WON_DEAL, "outcome": outcome})


@pytest.mark.parametrize("amount", [Decimal("-0.01"), Decimal("1.001")])
def test_an_amount_is_positive_money_in_cents(amount):
    with pytest.raises(ValidationError, match="amount"):
        CloseDeal(**{**WON_DEAL, "amount": amount})


def test_a_negative_freight_volume_is_refused():
    with pytest.raises(ValidationError, match="monthly_freight_volume_tons"):
        CloseDeal(**WON_DEAL, monthly_freight_volume_tons=-1)


@pytest.mark.parametrize("customer_id", ["", "c 1", "c/1", "x" * 65])
def test_a_deal_needs_a_well_formed_customer_id(customer_id):
    with pytest.raises(ValidationError, match="customer_id"):
        CloseDeal(**{**WON_DEAL, "customer_id": customer_id})


def test_a_deal_needs_a_customer():
    facts = {k: v for k, v in WON_DEAL.items() if k != "customer_id"}
    with pytest.raises(ValidationError, match="customer_id"):
        CloseDeal(**facts)


def test_a_closed_deal_cannot_be_altered():
    deal = CloseDeal(**LOST_DEAL)
    with pytest.raises(ValidationError, match="frozen"):
        deal.lost_reason = "timing"  # type: ignore[misc]
