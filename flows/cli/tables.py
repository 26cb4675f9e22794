"""Tables for the terminal: a run's steps and summary, status, incidents, plans, gates, sweeps."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from flows.alerts.incidents import Incident
from flows.gates.checks import GateResult
from flows.pipeline.plan import PlannedDay, StepState
from flows.pipeline.run_records import LayerSummary, RunReport
from flows.pipeline.run_report import STEP_COLUMNS, page_path, step_lines
from flows.warehouse.records import Sweep


def print_summary(
    summary: list[LayerSummary], total_seconds: float, data_docs: Path | None = None
) -> None:
    """Print the summary as a table (quarantined lines are those landed by this run)."""
    table = Table(title=f"Sluice run summary ({total_seconds:.1f} s)")
    for column in ("layer", "partitions", "rows", "quarantined lines", "time (s)"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    for line in summary:
        table.add_row(
            line.layer,
            str(line.partitions),
            f"{line.rows:,}",
            f"{line.quarantined:,}",
            f"{line.seconds:.1f}",
        )
    Console().print(table)
    _print_docs(data_docs)


def _print_docs(data_docs: Path | None) -> None:
    if data_docs is not None:
        Console().print(f"Gate results (Data Docs): {data_docs.as_uri()}")


def print_states(states: list[StepState]) -> None:
    """Print where each lake day and step stands."""
    table = Table(title="Sluice partitions")
    for column in ("date", "step", "state", "attempts", "time (s)", "rows out", "why"):
        table.add_column(column)
    for s in states:
        seconds = s.latest.seconds if s.latest else None
        rows_out = s.latest.rows_out if s.latest else None
        table.add_row(
            s.dt.isoformat(),
            s.layer,
            s.state,
            str(s.attempts),
            f"{seconds:.1f}" if seconds is not None else "",
            f"{rows_out:,}" if rows_out is not None else "",
            s.why[:80],
        )
    Console().print(table)


def print_incidents(incidents: list[Incident]) -> None:
    """Print incidents, most recently seen first."""
    table = Table(title="Sluice incidents")
    for column in ("status", "kind", "severity", "date", "step", "what", "count", "last seen"):
        table.add_column(column)
    for i in incidents:
        table.add_row(
            i.status.value,
            i.kind.value,
            i.severity.value,
            i.partition.isoformat() if i.partition else "",
            i.layer or "",
            i.what[:60],
            str(i.count),
            f"{i.last_seen:%Y-%m-%d %H:%M:%S}",
        )
    Console().print(table)


def print_sweeps(sweeps: list[Sweep], *, applied: bool) -> None:
    """Print what the janitor deleted (or, in a dry run, would delete)."""
    verb = "deleted" if applied else "would delete"
    table = Table(title=f"Sluice janitor ({'applied' if applied else 'dry run: --apply deletes'})")
    for column in ("what", "where", "rule", verb):
        table.add_column(column, justify="right" if column == verb else "left")
    for s in sweeps:
        table.add_row(s.what, s.where, s.rule, f"{s.count:,}")
    Console().print(table)


def print_plan(planned: list[PlannedDay]) -> None:
    """Print which lake days a backfill will run, from which step, and why."""
    if not planned:
        Console().print("nothing to do: every lake day in the range is up to date")
        return
    table = Table(title=f"Plan: {len(planned)} lake days")
    for column in ("date", "from step", "why"):
        table.add_column(column)
    for day in planned:
        table.add_row(day.dt.isoformat(), day.from_layer, day.reason)
    Console().print(table)


def print_gates(results: list[GateResult], data_docs: Path | None = None) -> None:
    """Print each expectation's outcome, failures first."""
    table = Table(title="Sluice quality gates")
    for column in (
        "layer",
        "date",
        "suite",
        "expectation",
        "column",
        "severity",
        "result",
        "observed",
    ):
        table.add_column(column)
    for gate in results:
        for check in sorted(gate.checks, key=lambda c: (c.success, c.suite)):
            verdict = (
                "pass" if check.success else ("BLOCKS" if check.severity == "critical" else "warns")
            )
            table.add_row(
                gate.layer,
                gate.dt.isoformat(),
                check.suite,
                check.expectation,
                check.column or "",
                check.severity,
                verdict,
                str(check.observed)[:40],
            )
    Console().print(table)
    _print_docs(data_docs)


def print_run(report: RunReport, folder: Path) -> None:
    """Print each partition's steps of a run, and where its page is."""
    table = Table(title="Sluice run: partitions and steps")
    for column in STEP_COLUMNS:
        table.add_column(column)
    for line in step_lines(report.runs):
        table.add_row(*line.cells())
    Console().print(table)
    page = page_path(folder, report.run_id)
    if page.is_file():
        Console().print(f"Run report: {page.as_uri()}")
