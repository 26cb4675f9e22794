"""What a sample lake holds: its days, volume, seed, lateness, schema drift and fault rates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


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

    @property
    def drift_date(self) -> date:
        """First event date whose events carry `app_version`."""
        return self.drift_from or self.start + timedelta(days=self.days // 2)
