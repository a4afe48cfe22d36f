from datetime import UTC, datetime, timedelta, timezone

import pytest
from crm_reporting.reports import period
from crm_runtime.errors import Unprocessable


def test_the_default_period_is_the_30_days_before_until():
    until = datetime(2026, 3, 31, tzinfo=UTC)
    assert period(None, until) == (until - timedelta(days=30), until)


def test_a_period_reaching_before_the_calendar_is_refused_with_its_reason():
    with pytest.raises(Unprocessable, match="between 0001-01-01 and 9999-12-31"):
        period(None, datetime(1, 1, 1, tzinfo=UTC))


def test_a_date_beyond_the_calendar_in_utc_is_refused_with_its_reason():
    ahead = timezone(-timedelta(hours=23))
    with pytest.raises(Unprocessable, match="between 0001-01-01 and 9999-12-31"):
        period(None, datetime(9999, 12, 31, 23, tzinfo=ahead))


def test_a_date_without_a_time_zone_is_refused():
    with pytest.raises(Unprocessable, match="time zone"):
        period(datetime(2026, 1, 1), None)
