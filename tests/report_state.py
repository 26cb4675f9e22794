"""A state store for the report tests, written through the real Ledger, gate history and
Incidents APIs: six lake days x three steps with every state, volumes and open incidents."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flows.alerts.incidents import Incidents, Kind, Problem, Severity
from flows.gates.checks import Check
from flows.gates.history import SuiteRun, record
from flows.gates.volume import UNBOUNDED
from flows.state.ledger import Ledger, Outcome, Reason, Status
from flows.state.store import StateStore

DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(6)]
STEPS = ("raw", "dwh", "marts")
T0 = datetime(2026, 11, 8, 6, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
VOLUME = "expect_table_row_count_to_be_between"
# raw.events rows per lake day; Nov 4 is an outage
ROWS = dict(zip(DAYS, (10_000, 11_000, 10_500, 900, 12_000, 9_800), strict=True))
# (low, high) the critical volume check held each day to: the floor alone in the first days
BLOCKS = {day: (1, UNBOUNDED) if i < 2 else (8_000, 14_001) for i, day in enumerate(DAYS)}
WARNS = {DAYS[1]: (5_000, 10_500)}  # the first weeks' finer band, on Nov 2 only: it warns


class Clock:
    """A clock that only moves when told."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def seconds(day: date, step: str) -> float:
    """How long each step of a day runs (its latest attempt)."""
    return {"raw": 10.0, "dwh": 20.0, "marts": 5.0}[step] + DAYS.index(day)


def fill(path: Path) -> StateStore:
    """Write the ledger, gate history and incidents of the six days into a new state store."""
    store = StateStore(path)
    clock = Clock()
    ledger = Ledger(store, clock)
    plan: dict[tuple[date, str], Outcome | None] = {
        (day, step): Outcome(Status.SUCCEEDED, rows_out=100) for day in DAYS for step in STEPS
    }
    plan[DAYS[3], "raw"] = Outcome(
        Status.BLOCKED, error_class=Reason.GATE_FAILED, error_message="raw.events volume 900"
    )
    for step in ("dwh", "marts"):
        plan[DAYS[3], step] = Outcome(
            Status.BLOCKED, error_class=Reason.WINDOW_BLOCKED, error_message="reads 2026-11-04"
        )
    plan[DAYS[4], "dwh"] = Outcome(Status.FAILED, error_class="StepFailed", error_message=HOSTILE)
    plan[DAYS[4], "marts"] = None  # still running
    del plan[DAYS[5], "dwh"], plan[DAYS[5], "marts"]  # never run
    for (day, step), outcome in plan.items():
        if (day, step) == (DAYS[2], "dwh"):  # failed once, then succeeded
            first = ledger.start(day, step, "run-0", code_version="c", input_fingerprint="f")
            clock.advance(99)
            ledger.finish(first, Outcome(Status.FAILED, error_class="StepFailed"))
        attempt = ledger.start(day, step, "run-1", code_version="c", input_fingerprint="f")
        if outcome is not None:
            clock.advance(seconds(day, step))
            ledger.finish(attempt, outcome)
    ledger.accept(DAYS[3], "raw", "outage, confirmed")
    for day in DAYS:
        record(store, _volume_run(day, clock()))
    incidents = Incidents(store, clock=clock)
    incidents.open(
        Problem(Kind.GATE_BLOCKED, Severity.CRITICAL, DAYS[3], "raw", "raw.events volume")
    )
    clock.advance(60)
    incidents.open(
        Problem(Kind.STEP_FAILED, Severity.CRITICAL, DAYS[4], "dwh", HOSTILE, "StepFailed", HOSTILE)
    )
    incidents.open(Problem(Kind.STEP_FAILED, Severity.WARNING, DAYS[2], "dwh", "fct_events"))
    incidents.resolve(DAYS[2], "dwh")
    return store


def _volume_run(day: date, at: datetime) -> SuiteRun:
    """raw.events on a day: its volume check (and the warning band), and a key check."""
    rows = ROWS[day]
    low, high = BLOCKS[day]
    checks = [
        Check("raw.events", VOLUME, None, "critical", low <= rows <= high, rows, None, "",
              f"expected {low:,}.. rows", (low, high)),
        Check("raw.events", "expect_column_values_to_be_unique", "event_id", "critical", True,
              None, 0, ""),
    ]  # fmt: skip
    if day in WARNS:
        low, high = WARNS[day]
        checks.append(
            Check("raw.events", VOLUME, None, "warning", low <= rows <= high, rows, None, "",
                  "first weeks, warns", (low, high))
        )  # fmt: skip
    return SuiteRun(day, "raw", "raw.events", "run-1", at, rows, tuple(checks))
