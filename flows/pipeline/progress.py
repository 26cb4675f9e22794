"""A run's progress: (lake day, step) units done of those planned, and the time left estimated
from the ledger's past durations per step; shown by progress_display."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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


@dataclass(frozen=True)
class StepTime:
    """A step's seconds for one run of n lake days: a part per run (dbt's start, the gates'
    context, publishing) plus a part per day."""

    per_run: float
    per_day: float

    def seconds(self, days: int, runs: int = 1) -> float:
        """Seconds for `days` lake days split into `runs` runs."""
        return self.per_run * runs + self.per_day * days


def fit(runs: Sequence[tuple[int, float]]) -> StepTime | None:
    """A step's time from its runs (lake days, seconds): with runs of two sizes or more, the
    least-squares line through the median seconds of each size; with one size, a part per day
    only (a median: a process's first step also pays its one-off warm-up). Never negative."""
    if not runs:
        return None
    by_size: dict[int, list[float]] = {}
    for days, seconds in runs:
        by_size.setdefault(days, []).append(seconds)
    per_day_only = StepTime(0.0, median(seconds / days for days, seconds in runs))
    if len(by_size) < 2:
        return per_day_only
    points = [(days, median(seconds)) for days, seconds in by_size.items()]
    mean_days = sum(d for d, _ in points) / len(points)
    mean_seconds = sum(s for _, s in points) / len(points)
    slope = sum((d - mean_days) * (s - mean_seconds) for d, s in points) / sum(
        (d - mean_days) ** 2 for d, _ in points
    )
    if slope < 0:  # longer runs were no slower: the time is the runs' own
        return StepTime(mean_seconds, 0.0)
    intercept = mean_seconds - slope * mean_days
    return StepTime(intercept, slope) if intercept >= 0 else per_day_only


class Estimator:
    """Each step's time (StepTime): fitted to the ledger's recent successes of the step; for a
    step without history, to what this run measured of it, else per day from every step."""

    def __init__(self, history: Mapping[str, Sequence[tuple[int, float]]]) -> None:
        self._history = {layer: fit(runs) for layer, runs in history.items() if runs}
        self._measured: dict[str, list[tuple[int, float]]] = {}

    @classmethod
    def from_ledger(cls, ledger: Ledger, layers: Sequence[str]) -> Estimator:
        return cls({layer: ledger.recent_runs(layer, HISTORY) for layer in layers})

    def measure(self, step: StepDone) -> None:
        """Learn from a finished step (a failed or skipped one says nothing of a step's time)."""
        if step.ended in (Ended.OK, Ended.BLOCKED):
            self._measured.setdefault(step.layer, []).append((len(step.days), step.seconds))

    def time(self, layer: str) -> StepTime | None:
        known = self._history.get(layer) or fit(self._measured.get(layer, []))
        if known is not None:
            return known
        everything = [seconds / days for runs in self._measured.values() for days, seconds in runs]
        return StepTime(0.0, median(everything)) if everything else None

    def left(self, remaining: Mapping[str, int], daily: Collection[str] = ()) -> float | None:
        """Seconds for the lake days left of each step, in one run per step, or one per day for
        the `daily` steps (None: a step has no estimate yet)."""
        total = 0.0
        for layer, units in remaining.items():
            if units <= 0:
                continue
            time = self.time(layer)
            if time is None:
                return None
            total += time.seconds(units, units if layer in daily else 1)
        return total


class RunProgress:
    """The units a run planned per step, those done, and the time left."""

    def __init__(
        self, planned: Mapping[str, int], estimator: Estimator, daily: Collection[str] = ()
    ) -> None:
        self.total = sum(planned.values())
        self.done = 0
        self.remaining = dict(planned)
        self.estimator = estimator
        self.daily = daily  # the steps that run a lake day at a time (landing)

    def finish(self, step: StepDone) -> None:
        """Count a finished step's days as done and learn from its duration."""
        units = len(step.days)
        self.done += units
        self.remaining[step.layer] = self.remaining.get(step.layer, 0) - units
        self.estimator.measure(step)

    def left(self) -> float | None:
        return 0.0 if self.done >= self.total else self.estimator.left(self.remaining, self.daily)


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
