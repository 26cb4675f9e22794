"""Dates: parsing and validating the partition dates and ranges users pass in; the clock."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

from flows.errors import InvalidParameter

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def parse_date(value: str | date, name: str = "date") -> date:
    """Parse an ISO date (YYYY-MM-DD), naming the parameter when it is wrong."""
    if isinstance(value, datetime):
        raise InvalidParameter(f"{name} must be a date, not a date and time: {value!r}")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InvalidParameter(f"{name} must be a date like 2026-11-01, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidParameter(f"{name} {value!r} is not a calendar date: {exc}") from exc


def check_order(start: date, end: date) -> None:
    """Refuse a range whose end comes before its start."""
    if end < start:
        raise InvalidParameter(f"end {end} is before start {start}")


def date_range(
    start: date, end: date, *, max_days: int | None = None, latest: date | None = None
) -> list[date]:
    """Every day from start to end inclusive; refuses inverted, future or over-long ranges."""
    check_order(start, end)
    if latest is not None and end > latest:
        raise InvalidParameter(
            f"end {end} is in the future (today is {latest} UTC): no lake day exists for it yet"
        )
    days = (end - start).days + 1
    if max_days is not None and days > max_days:
        raise InvalidParameter(
            f"range {start}..{end} spans {days} days, more than the maximum of {max_days} "
            "(set SLUICE_MAX_BACKFILL_DAYS to allow more)"
        )
    return list(iter_days(start, end))


def iter_days(start: date, end: date) -> Iterator[date]:
    """Yield each day from start to end inclusive."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)
