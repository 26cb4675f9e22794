"""What `sluice report` shows, read from the state store only: the latest attempt of each lake day
and step, each day's volume against its gate's range, gate checks per day and open incidents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from flows.alerts.incidents import Incident, Incidents
from flows.dates import iter_days
from flows.errors import one_line
from flows.gates.checks import Check
from flows.gates.history import SuiteRun, latest
from flows.gates.volume import UNBOUNDED
from flows.state.ledger import Attempt, Ledger
from flows.state.store import StateStore

NEVER_RUN = "never run"


@dataclass(frozen=True)
class Cell:
    """One lake day's step in the grid: its latest attempt (state NEVER_RUN: none)."""

    dt: date
    step: str
    state: str
    attempt: int | None = None
    seconds: float | None = None
    error: str = ""
    accepted: str = ""

    @classmethod
    def of(cls, attempt: Attempt, accepted: str) -> Cell:
        error = ""
        if attempt.error_class or attempt.error_message:
            error = one_line(f"{attempt.error_class or 'error'}: {attempt.error_message or ''}")
        return cls(
            attempt.dt,
            attempt.layer,
            attempt.status.value,
            attempt.attempt,
            attempt.seconds,
            error,
            accepted,
        )


@dataclass(frozen=True)
class Band:
    """A row count range a volume check held a day to (high None: no upper bound)."""

    low: int
    high: int | None
    rule: str


@dataclass(frozen=True)
class Volume:
    """One suite's row count on one lake day, and the ranges its volume check drew."""

    suite: str
    dt: date
    observed: int
    blocks: Band | None
    warns: Band | None


@dataclass(frozen=True)
class GateDay:
    """How the checks of one lake day's latest gate runs ended, over every suite."""

    dt: date
    passed: int
    warned: int
    blocked: int


@dataclass(frozen=True)
class Overview:
    """Everything the report page shows, for the lake days from `days[0]` to `days[-1]`."""

    built_at: datetime
    days: tuple[date, ...]
    steps: tuple[str, ...]
    cells: tuple[Cell, ...]
    volumes: tuple[Volume, ...]
    gate_days: tuple[GateDay, ...]
    incidents: tuple[Incident, ...]

    @cached_property
    def _grid(self) -> dict[tuple[date, str], Cell]:
        return {(c.dt, c.step): c for c in self.cells}

    def cell(self, dt: date, step: str) -> Cell:
        """The grid cell of a lake day and step."""
        return self._grid.get((dt, step), Cell(dt, step, NEVER_RUN))


def gather(store: StateStore, days: int, built_at: datetime) -> Overview:
    """The last `days` lake days the ledger knows (up to its latest), from the state store."""
    ledger = Ledger(store)
    first, last = ledger.span()
    if first is None or last is None:
        window: tuple[date, ...] = ()
    else:
        window = tuple(iter_days(max(first, last - timedelta(days=days - 1)), last))
    attempts = ledger.attempts(window[0], window[-1]) if window else []
    accepted = ledger.accepted()
    newest = {(a.dt, a.layer): a for a in attempts}  # oldest first: the last one stays
    runs = latest(store, window[0], window[-1]) if window else []
    return Overview(
        built_at=built_at,
        days=window,
        steps=_step_order(attempts),
        cells=tuple(Cell.of(a, accepted.get(key, "")) for key, a in sorted(newest.items())),
        volumes=tuple(volumes(runs)),
        gate_days=tuple(gate_days(runs)),
        incidents=tuple(Incidents(store).history(open_only=True)),
    )


def _step_order(attempts: Iterable[Attempt]) -> tuple[str, ...]:
    """Steps in the order they first ran (raw lands before a dbt layer builds on it)."""
    first: dict[str, datetime] = {}
    for a in attempts:
        first[a.layer] = min(first.get(a.layer, a.started_at), a.started_at)
    return tuple(sorted(first, key=lambda layer: (first[layer], layer)))


def volumes(runs: Iterable[SuiteRun]) -> list[Volume]:
    """The row count of every suite with a volume check, per lake day, with its ranges: the one
    a critical check blocks outside, and the finer one of the first weeks that only warns."""
    found = []
    for run in runs:
        ranged = [c for c in run.checks if c.bounds is not None]
        if run.row_count is None or not ranged:
            continue
        blocks = next((c for c in ranged if c.severity == "critical"), None)
        warns = next((c for c in ranged if c.severity != "critical"), None)
        found.append(Volume(run.suite, run.dt, run.row_count, _band(blocks), _band(warns)))
    return sorted(found, key=lambda v: (v.suite, v.dt))


def _band(check: Check | None) -> Band | None:
    if check is None or check.bounds is None:
        return None
    low, high = check.bounds
    return Band(low, None if high >= UNBOUNDED else high, check.expected)


def gate_days(runs: Iterable[SuiteRun]) -> list[GateDay]:
    """Per lake day: checks that passed, that failed and only warn, that failed and block."""
    counts: dict[date, list[int]] = {}
    for run in runs:
        tally = counts.setdefault(run.dt, [0, 0, 0])
        for check in run.checks:
            index = 0 if check.success else 2 if check.severity == "critical" else 1
            tally[index] += 1
    return [GateDay(dt, *tally) for dt, tally in sorted(counts.items())]
