"""A run's progress: (lake day, step) units done of those planned, and the time left estimated
from the ledger's past durations per step; shown by progress_display."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from statistics import median

from flows.state.ledger import Ledger, Status

HISTORY = 20  # successful attempts per step the estimate reads: recent enough to follow volumes
WIDTH = 80


class Ended(StrEnum):
    """How a step ended for its lake days, as progress shows it."""

    OK = "ok"
    BLOCKED = "blocked"
    FAILED = "failed"
    SKIPPED = "skipped"  # an earlier step of the day failed: this one did not run


def ended(statuses: Sequence[Status]) -> Ended:
    """How a step ended for its days: the worst of their attempts."""
    if Status.FAILED in statuses or Status.RUNNING in statuses:
        return Ended.FAILED
    return Ended.BLOCKED if Status.BLOCKED in statuses else Ended.OK


@dataclass(frozen=True)
class StepDone:
    """One step finished for one lake day or a batch of contiguous ones."""

    layer: str
    days: tuple[date, ...]
    ended: Ended
    seconds: float

    @property
    def span(self) -> str:
        first, last = self.days[0], self.days[-1]
        return str(first) if first == last else f"{first}..{last}"


class Estimator:
    """Seconds per lake day of each step: the median of the ledger's recent successes; for a
    step without history, the median of what this run measured of it, else of every step (a
    median, since a process's first step also pays its one-off warm-up)."""

    def __init__(self, history: Mapping[str, Sequence[float]]) -> None:
        self._history = {layer: median(seconds) for layer, seconds in history.items() if seconds}
        self._measured: dict[str, list[float]] = {}

    @classmethod
    def from_ledger(cls, ledger: Ledger, layers: Sequence[str]) -> Estimator:
        return cls({layer: ledger.recent_durations(layer, HISTORY) for layer in layers})

    def measure(self, step: StepDone) -> None:
        """Learn from a finished step (a failed or skipped one says nothing of a step's time)."""
        if step.ended in (Ended.OK, Ended.BLOCKED):
            per_day = step.seconds / len(step.days)
            self._measured.setdefault(step.layer, []).extend([per_day] * len(step.days))

    def per_day(self, layer: str) -> float | None:
        if layer in self._history:
            return self._history[layer]
        if layer in self._measured:
            return median(self._measured[layer])
        everything = [s for seconds in self._measured.values() for s in seconds]
        return median(everything) if everything else None

    def left(self, remaining: Mapping[str, int]) -> float | None:
        """Seconds for the units left of each step (None: a step has no estimate yet)."""
        total = 0.0
        for layer, units in remaining.items():
            if units <= 0:
                continue
            per_day = self.per_day(layer)
            if per_day is None:
                return None
            total += per_day * units
        return total


class RunProgress:
    """The units a run planned per step, those done, and the time left."""

    def __init__(self, planned: Mapping[str, int], estimator: Estimator) -> None:
        self.total = sum(planned.values())
        self.done = 0
        self.remaining = dict(planned)
        self.estimator = estimator

    def finish(self, step: StepDone) -> None:
        """Count a finished step's days as done and learn from its duration."""
        units = len(step.days)
        self.done += units
        self.remaining[step.layer] = self.remaining.get(step.layer, 0) - units
        self.estimator.measure(step)

    def left(self) -> float | None:
        return 0.0 if self.done >= self.total else self.estimator.left(self.remaining)


def duration(seconds: float) -> str:
    """12.4s under a minute, then 1m40s, then 2h05m."""
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def time_left(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    return "0s" if seconds == 0 else f"~{duration(seconds)}"


def line(step: StepDone, progress: RunProgress, width: int = WIDTH) -> str:
    """One line for a finished step, e.g. `progress 3/21 dwh 2026-11-01..2026-11-03 ok 12.4s
    · left ~1m40s`; a long step name is shortened to fit `width`, never the dates."""
    took = "" if step.ended == Ended.SKIPPED else f" {duration(step.seconds)}"
    head = f"progress {progress.done}/{progress.total} "
    tail = f" {step.span} {step.ended}{took} · left {time_left(progress.left())}"
    room = max(width - len(head) - len(tail), 4)
    layer = step.layer if len(step.layer) <= room else step.layer[: room - 1] + "…"
    return head + layer + tail
