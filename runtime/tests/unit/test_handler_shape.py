"""The one shape every service uses: wired event handlers, commands, patches, errors as HTTP."""

from datetime import UTC, datetime
from typing import Annotated

import pytest
from crm_contracts import CustomerCreated
from crm_runtime.auth import Principal, Role, issue_token, read_token
from crm_runtime.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    TooManyRequests,
    VersionRequired,
)
from crm_runtime.handlers import Command, Instant, Patch, wire
from crm_runtime.http import version_read
from crm_runtime.service import Service, ServiceSpec
from crm_runtime.settings import ServiceSettings
from pydantic import Field, TypeAdapter, ValidationError


async def on_created(event, uow, model_version: str, seen: list) -> None:
    seen.append((event, uow, model_version))


async def test_wiring_injects_dependencies_by_parameter_name():
    seen: list = []
    wired = wire({CustomerCreated: [on_created]}, {"model_version": "v9", "seen": seen, "x": 1})
    [handler] = wired[CustomerCreated]
    await handler("event", "uow")
    assert seen == [("event", "uow", "v9")]


def test_a_dependency_nobody_provides_stops_the_wiring_with_its_name():
    with pytest.raises(TypeError, match="on_created needs seen"):
        wire({CustomerCreated: [on_created]}, {"model_version": "v9"})


class Freight(Command):
    tons: float


class ChangeName(Patch):
    nullable = frozenset({"phone"})
    name: str | None = None
    phone: str | None = None


@pytest.mark.parametrize("raw", ['{"tons": Infinity}', '{"tons": NaN}', '{"tons": -Infinity}'])
def test_a_command_refuses_infinities_and_nan(raw):
    with pytest.raises(ValidationError, match="finite number"):
        Freight.model_validate_json(raw)


def test_a_command_refuses_unknown_fields():
    with pytest.raises(ValidationError, match="Extra inputs"):
        Freight.model_validate({"tons": 1, "volume": 2})


def test_a_patch_refuses_null_where_the_field_cannot_be_cleared_and_names_it():
    with pytest.raises(ValidationError, match="name may not be null"):
        ChangeName.model_validate({"name": None})
    cleared = ChangeName.model_validate({"phone": None})
    assert cleared.model_dump(exclude_unset=True) == {"phone": None}


def test_a_salesperson_may_credit_only_themselves():
    seller = Principal("u-1", Role.SALESPERSON, salesperson_id="sp-1")
    assert seller.credits(None) == "sp-1"
    assert seller.credits("sp-1") == "sp-1"
    with pytest.raises(Forbidden, match="only themselves"):
        seller.credits("sp-2")


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_and_admins_may_credit_anyone(role):
    assert Principal("u-1", role).credits("sp-2") == "sp-2"


def test_a_token_carries_the_users_access_version():
    secret = "s" * 32
    token = issue_token(Principal("u-1", Role.OPS, access_version=4), secret, 60)
    assert read_token(token, secret).access_version == 4


def test_errors_carry_their_status_reason_details_and_headers():
    assert (NotFound("no x").status, Conflict("stale", version=3).details) == (404, {"version": 3})
    locked = TooManyRequests("later", retry_after_s=7)
    assert (locked.status, locked.headers()) == (429, {"Retry-After": "7"})
    assert all(issubclass(e, ServiceError) for e in (NotFound, Conflict, Forbidden))


@pytest.mark.parametrize("secret", [None, "short-secret", "x" * 31])
def test_a_missing_or_short_secret_stops_the_service_with_a_clear_message(secret):
    settings = ServiceSettings(auth_secret=secret)
    with pytest.raises(SystemExit, match="CRM_AUTH_SECRET"):
        Service(ServiceSpec(title="test"), settings)


def test_the_token_lifetime_has_an_upper_bound():
    with pytest.raises(ValidationError, match="less than or equal"):
        ServiceSettings(auth_token_ttl_s=30 * 24 * 3600)


def test_the_version_read_comes_from_if_match_first_then_the_body_and_is_required():
    assert version_read('"0"', 5) == 0  # a version 0 is a version, not a missing one
    assert version_read('W/"3"', None) == 3
    assert version_read(None, 5) == 5
    with pytest.raises(VersionRequired):
        version_read(None, None)


@pytest.mark.parametrize("given", [0.5, 1700000000, "0.5", "1700000000", " 12 ", "nan"])
def test_a_time_given_as_a_number_is_refused_not_read_as_seconds_since_1970(given):
    with pytest.raises(ValidationError, match="ISO 8601 with its time zone, not as a number"):
        TypeAdapter(Instant).validate_python(given)


def test_a_time_is_iso_8601_with_its_zone_and_within_what_a_datetime_holds():
    at = TypeAdapter(Instant).validate_python("2026-11-29T10:00:00+08:00")
    assert at == datetime(2026, 11, 29, 2, tzinfo=UTC)
    with pytest.raises(ValidationError, match="timezone"):
        TypeAdapter(Instant).validate_python("2026-11-29T10:00:00")
    with pytest.raises(ValidationError, match="out of range"):
        TypeAdapter(Instant).validate_python("0001-01-01T00:00:00+00:00")


class Shipment(Command):
    tons: Annotated[float, Field(ge=0)] | None = None
    trucks: int | None = None
    urgent: bool = False


@pytest.mark.parametrize(
    "body", ['{"tons": "5"}', '{"trucks": "2"}', '{"urgent": 0}', '{"trucks": 2.5}']
)
def test_numbers_and_flags_are_taken_only_as_json_writes_them_even_optional_and_constrained(body):
    with pytest.raises(ValidationError):
        Shipment.model_validate_json(body)


def test_a_whole_number_is_a_number_of_tons():
    assert Shipment.model_validate_json('{"tons": 5, "trucks": 2, "urgent": true}').tons == 5.0
