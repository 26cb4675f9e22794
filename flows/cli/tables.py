"""Tables for the terminal: a run's steps and summary, status, incidents, plans, gates, sweeps.

Every table fits 80 columns: dates, states and numbers never wrap (their columns are narrow and
fixed), and the one free-text column last in each table wraps onto further lines. Text from
users or the database is escaped, so rich never reads it as markup.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flows.alerts.incidents import Incident
from flows.alerts.incidents import Status as IncidentStatus
from flows.errors import one_line
from flows.gates.checks import GateResult
from flows.pipeline.plan import PlannedDay, StepState
from flows.pipeline.run_records import LayerSummary, RunReport
from flows.pipeline.run_report import overview_path, page_path, step_lines
from flows.warehouse.records import Sweep

WIDE = 100  # a terminal this wide shows the columns that 80 cannot hold


class Cell(Enum):
    """How a column lays out: whole on one line (KEY, NUMBER) or wrapped (TEXT)."""

    KEY = "key"
    NUMBER = "number"
    TEXT = "text"


def _table(title: str, columns: list[tuple[str, Cell]]) -> Table:
    # expand: the text columns share what the others leave (rich would squeeze them all)
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,  # its column separator is a space: with the padding, two
        padding=(0, 1, 0, 0),
        pad_edge=False,
        title_justify="left",
        expand=True,
    )
    for header, cell in columns:
        if cell == Cell.TEXT:
            table.add_column(header, overflow="fold", ratio=1)  # a word wider than it folds
        else:
            right = cell == Cell.NUMBER
            table.add_column(header, no_wrap=True, justify="right" if right else "left")
    return table


def _number(value: int | None) -> str:
    return f"{value:,}" if value is not None else ""


def _seconds(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else ""


def print_summary(
    summary: list[LayerSummary],
    total_seconds: float,
    data_docs: Path | None = None,
    console: Console | None = None,
) -> None:
    """Print the summary as a table (quarantined lines are those landed by this run)."""
    console = console or Console()
    table = _table(
        f"Sluice run summary ({total_seconds:.1f} s)",
        [("layer", Cell.TEXT), ("days", Cell.NUMBER), ("rows", Cell.NUMBER),
         ("quarantined", Cell.NUMBER), ("secs", Cell.NUMBER)],
    )  # fmt: skip
    for line in summary:
        table.add_row(
            escape(line.layer),
            str(line.partitions),
            _number(line.rows),
            _number(line.quarantined),
            _seconds(line.seconds),
        )
    console.print(table)
    _print_docs(console, data_docs)


def _print_docs(console: Console, data_docs: Path | None) -> None:
    if data_docs is not None:
        console.print(f"Gate results (Data Docs): {escape(data_docs.as_uri())}", soft_wrap=True)


def print_states(states: list[StepState], console: Console | None = None) -> None:
    """Print where each lake day and step stands (each step's time too, on a wide terminal)."""
    console = console or Console()
    wide = console.width >= WIDE
    columns = [("date", Cell.KEY), ("step", Cell.KEY), ("state", Cell.KEY),
               ("tries", Cell.NUMBER)]  # fmt: skip
    columns += [("secs", Cell.NUMBER)] if wide else []
    table = _table("Sluice partitions", [*columns, ("rows out", Cell.NUMBER), ("why", Cell.TEXT)])
    for s in states:
        seconds = [_seconds(s.latest.seconds if s.latest else None)] if wide else []
        table.add_row(
            s.dt.isoformat(),
            escape(s.layer),
            s.state,
            str(s.attempts),
            *seconds,
            _number(s.latest.rows_out if s.latest else None),
            escape(one_line(s.why)),
        )
    console.print(table)


def _incident_state(incident: Incident) -> str:
    """resolved, or how bad an open one is."""
    if incident.status == IncidentStatus.RESOLVED:
        return incident.status.value
    return incident.severity.value


def print_incidents(incidents: list[Incident], console: Console | None = None) -> None:
    """Print incidents, most recently seen first (when, too, on a wide terminal)."""
    console = console or Console()
    wide = console.width >= WIDE
    columns = [("state", Cell.KEY), ("kind", Cell.KEY), ("date", Cell.KEY), ("step", Cell.KEY),
               ("seen", Cell.NUMBER)]  # fmt: skip
    columns += [("last seen (UTC)", Cell.KEY)] if wide else []
    table = _table("Sluice incidents", [*columns, ("what", Cell.TEXT)])
    for i in incidents:
        last = [f"{i.last_seen:%Y-%m-%d %H:%M:%S}"] if wide else []
        table.add_row(
            _incident_state(i),
            i.kind.value,
            i.partition.isoformat() if i.partition else "",
            escape(i.layer or ""),
            str(i.count),
            *last,
            escape(one_line(i.what)),
        )
    console.print(table)


def print_sweeps(sweeps: list[Sweep], *, applied: bool, console: Console | None = None) -> None:
    """Print what the janitor deleted (or, in a dry run, would delete)."""
    console = console or Console()
    verb = "deleted" if applied else "would delete"
    table = _table(
        f"Sluice janitor ({'applied' if applied else 'dry run: --apply deletes'})",
        [(verb, Cell.NUMBER), ("what", Cell.TEXT), ("where", Cell.TEXT), ("rule", Cell.TEXT)],
    )
    for s in sweeps:
        table.add_row(_number(s.count), escape(s.what), escape(s.where), escape(s.rule))
    console.print(table)


def print_plan(planned: list[PlannedDay], console: Console | None = None) -> None:
    """Print which lake days a backfill will run, from which step, and why."""
    console = console or Console()
    if not planned:
        console.print("nothing to do: every lake day in the range is up to date")
        return
    table = _table(
        f"Plan: {len(planned)} lake days",
        [("date", Cell.KEY), ("from step", Cell.KEY), ("why", Cell.TEXT)],
    )
    for day in planned:
        table.add_row(day.dt.isoformat(), escape(day.from_layer), escape(one_line(day.reason)))
    console.print(table)


def print_gates(
    results: list[GateResult], data_docs: Path | None = None, console: Console | None = None
) -> None:
    """Print each expectation's outcome, failures first."""
    console = console or Console()
    table = _table(
        "Sluice quality gates",
        [("result", Cell.KEY), ("date", Cell.KEY), ("layer", Cell.KEY), ("check", Cell.TEXT)],
    )
    for gate in results:
        for check in sorted(gate.checks, key=lambda c: (c.success, c.suite)):
            verdict = (
                "pass" if check.success else ("BLOCKS" if check.severity == "critical" else "warns")
            )
            where = f"{check.suite}.{check.column}" if check.column else check.suite
            observed = one_line(str(check.observed), 60)
            table.add_row(
                verdict,
                gate.dt.isoformat(),
                escape(gate.layer),
                escape(f"{where} {check.expectation} (observed {observed})"),
            )
    console.print(table)
    _print_docs(console, data_docs)


def print_run(report: RunReport, folder: Path, console: Console | None = None) -> None:
    """Print each partition's steps of a run (rows in too, on a wide terminal), and where its
    page is (which has every column)."""
    console = console or Console()
    wide = console.width >= WIDE
    columns = [("date", Cell.KEY), ("step", Cell.KEY), ("status", Cell.KEY)]
    columns += [("rows in", Cell.NUMBER)] if wide else []
    columns += [("rows out", Cell.NUMBER), ("secs", Cell.NUMBER), ("details", Cell.TEXT)]
    table = _table("Sluice run: partitions and steps", columns)
    for line in step_lines(report.runs):
        quarantined = f"{line.quarantined:,} quarantined" if line.quarantined else ""
        details = "; ".join(part for part in (quarantined, line.gate, line.error) if part)
        rows_in = [_number(line.rows_in)] if wide else []
        table.add_row(
            line.dt,
            escape(line.layer),
            line.status,
            *rows_in,
            _number(line.rows_out),
            _seconds(line.seconds),
            escape(one_line(details)),
        )
    console.print(table)
    page = page_path(folder, report.run_id)
    if page.is_file():
        console.print(f"Run report: {escape(page.as_uri())}", soft_wrap=True)
    overview = overview_path(folder)
    if overview.is_file():
        console.print(
            f"Report page (as sluice report last built it): {escape(overview.as_uri())}",
            soft_wrap=True,
        )
