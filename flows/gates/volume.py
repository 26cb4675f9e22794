"""Volume bounds of a partition from the row counts of earlier checked days."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Any

from flows.errors import ProjectError

UNBOUNDED = 2**62


@dataclass(frozen=True)
class Bounds:
    """The accepted row count range of a partition, and whether a miss only warns."""

    low: int
    high: int
    warn_only: bool


@dataclass(frozen=True)
class VolumeRule:
    """An expectation's `meta.sluice.volume`: how the row count range follows history."""

    history_days: int
    min_history: int
    min_ratio: float
    max_ratio: float

    @classmethod
    def of(cls, spec: dict[str, Any]) -> VolumeRule:
        try:
            return cls(
                int(spec["history_days"]),
                int(spec["min_history"]),
                float(spec["min_ratio"]),
                float(spec["max_ratio"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProjectError(f"volume rule {spec!r}: {exc}") from exc

    def bounds(self, history: list[int]) -> Bounds:
        """[min_ratio, max_ratio] x the median of history; warn only with too little of it."""
        warn_only = len(history) < self.min_history
        if not history:
            return Bounds(0, UNBOUNDED, warn_only)
        middle = median(history)
        return Bounds(int(middle * self.min_ratio), int(middle * self.max_ratio) + 1, warn_only)
