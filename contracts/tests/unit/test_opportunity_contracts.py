"""Opportunities with service lines, amounts and overrides: added to version 1 as optional fields,
so what was written before them is read as it was."""

import json
from pathlib import Path

import pytest
from crm_contracts import parse_event
from pydantic import ValidationError

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def test_an_opportunity_opened_before_lines_existed_reads_as_one_without_terms():
    opened = parse_event(json.dumps(sample("OpportunityOpened/v1/new.json"))).payload
    assert (opened.amount, opened.currency, opened.expected_close_date) == (None, None, None)
    assert opened.lines == [] and opened.owner_id is None


def test_a_deal_an_outside_system_published_before_lines_existed_wins_no_lines():
    deal = parse_event(json.dumps(sample("DealClosed/v1/won-with-contract.json"))).payload
    assert deal.lines == [] and deal.product_lines == ["cold chain FTL", "warehousing"]


def test_a_stage_change_without_an_override_carries_the_stage_default():
    moved = parse_event(json.dumps(sample("StageChanged/v1/to-proposal.json"))).payload
    assert moved.override_reason is None and moved.win_probability == 0.5


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"rate_basis": None}, "rate and rate_basis go together"),
        ({"rate": None}, "rate and rate_basis go together"),
        ({"mode": "Cold Chain"}, "String should match pattern"),
        ({"monthly_shipments": -1}, "greater than or equal to 0"),
        ({"origin": ""}, "at least 1 character"),
    ],
)
def test_a_service_line_without_its_facts_is_refused(change, reason):
    event = sample("OpportunityOpened/v1/with-lines.json")
    event["payload"]["lines"][0] |= change
    with pytest.raises(ValidationError, match=reason):
        parse_event(json.dumps(event))


def test_two_lines_of_one_opportunity_cannot_share_an_id():
    event = sample("OpportunityOpened/v1/with-lines.json")
    event["payload"]["lines"][1]["line_id"] = event["payload"]["lines"][0]["line_id"]
    with pytest.raises(ValidationError, match=r"line ids repeat: \['l1'\]"):
        parse_event(json.dumps(event))


def test_an_amount_needs_its_currency():
    event = sample("OpportunityUpdated/v1/amount-and-override.json")
    event["payload"]["terms"]["currency"] = None
    with pytest.raises(ValidationError, match="an amount needs its currency"):
        parse_event(json.dumps(event))


def test_a_lost_deal_wins_no_lines():
    event = sample("DealClosed/v1/won-with-lines.json")
    event["payload"] |= {"outcome": "lost", "lost_reason": "price"}
    with pytest.raises(ValidationError, match="a lost deal wins no lines"):
        parse_event(json.dumps(event))


def test_a_proposal_prices_each_line_once():
    event = sample("ProposalCreated/v1/pricing-lines.json")
    event["payload"]["line_prices"].append(event["payload"]["line_prices"][0])
    with pytest.raises(ValidationError, match="a line is priced twice"):
        parse_event(json.dumps(event))
