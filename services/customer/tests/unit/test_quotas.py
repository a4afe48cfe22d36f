from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from crm_contracts import parse_event
from crm_customer.domain.quotas import (
    SetQuota,
    list_filters,
    new_quota,
    next_version,
    quota_id,
    quota_set,
    readable,
    version_of,
)
from crm_runtime.auth import Principal, Role
from crm_runtime.errors import Conflict, Forbidden, VersionRequired
from pydantic import ValidationError

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
MANAGER = Principal("u-manager", Role.MANAGER)
OPS = Principal("u-ops", Role.OPS)
ZHAO = Principal("u-zhao", Role.SALESPERSON, salesperson_id="sp-zhao")
WHAT = "the quota of salesperson sp-zhao for 2027-Q1"


def quota(**fields) -> SetQuota:
    given = dict(target="salesperson", target_id="sp-zhao", period="2027-Q1")
    return SetQuota(**(given | fields))


@pytest.mark.parametrize("period", ["2027", "2027-Q1", "2027-Q4", "2027-01", "2027-12"])
def test_a_quota_is_set_for_a_year_a_quarter_or_a_month(period):
    assert quota(period=period).period == period


@pytest.mark.parametrize("period", ["2027-Q5", "2027-13", "2027-00", "27", "2027-q1", "0000"])
def test_a_period_outside_the_calendar_is_refused_naming_the_forms_a_period_takes(period):
    with pytest.raises(ValidationError) as refused:
        quota(period=period)
    assert "a year (2027), quarter (2027-Q1) or month (2027-03)" in str(refused.value)


def test_revenue_without_its_currency_or_a_currency_alone_is_refused():
    for fields in ({"revenue": "100"}, {"currency": "CNY"}):
        with pytest.raises(ValidationError, match="revenue and currency go together"):
            quota(**fields)


def test_a_quota_with_neither_revenue_nor_freight_means_no_target_any_more():
    cleared = quota(reason="territory closed")
    assert (cleared.revenue, cleared.currency, cleared.freight_tons) == (None, None, None)


@pytest.mark.parametrize(
    "fields",
    [{"freight_tons": -1}, {"freight_tons": "5"}, {"revenue": "1.001", "currency": "CNY"}],
)
def test_negative_freight_tons_as_text_and_fractions_of_a_cent_are_refused(fields):
    with pytest.raises(ValidationError):
        quota(**fields)


def test_a_teams_code_has_no_spaces_since_it_is_part_of_the_key():
    with pytest.raises(ValidationError, match="a team's code is 1 to 40 letters"):
        quota(target="team", target_id="east team")
    assert quota(target="team", target_id="east-1").target_id == "east-1"


def test_a_salesperson_and_a_team_of_the_same_name_have_quotas_of_their_own():
    assert quota_id("salesperson", "east", "2027") != quota_id("team", "east", "2027")


def test_the_first_quota_is_version_one_and_needs_no_version_read():
    assert next_version(WHAT, current=None, read=None) == 1


def test_a_version_read_of_a_quota_never_set_is_a_conflict():
    with pytest.raises(Conflict, match="was never set"):
        next_version(WHAT, current=None, read=1)


def test_setting_a_quota_again_needs_the_version_read_and_says_the_current_one():
    with pytest.raises(VersionRequired) as required:
        next_version(WHAT, current=2, read=None)
    assert required.value.details == {"version": 2}
    assert "is at version 2" in required.value.reason


def test_a_stale_version_is_a_conflict_naming_the_current_version():
    with pytest.raises(Conflict) as stale:
        next_version(WHAT, current=3, read=2)
    assert stale.value.details == {"version": 3}
    assert stale.value.reason == f"{WHAT} changed since version 2: it is at 3"


def test_a_change_based_on_the_current_version_makes_the_next():
    assert next_version(WHAT, current=3, read=3) == 4


def test_a_new_quota_holds_its_first_version_as_current_and_in_its_history():
    command = quota(revenue=Decimal("2500000.00"), currency="CNY", freight_tons=1200.5)
    first = version_of(command, 1, "u-manager", NOW)
    document = new_quota(command, first)
    assert document["_id"] == "salesperson:sp-zhao:2027-Q1"
    assert first == {
        "version": 1,
        "revenue": "2500000.00",
        "currency": "CNY",
        "freight_tons": 1200.5,
        "reason": None,
        "set_by": "u-manager",
        "set_at": NOW,
    }
    assert document["history"] == [first] and document["version"] == 1


def test_a_teams_quota_travels_under_the_teams_key_with_its_version_and_setter():
    command = quota(target="team", target_id="east-1", period="2027", freight_tons=9000.0)
    event = quota_set(command, version_of(command, 3, "u-manager", NOW), uuid4())
    again = parse_event(event.to_bytes())
    assert again.customer_id == "team:east-1" and again.key() == b"team:east-1"
    assert (again.payload.version, again.payload.set_by) == (3, "u-manager")
    assert (again.payload.target, again.payload.period) == ("team", "2027")


def test_a_salespersons_quota_travels_under_their_own_id():
    command = quota(revenue=Decimal("10"), currency="CNY", reason="new territory")
    event = quota_set(command, version_of(command, 1, None, NOW), uuid4())
    assert event.customer_id == "sp-zhao" and event.payload.reason == "new territory"
    assert event.payload.revenue == Decimal("10") and event.payload.set_by is None


def test_managers_and_ops_read_every_quota_a_salesperson_only_their_own():
    for caller in (MANAGER, OPS, None):
        assert readable(caller, "team", "east-1") and readable(caller, "salesperson", "sp-li")
    assert readable(ZHAO, "salesperson", "sp-zhao")
    assert not readable(ZHAO, "salesperson", "sp-li")
    assert not readable(ZHAO, "team", "sp-zhao")
    assert not readable(Principal("u-x", Role.SALESPERSON), "salesperson", "")


def test_a_salesperson_lists_their_own_quotas_and_may_not_ask_for_others():
    assert list_filters(ZHAO, None, None) == ("salesperson", "sp-zhao")
    assert list_filters(ZHAO, "salesperson", "sp-zhao") == ("salesperson", "sp-zhao")
    for target, target_id in (("team", None), (None, "sp-li"), ("salesperson", "sp-li")):
        with pytest.raises(Forbidden):
            list_filters(ZHAO, target, target_id)
    assert list_filters(MANAGER, "team", None) == ("team", None)
