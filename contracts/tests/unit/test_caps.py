"""Lists that grow with the data are capped, so that no event can outgrow a Kafka record and block
the outbox (one salesperson's 2,200 regions once did); amounts the reports sum are bounded."""

import json
from pathlib import Path

import pytest
from crm_contracts import CustomerCreatedPayload, DealClosedPayload, parse_event
from crm_contracts.common import LABEL_MAX_LENGTH, MAX_FREIGHT_TONS, TEXT_MAX_LENGTH
from crm_contracts.customer_events import (
    MAX_CANDIDATES_LISTED,
    MAX_CHANGED_FIELDS,
    MAX_COMPETITORS_PER_CUSTOMER,
    MAX_CONTACTS_PER_CUSTOMER,
    MAX_REASONS_PER_CANDIDATE,
)
from crm_contracts.salesperson_events import MAX_COVERAGE
from pydantic import ValidationError

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def with_payload(event: dict, **changes) -> str:
    return json.dumps({**event, "payload": {**event["payload"], **changes}})


def refused_naming(raw: str, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_event(raw)
    assert any(field in map(str, error["loc"]) for error in refused.value.errors())


def ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(count)]


@pytest.mark.parametrize("event_type", ["SalespersonRegistered", "SalespersonUpdated"])
@pytest.mark.parametrize("field", ["regions", "industries"])
def test_a_salesperson_covers_at_most_the_capped_number_of_regions_and_industries(
    event_type, field
):
    event = sample(
        "SalespersonRegistered/v1/senior.json"
        if event_type == "SalespersonRegistered"
        else "SalespersonUpdated/v1/deactivated.json"
    )
    at_cap = [f"place {i}" for i in range(MAX_COVERAGE)]
    assert len(getattr(parse_event(with_payload(event, **{field: at_cap})).payload, field)) == (
        MAX_COVERAGE
    )
    refused_naming(with_payload(event, **{field: [*at_cap, "one more"]}), field)


@pytest.mark.parametrize("field", ["regions", "industries"])
def test_a_region_or_industry_is_a_short_label(field):
    event = sample("SalespersonRegistered/v1/senior.json")
    parse_event(with_payload(event, **{field: ["x" * LABEL_MAX_LENGTH]}))
    refused_naming(with_payload(event, **{field: ["x" * (LABEL_MAX_LENGTH + 1)]}), field)


def test_an_assignment_lists_at_most_the_capped_number_of_candidates():
    event = sample("CustomerAssigned/v1/by-rule.json")
    verdict = {"salesperson_id": "sp", "eligible": False, "reasons": ["inactive"]}
    at_cap = [{**verdict, "salesperson_id": f"sp-{i}"} for i in range(MAX_CANDIDATES_LISTED)]
    parse_event(with_payload(event, candidates=at_cap, candidates_considered=2200))
    refused_naming(with_payload(event, candidates=[*at_cap, verdict]), "candidates")


def test_a_candidate_carries_at_most_the_capped_number_of_reasons():
    event = sample("CustomerAssigned/v1/by-rule.json")
    reasons = ["r" * TEXT_MAX_LENGTH] * (MAX_REASONS_PER_CANDIDATE + 1)
    verdict = {"salesperson_id": "sp", "eligible": False, "reasons": reasons}
    refused_naming(with_payload(event, candidates=[verdict]), "reasons")


def test_an_assignment_says_how_many_salespeople_were_weighed_and_older_ones_need_not():
    shortlisted = parse_event(
        (SAMPLES / "CustomerAssigned/v1/shortlisted.json").read_bytes()
    ).payload
    older = parse_event((SAMPLES / "CustomerAssigned/v1/by-rule.json").read_bytes()).payload
    assert shortlisted.candidates_considered == 240 > len(shortlisted.candidates)
    assert older.candidates_considered is None


@pytest.mark.parametrize(
    ("event_name", "field", "cap"),
    [
        ("CustomersMerged/v1/merged.json", "moved_contact_ids", MAX_CONTACTS_PER_CUSTOMER),
        ("CustomersMerged/v1/merged.json", "moved_competitor_ids", MAX_COMPETITORS_PER_CUSTOMER),
        ("CustomersUnmerged/v1/unmerged.json", "returned_contact_ids", MAX_CONTACTS_PER_CUSTOMER),
        (
            "CustomersUnmerged/v1/unmerged.json",
            "returned_competitor_ids",
            MAX_COMPETITORS_PER_CUSTOMER,
        ),
    ],
)
def test_a_merge_moves_at_most_what_a_customer_may_have(event_name, field, cap):
    event = sample(event_name)
    parse_event(with_payload(event, **{field: ids("ct", cap)}))
    refused_naming(with_payload(event, **{field: ids("ct", cap + 1)}), field)


def test_an_update_names_at_most_the_capped_number_of_changed_fields():
    event = sample("CustomerUpdated/v1/address-and-credit.json")
    refused_naming(with_payload(event, changed=ids("field", MAX_CHANGED_FIELDS + 1)), "changed")


@pytest.mark.parametrize(
    "payload",
    [
        lambda tons: CustomerCreatedPayload(name="Big", monthly_freight_volume_tons=tons),
        lambda tons: DealClosedPayload(
            deal_id="d-1",
            outcome="won",
            amount="1.00",
            currency="CNY",
            monthly_freight_volume_tons=tons,
        ),
    ],
)
def test_a_freight_volume_is_at_most_a_billion_tons_so_sums_of_millionths_fit_64_bits(payload):
    assert payload(MAX_FREIGHT_TONS).monthly_freight_volume_tons == MAX_FREIGHT_TONS
    for too_much in (MAX_FREIGHT_TONS * 1.01, 1e308):
        with pytest.raises(ValidationError, match="less than or equal to 1000000000"):
            payload(too_much)
    # Nine thousand customers at the most still sum below 2**63 in millionths of a ton.
    assert 9_000 * round(MAX_FREIGHT_TONS * 1_000_000) < 2**63
