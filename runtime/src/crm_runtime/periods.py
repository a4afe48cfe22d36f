"""Calendar periods of quotas and forecasts: a year (2027), a quarter (2027-Q1) or a month
(2027-03), in UTC. Pure."""

import re
from datetime import UTC, date, datetime

_PERIOD = re.compile(r"^([0-9]{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?$")


def _parsed(period: str) -> tuple[int, int, int]:
    """(year, first month, months) of a period; ValueError, naming the forms, otherwise."""
    found = _PERIOD.match(period)
    if found is None or found.group(1) == "0000":
        raise ValueError(
            f"no period {period!r}: a year (2027), quarter (2027-Q1) or month (2027-03)"
        )
    year = int(found.group(1))
    if found.group(2):
        first, count = 3 * int(found.group(2)) - 2, 3
    elif found.group(3):
        first, count = int(found.group(3)), 1
    else:
        first, count = 1, 12
    if year == 9999 and first + count > 12:  # its end, 10000-01-01, is past any datetime
        raise ValueError(f"no period {period!r}: it must end before the year 10000")
    return year, first, count


def months_of(period: str) -> list[str]:
    """Its months, in order: 2027-Q1 -> 2027-01, 2027-02, 2027-03."""
    year, first, count = _parsed(period)
    return [f"{year:04d}-{month:02d}" for month in range(first, first + count)]


def parts_of(period: str) -> list[str]:
    """What it is made of, one level down: a year's quarters, a quarter's months; a month none."""
    year, _, count = _parsed(period)
    if count == 12:
        return [f"{year:04d}-Q{quarter}" for quarter in range(1, 5)]
    if count == 3:
        return months_of(period)
    return []


def bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC."""
    year, first, count = _parsed(period)
    last = first + count
    end = datetime(year + (last > 12), (last - 1) % 12 + 1, 1, tzinfo=UTC)
    return datetime(year, first, 1, tzinfo=UTC), end


def month_of(moment: date | datetime) -> str:
    """The month a date, or a time (in UTC), falls in."""
    if isinstance(moment, datetime) and moment.utcoffset():
        moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def period_spanning(since: datetime, until: datetime) -> str | None:
    """The period [since, until) is exactly, if it is one (a month, quarter or year in UTC)."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    candidates = [f"{since.year:04d}", f"{since.year:04d}-Q{(since.month + 2) // 3}"]
    candidates.append(month_of(since))
    return next((p for p in candidates if _bounds_or_none(p) == (since, until)), None)


def _bounds_or_none(period: str) -> tuple[datetime, datetime] | None:
    try:
        return bounds(period)
    except ValueError:  # ends past the calendar: no span of times is it
        return None


def periods_holding(month: str | None) -> list[str]:
    """The month, its quarter and its year; for no month, "none" (what is not scheduled)."""
    if month is None:
        return ["none"]
    year, number = month.split("-")
    return [month, f"{year}-Q{(int(number) + 2) // 3}", year]
