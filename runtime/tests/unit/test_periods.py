"""Calendar periods of quotas and forecasts. Pure."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from crm_runtime.periods import (
    bounds,
    month_of,
    months_of,
    parts_of,
    period_spanning,
    periods_holding,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "months"),
    [
        ("2027-03", ["2027-03"]),
        ("2027-Q1", ["2027-01", "2027-02", "2027-03"]),
        ("2027-Q4", ["2027-10", "2027-11", "2027-12"]),
        ("2027", [f"2027-{m:02d}" for m in range(1, 13)]),
    ],
)
def test_a_period_is_its_months(period, months):
    assert months_of(period) == months


def test_a_year_is_made_of_quarters_a_quarter_of_months_a_month_of_nothing():
    assert parts_of("2027") == ["2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"]
    assert parts_of("2027-Q2") == ["2027-04", "2027-05", "2027-06"]
    assert parts_of("2027-05") == []


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("2027-12", utc(2027, 12, 1), utc(2028, 1, 1)),
        ("2027-Q4", utc(2027, 10, 1), utc(2028, 1, 1)),
        ("2028-Q1", utc(2028, 1, 1), utc(2028, 4, 1)),
        ("2027", utc(2027, 1, 1), utc(2028, 1, 1)),
        ("2027-02", utc(2027, 2, 1), utc(2027, 3, 1)),
    ],
)
def test_a_period_runs_from_its_first_day_to_the_next_period(period, start, end):
    assert bounds(period) == (start, end)


@pytest.mark.parametrize("period", ["2027-Q5", "2027-13", "2027-00", "27", "2027-3", "0000", ""])
def test_anything_else_is_refused_naming_the_forms(period):
    with pytest.raises(ValueError, match=r"a year \(2027\), quarter \(2027-Q1\) or month"):
        months_of(period)


def test_a_time_falls_in_its_month_in_utc():
    east = timezone(timedelta(hours=8))
    assert month_of(datetime(2027, 4, 1, 7, tzinfo=east)) == "2027-03"
    assert month_of(date(2027, 4, 1)) == "2027-04"


@pytest.mark.parametrize(
    ("since", "until", "period"),
    [
        (utc(2027, 1, 1), utc(2027, 4, 1), "2027-Q1"),
        (utc(2027, 1, 1), utc(2028, 1, 1), "2027"),
        (utc(2027, 1, 1), utc(2027, 2, 1), "2027-01"),
        (utc(2027, 1, 1), utc(2027, 3, 1), None),
        (utc(2027, 1, 2), utc(2027, 2, 1), None),
    ],
)
def test_a_span_is_a_period_only_when_it_is_exactly_one(since, until, period):
    assert period_spanning(since, until) == period


def test_a_month_is_held_by_itself_its_quarter_and_its_year():
    assert periods_holding("2027-05") == ["2027-05", "2027-Q2", "2027"]
    assert periods_holding("2027-12") == ["2027-12", "2027-Q4", "2027"]
    assert periods_holding(None) == ["none"]


@pytest.mark.parametrize("period", ["9999", "9999-Q4", "9999-12"])
def test_a_period_ending_past_the_calendar_is_refused(period):
    with pytest.raises(ValueError, match="it must end before the year 10000"):
        bounds(period)
    assert months_of("9999-11") == ["9999-11"] and bounds("9999-Q3")[1].month == 10


def test_a_span_in_the_calendar_last_year_is_no_period_rather_than_an_error():
    assert period_spanning(utc(9999, 10, 1), utc(9999, 12, 30)) is None
