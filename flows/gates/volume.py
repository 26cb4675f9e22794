"""Volume bounds of a partition: how many rows a day may hold, from the days that passed before.

The rule (a suite's `meta.sluice.volume`; every number below is a key of it):
- History: the row counts of earlier days whose checks passed (a blocked day never drags the
  bounds down), leaving out holidays (settings `holidays`), over the last `weeks` weeks.
- Seasonal band, once at least `min_weeks` earlier days of the same weekday are known: the
  median of those days ± a robust spread: `spread` x the scaled median absolute deviation, but
  at least `min_spread` x the median; the upper side is twice as wide (a busy day is rarely a
  broken delivery). Weekend dips compare with weekends, Tuesdays with Tuesdays.
- First weeks (fewer same-weekday days): the seasonal band cannot be drawn yet. The day only
  warns outside `warn` = [low, high] x the median of every recent day, and is stopped outside
  the coarse band `coarse` (same, wider: an outage, a day at 5 % of its neighbours) once three
  recent days are known.
- Holidays: a holiday is held only to the floor (its volume is its own).
- Floor: a day with fewer than `floor` rows always fails, whatever the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median
from typing import Any

from flows.errors import ProjectError

UNBOUNDED = 2**62
_MAD_TO_SIGMA = 1.4826  # scales the median absolute deviation to a normal's sigma
_DEFAULTS: dict[str, Any] = {
    "weeks": 8,
    "min_weeks": 2,
    "spread": 4.0,
    "min_spread": 0.15,
    "coarse": [0.2, 5.0],
    "warn": [0.5, 2.0],
    "floor": 1,
}


@dataclass(frozen=True)
class Bounds:
    """The accepted row count range of a partition and the rule that drew it."""

    low: int
    high: int
    rule: str

    def describe(self) -> str:
        high = "no upper bound" if self.high >= UNBOUNDED else f"{self.high:,}"
        return f"expected {self.low:,}..{high} rows ({self.rule})"


@dataclass(frozen=True)
class VolumeRule:
    """A suite's `meta.sluice.volume`: how the row count range follows history."""

    weeks: int
    min_weeks: int
    spread: float
    min_spread: float
    coarse: tuple[float, float]
    warn: tuple[float, float]
    floor: int

    @classmethod
    def of(cls, spec: dict[str, Any]) -> VolumeRule:
        values = {**_DEFAULTS, **(spec or {})}
        unknown = sorted(set(values) - set(_DEFAULTS))
        try:
            if unknown:
                raise ValueError(f"unknown keys {unknown} (known: {sorted(_DEFAULTS)})")
            low, high = (float(v) for v in values["coarse"])
            warn_low, warn_high = (float(v) for v in values["warn"])
            rule = cls(
                int(values["weeks"]),
                int(values["min_weeks"]),
                float(values["spread"]),
                float(values["min_spread"]),
                (low, high),
                (warn_low, warn_high),
                int(values["floor"]),
            )
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"volume rule {spec!r}: {exc}") from exc
        bands_ok = 0 < low <= warn_low < 1 < warn_high <= high
        if rule.weeks < 1 or rule.min_weeks < 1 or not bands_ok or rule.floor < 0:
            raise ProjectError(
                f"volume rule {spec!r}: weeks, min_weeks >= 1; 0 < coarse low <= warn low < 1 "
                "< warn high <= coarse high"
            )
        return rule

    @property
    def history_days(self) -> int:
        """How far back the history reaches."""
        return 7 * self.weeks

    def bounds(
        self, day: date, history: dict[date, int], holidays: frozenset[date]
    ) -> tuple[Bounds, Bounds | None]:
        """The range that stops `day` and, in the first weeks, the finer one that only warns,
        from the counts of earlier passed days (holidays left out)."""
        if day in holidays:
            return Bounds(self.floor, UNBOUNDED, "a holiday: only the floor applies"), None
        start = day - timedelta(days=self.history_days)
        usable = {d: n for d, n in history.items() if start <= d < day and d not in holidays}
        same = [n for d, n in usable.items() if d.weekday() == day.weekday()]
        if len(same) >= self.min_weeks:
            middle = median(same)
            deviation = median(abs(n - middle) for n in same) * _MAD_TO_SIGMA
            spread = max(self.spread * deviation, self.min_spread * middle)
            low = max(self.floor, int(middle - spread))
            rule = f"median of {len(same)} earlier {day:%A}s {middle:,.0f} ± {spread:,.0f}"
            return Bounds(low, int(middle + 2 * spread) + 1, rule), None
        if not usable:
            return Bounds(self.floor, UNBOUNDED, "no history yet: only the floor applies"), None
        middle = median(usable.values())
        recent = f"the median of {len(usable)} earlier days, {middle:,.0f}"
        warn = self._band(middle, self.warn, f"first weeks, warns: {self._x(self.warn)} {recent}")
        if len(usable) < 3:
            return Bounds(self.floor, UNBOUNDED, "little history: only the floor stops it"), warn
        stop = self._band(middle, self.coarse, f"first weeks: {self._x(self.coarse)} {recent}")
        return stop, warn

    def _band(self, middle: float, band: tuple[float, float], rule: str) -> Bounds:
        return Bounds(max(self.floor, int(middle * band[0])), int(middle * band[1]) + 1, rule)

    @staticmethod
    def _x(band: tuple[float, float]) -> str:
        return f"{band[0]:g}..{band[1]:g} x"


def volume_meta(bounds: Bounds) -> dict[str, Any]:
    """What a volume check says it expected, in words and as numbers (the gate history keeps
    both: `sluice report` draws the range)."""
    return {"expected": bounds.describe(), "bounds": [bounds.low, bounds.high]}


def warning_band(config: dict[str, Any], warn: Bounds) -> dict[str, Any]:
    """A copy of a volume expectation over the warning band (parameters volume_warn_*)."""
    kwargs = {
        **config["kwargs"],
        "min_value": {"$PARAMETER": "volume_warn_min"},
        "max_value": {"$PARAMETER": "volume_warn_max"},
    }
    meta = {**config["meta"], **volume_meta(warn)}
    return {**config, "kwargs": kwargs, "meta": meta, "severity": "warning"}


def check_bounds(value: Any) -> tuple[int, int] | None:
    """The (low, high) a volume check's meta carries, if it is one."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return int(value[0]), int(value[1])
    return None
