import uuid

import pytest
from crm_contracts.customer_events import MAX_COMPETITORS_PER_CUSTOMER, MAX_CONTACTS_PER_CUSTOMER
from crm_customer.domain.customers import CreateCustomer, new_customer, too_many
from pydantic import ValidationError


def test_a_new_customer_is_a_lead_at_version_1_announced_under_its_own_id():
    correlation = uuid.uuid4()
    document, event = new_customer(
        CreateCustomer(name="Acme", region="east", size="large"), correlation
    )
    assert document["_id"] == event.customer_id
    assert (document["lifecycle"], document["version"]) == ("lead", 1)
    assert event.payload.name == "Acme" and event.payload.region == "east"
    assert event.correlation_id == correlation and event.producer == "customer"


@pytest.mark.parametrize(
    "field",
    [
        {"name": ""},
        {"name": "A", "credit_code": "123"},
        {"name": "A", "nature": "pirate"},
        {"name": "A", "monthly_freight_volume_tons": -1},
    ],
)
def test_bad_customer_data_is_refused(field):
    with pytest.raises(ValidationError):
        CreateCustomer(**field)


@pytest.mark.parametrize(
    ("what", "most"),
    [("contacts", MAX_CONTACTS_PER_CUSTOMER), ("competitors", MAX_COMPETITORS_PER_CUSTOMER)],
)
def test_a_customer_holds_at_most_as_many_contacts_and_competitors_as_a_merge_may_move(what, most):
    assert too_many(what, most) is None
    assert (
        too_many(what, most + 1)
        == f"{most + 1:,} {what}, more than the {most:,} a customer may have"
    )
