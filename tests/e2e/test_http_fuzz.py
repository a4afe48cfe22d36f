"""Every service's HTTP API fuzzed from its own OpenAPI with Schemathesis, as each role and with no
token: no server error, and every response as the schema says (status code, content type, body,
headers), invalid input refused. FUZZ_EXAMPLES sets the examples per operation (`make fuzz`: 200).

A stack of its own: what the fuzzing writes stays out of the other end-to-end tests' state."""

import os
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples each run: a failure seen once is seen again
    database=None,
)


@pytest.fixture(scope="module")
def fuzz_stack(stack_of):
    with stack_of("fz") as urls:
        yield urls


@pytest.fixture(scope="module")
def callers(fuzz_stack, log_in_to) -> dict[str, dict[str, str]]:
    """Headers for each role (a user made for it) and for no one."""
    admin = log_in_to(fuzz_stack)
    salesperson_id = f"sp-fuzz-{uuid.uuid4().hex[:6]}"
    made = admin.post(
        "customer",
        "/salespeople",
        {
            "salesperson_id": salesperson_id,
            "name": "Fuzz",
            "regions": ["east"],
            "capacity": 5,
            "seniority": 2,
        },
    )
    assert made.status_code == 201, made.text
    callers = {"admin": admin.headers, "anonymous": {}}
    for role in ("manager", "ops", "salesperson"):
        username, password = f"fuzz-{role}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
        body = {"username": username, "password": password, "role": role}
        if role == "salesperson":
            body["salesperson_id"] = salesperson_id
        assert admin.post("customer", "/users", body).status_code == 201
        callers[role] = log_in_to(fuzz_stack, username, password).headers
    return callers


def _schema(service: str):
    @pytest.fixture(scope="module")
    def load(fuzz_stack):
        return schemathesis.openapi.from_url(f"{fuzz_stack[service]}/openapi.json")

    return load


customer_api = _schema("customer")
followup_api = _schema("followup")
scoring_api = _schema("scoring")
reporting_api = _schema("reporting")


def fuzz(case, base_url: str, callers: dict[str, dict[str, str]]) -> None:
    for headers in callers.values():
        response = case.call(base_url=base_url, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)


@schemathesis.pytest.from_fixture("customer_api").parametrize()
@FUZZ
def test_customer_api(case, fuzz_stack, callers):
    fuzz(case, fuzz_stack["customer"], callers)


@schemathesis.pytest.from_fixture("followup_api").parametrize()
@FUZZ
def test_followup_api(case, fuzz_stack, callers):
    fuzz(case, fuzz_stack["followup"], callers)


@schemathesis.pytest.from_fixture("scoring_api").parametrize()
@FUZZ
def test_scoring_api(case, fuzz_stack, callers):
    fuzz(case, fuzz_stack["scoring"], callers)


@schemathesis.pytest.from_fixture("reporting_api").parametrize()
@FUZZ
def test_reporting_api(case, fuzz_stack, callers):
    fuzz(case, fuzz_stack["reporting"], callers)
