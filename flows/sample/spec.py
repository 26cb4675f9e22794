"""What a sample lake holds: its days, volume, seed, lateness, schema drift and fault rates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flows.settings import DEFAULT_HOLIDAYS, holiday_dates

# A marketplace's week: events on a weekday are events_per_day x its factor, Monday first.
# The factors average 1 (a week holds 7 x events_per_day events): weekdays 6-12 % busier than
# the mean, Saturdays and Sundays 18 % quieter.
WEEKLY = (1.10, 1.12, 1.10, 1.06, 0.98, 0.82, 0.82)
# On a holiday (MM-DD every year, or YYYY-MM-DD; by default the gates' calendar) half the events.
HOLIDAY_FACTOR = 0.5


@dataclass(frozen=True)
class FaultRates:
    """How often deliveries go wrong; each rate is a share in [0, 1)."""

    duplicate: float = 0.02
    late: float = 0.05
    too_late: float = 0.005
    malformed: float = 0.01

    def __post_init__(self) -> None:
        for name in ("duplicate", "late", "too_late", "malformed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise ValueError(f"fault rate {name} must be a number in [0, 1), got {value!r}")
        if self.late + self.too_late >= 1:
            raise ValueError(f"late + too_late must be below 1, got {self.late + self.too_late}")


@dataclass(frozen=True)
class LakeSpec:
    """What to generate: event dates and lake days start .. start + days - 1."""

    start: date
    days: int
    events_per_day: int
    seed: int = 42
    lateness_days: int = 3
    drift_from: date | None = None
    faults: FaultRates = field(default_factory=FaultRates)
    weekly: tuple[float, ...] = WEEKLY
    holidays: tuple[str, ...] = DEFAULT_HOLIDAYS
    holiday_factor: float = HOLIDAY_FACTOR

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise ValueError(f"start must be a date, got {self.start!r}")
        if self.drift_from is not None and (
            isinstance(self.drift_from, datetime) or not isinstance(self.drift_from, date)
        ):
            raise ValueError(f"drift_from must be a date or None, got {self.drift_from!r}")
        for name, low in (("days", 1), ("events_per_day", 1), ("lateness_days", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if not isinstance(self.faults, FaultRates):
            raise ValueError(f"faults must be a FaultRates, got {self.faults!r}")
        if len(self.weekly) != 7 or not all(0 < f <= 10 for f in self.weekly):
            raise ValueError(f"weekly must be 7 factors in (0, 10], got {self.weekly!r}")
        if not 0 < self.holiday_factor <= 10:
            raise ValueError(f"holiday_factor must be in (0, 10], got {self.holiday_factor!r}")

    def events_on(self, day: date) -> int:
        """How many events the app emits on `day`: the weekday's share, less on a holiday."""
        years = range(day.year, day.year + 1)
        factor = self.weekly[day.weekday()]
        if day in holiday_dates(self.holidays, years):
            factor *= self.holiday_factor
        return max(1, round(self.events_per_day * factor))

    @property
    def drift_date(self) -> date:
        """First event date whose events carry `app_version`."""
        return self.drift_from or self.start + timedelta(days=self.days // 2)
