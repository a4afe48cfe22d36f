import uuid

import pytest
from crm_customer.domain.customers import CreateCustomer, new_customer
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
