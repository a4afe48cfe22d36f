"""Every service documents its HTTP doors fully: schemas, error answers and the bearer token."""

import pytest
from crm_customer.bootstrap import bootstrap as customer
from crm_customer.settings import CustomerSettings
from crm_followup.bootstrap import bootstrap as followup
from crm_followup.settings import FollowupSettings
from crm_reporting.bootstrap import bootstrap as reporting
from crm_reporting.settings import ReportingSettings
from crm_scoring.bootstrap import bootstrap as scoring
from crm_scoring.settings import ScoringSettings

SERVICES = [
    (customer, CustomerSettings),
    (followup, FollowupSettings),
    (reporting, ReportingSettings),
    (scoring, ScoringSettings),
]
OPEN = {("/health", "get"), ("/ready", "get"), ("/auth/login", "post")}


def documents():
    for build, settings in SERVICES:
        yield build(settings(auth_secret="x" * 32)).http.openapi()


@pytest.mark.parametrize("document", list(documents()), ids=lambda d: d["info"]["title"])
def test_every_operation_but_health_and_login_needs_the_token_and_says_what_it_answers(document):
    if set(document["paths"]) - {path for path, _ in OPEN}:
        assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (path, method) in OPEN:
                assert "security" not in operation
                continue
            assert operation.get("security") == [{"HTTPBearer": []}], (path, method)
            assert {"401", "403"} <= set(operation["responses"]), (path, method)
            success = next(code for code in operation["responses"] if code.startswith("2"))
            assert operation["responses"][success].get("description"), (path, method)


def test_the_customer_service_describes_its_customer_schema():
    document = customer(CustomerSettings(auth_secret="x" * 32)).http.openapi()
    view = document["components"]["schemas"]["CustomerView"]["properties"]
    assert {"id", "version", "owner_id", "credit_code", "completeness"} <= set(view)
    assert "409" in document["paths"]["/customers/{customer_id}"]["patch"]["responses"]
    assert "428" in document["paths"]["/customers/{customer_id}"]["patch"]["responses"]
