"""Every table the CLI prints fits 80 columns with its dates, states and numbers whole."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console

from flows.alerts.incidents import Incident, Kind, Severity
from flows.alerts.incidents import Status as IncidentStatus
from flows.cli import state_tables, tables
from flows.gates.checks import Check, GateResult
from flows.pipeline.plan import PlannedDay
from flows.pipeline.run_records import LayerSummary, PartitionRun, RunReport
from flows.state.ledger import Attempt, Status
from flows.state.step_states import State, StepState
from flows.warehouse.records import Sweep

DAY = date(2026, 11, 3)
STARTED = datetime(2026, 11, 4, 6, 0, 0)
LONG_WHY = (
    "WindowBlocked: daily_kpis, retention, funnel read fct_events refused on 2026-11-02 (dwh): "
    "GateFailed on 2026-11-02: dwh.fct_events.user_id expect_column_values_to_not_be_null "
    "(observed 3, 3 bad rows)"
)


def attempt(layer: str, status: Status, **values: Any) -> Attempt:
    finished = STARTED + timedelta(seconds=1234.5)
    return Attempt(DAY, layer, 3, "run-1", status, STARTED, finished, "code", "inputs", **values)


def rendered(print_table: Callable[[Console], None], width: int = 80) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    print_table(console)
    return console.export_text().splitlines()


def assert_fits(lines: list[str], whole: list[str], width: int = 80) -> None:
    """No line is wider than the terminal, and each value is whole on some line."""
    assert [line for line in lines if cell_len(line) > width] == []
    for value in whole:
        assert any(value in line for line in lines), f"{value!r} is cut in:\n" + "\n".join(lines)


def incident(status: IncidentStatus, kind: Kind, count: int) -> Incident:
    return Incident(
        id=f"i{count}", kind=kind, severity=Severity.CRITICAL, status=status, partition=DAY,
        layer="marts", what=LONG_WHY, first_seen=STARTED, last_seen=STARTED, count=count,
    )  # fmt: skip


def test_the_status_table_fits_80_columns() -> None:
    states = [
        StepState(DAY, "raw", State.SUCCEEDED, 12,
                  attempt("raw", Status.SUCCEEDED, rows_out=12_345_678)),
        StepState(DAY, "marts", State.BLOCKED, 3, attempt("marts", Status.BLOCKED), LONG_WHY),
        StepState(DAY + timedelta(days=1), "dwh", State.NEVER_RUN, 0, None),
    ]  # fmt: skip
    lines = rendered(lambda console: state_tables.print_states(states, console))
    assert_fits(lines, ["2026-11-03", "2026-11-04", "succeeded", "blocked", "never run",
                        "12,345,678", "2026-11-02", "fct_events"])  # fmt: skip
    wide = rendered(lambda console: state_tables.print_states(states, console), 120)
    assert_fits(wide, ["1234.5", "12,345,678"], 120)


def test_the_run_table_fits_80_columns(tmp_path: Path) -> None:
    run = PartitionRun(DAY)
    run.record(attempt("raw", Status.SUCCEEDED, rows_in=12_345_679, rows_out=12_345_678,
                       quarantined=1, details={"gate": {"checks": 14}}))  # fmt: skip
    blocked = LONG_WHY.removeprefix("WindowBlocked: ")
    run.record(attempt("marts", Status.BLOCKED, error_class="WindowBlocked", error_message=blocked))
    report = RunReport("run-1", [run], [LayerSummary("raw", 1, 12_345_678, 1, 1234.5)], 2469.0)
    lines = rendered(lambda console: tables.print_run(report, tmp_path, console))
    lines += rendered(lambda console: tables.print_summary(report.summary, 2469.0, None, console))
    assert_fits(lines, ["2026-11-03", "succeeded", "blocked", "12,345,678", "1234.5",
                        "1 quarantined;", "WindowBlocked:", "2469.0"])  # fmt: skip
    wide = rendered(lambda console: tables.print_run(report, tmp_path, console), 120)
    assert_fits(wide, ["12,345,679", "12,345,678"], 120)


def test_the_backfill_plan_fits_80_columns() -> None:
    planned = [PlannedDay(DAY, "raw", "never run"), PlannedDay(DAY, "marts", LONG_WHY)]
    lines = rendered(lambda console: tables.print_plan(planned, console))
    assert_fits(lines, ["2026-11-03", "raw", "marts", "never run", "2026-11-02"])


@pytest.mark.parametrize(("width", "last_seen"), [(80, False), (120, True)])
def test_the_incidents_table_fits_80_columns_and_shows_more_when_wider(
    width: int, last_seen: bool
) -> None:
    found = [
        incident(IncidentStatus.OPEN, Kind.GATE_BLOCKED, 12_345),
        incident(IncidentStatus.RESOLVED, Kind.SOURCE_STALE, 2),
    ]
    lines = rendered(lambda console: state_tables.print_incidents(found, console), width)
    assert_fits(lines, ["critical", "resolved", "gate_blocked", "source_stale", "2026-11-03",
                        "12345", "marts", "fct_events"], width)  # fmt: skip
    assert any("2026-11-04 06:00:00" in line for line in lines) is last_seen


def test_the_gate_results_fit_80_columns() -> None:
    checks = (
        Check("dwh.fct_events", "expect_column_values_to_not_be_null", "user_id", "critical",
              False, ["u-1", "u-2", "u-3"] * 20, 60, "why"),
        Check("marts.daily_kpis", "expect_table_row_count_to_be_between", None, "warning",
              False, 12_345, None, "why"),
        Check("raw.events", "expect_column_values_to_be_unique", "event_id", "critical",
              True, 0, 0, "why"),
    )  # fmt: skip
    gates = [GateResult("dwh", DAY, checks)]
    lines = rendered(lambda console: tables.print_gates(gates, None, console))
    assert_fits(lines, ["BLOCKS", "warns", "pass", "2026-11-03", "dwh.fct_events.user_id",
                        "expect_column_values_to_not_be_null", "12345"])  # fmt: skip


def test_the_janitor_table_fits_80_columns() -> None:
    sweeps = [Sweep("superseded attempts", "state store partition_attempts",
                    "older than 90 days and not the latest of their step", 1_234_567)]  # fmt: skip
    lines = rendered(lambda console: tables.print_sweeps(sweeps, applied=False, console=console))
    assert_fits(lines, ["1,234,567", "superseded attempts", "partition_attempts"])
