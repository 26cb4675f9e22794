"""Tables for the terminal: a run's steps and summary, plans, gates, sweeps (status and
incidents: flows/cli/state_tables.py; the layout they share: flows/cli/table_layout.py)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from flows.cli.table_layout import WIDE, Cell, number, seconds, table
from flows.errors import one_line
from flows.gates.checks import GateResult
from flows.pipeline.plan import PlanCost, PlannedDay
from flows.pipeline.plan_bytes import PlanBytes
from flows.pipeline.progress import duration
from flows.pipeline.run_records import LayerSummary, RunReport
from flows.pipeline.run_report import overview_path, page_path, step_lines
from flows.warehouse.logical_size import human_bytes
from flows.warehouse.records import Sweep


def print_summary(
    summary: list[LayerSummary],
    total_seconds: float,
    data_docs: Path | None = None,
    console: Console | None = None,
) -> None:
    """Print the summary as a table (quarantined lines are those landed by this run)."""
    console = console or Console()
    shown = table(
        f"Sluice run summary ({total_seconds:.1f} s)",
        [("layer", Cell.TEXT), ("days", Cell.NUMBER), ("rows", Cell.NUMBER),
         ("quarantined", Cell.NUMBER), ("secs", Cell.NUMBER)],
    )  # fmt: skip
    for line in summary:
        shown.add_row(
            escape(line.layer),
            str(line.partitions),
            number(line.rows),
            number(line.quarantined),
            seconds(line.seconds),
        )
    console.print(shown)
    _print_docs(console, data_docs)


def _print_docs(console: Console, data_docs: Path | None) -> None:
    if data_docs is not None:
        console.print(f"Gate results (Data Docs): {escape(data_docs.as_uri())}", soft_wrap=True)


def print_sweeps(sweeps: list[Sweep], *, applied: bool, console: Console | None = None) -> None:
    """Print what the janitor deleted (or, in a dry run, would delete)."""
    console = console or Console()
    verb = "deleted" if applied else "would delete"
    shown = table(
        f"Sluice janitor ({'applied' if applied else 'dry run: --apply deletes'})",
        [(verb, Cell.NUMBER), ("what", Cell.TEXT), ("where", Cell.TEXT), ("rule", Cell.TEXT)],
    )
    for s in sweeps:
        shown.add_row(number(s.count), escape(s.what), escape(s.where), escape(s.rule))
    console.print(shown)


def print_plan(
    planned: list[PlannedDay],
    console: Console | None = None,
    cost: PlanCost | None = None,
    scanned: PlanBytes | None = None,
) -> None:
    """Print which lake days a backfill will run, from which step, and why; then, given its
    cost, the time it will take by the ledger's durations; given its bytes, what each day's
    queries read and their price, and how that was found."""
    console = console or Console()
    if not planned:
        console.print("nothing to do: every lake day in the range is up to date")
        return
    columns = [("date", Cell.KEY), ("from step", Cell.KEY), ("why", Cell.TEXT)]
    columns += [("bytes", Cell.NUMBER), ("price", Cell.NUMBER)] if scanned else []
    shown = table(f"Plan: {len(planned)} lake days", columns)
    per_day = scanned.per_day() if scanned else {}
    for day in planned:
        read = per_day.get(day.dt, 0)
        extra = [human_bytes(read), f"${scanned.price(read):,.4f}"] if scanned else []
        shown.add_row(
            day.dt.isoformat(), escape(day.from_layer), escape(one_line(day.reason)), *extra
        )
    console.print(shown)
    if cost is not None:
        console.print(escape(plan_time(cost)))
    if scanned is not None:
        for line in plan_scan(scanned):
            console.print(escape(line))


def plan_scan(scanned: PlanBytes) -> list[str]:
    """Lines: the plan's bytes and price in total, what is unknown, and the method."""
    lines = [
        f"estimated bytes: {scanned.describe(scanned.billed)} on demand at "
        f"${scanned.price_per_tib:g}/TiB ({len(scanned.runs)} queries; "
        f"{human_bytes(scanned.logical)} before BigQuery's minimums)"
    ]
    if scanned.unknown:
        lines.append(f"not built yet, counted as 0: {', '.join(scanned.unknown)}")
    return [*lines, scanned.method]


def plan_time(cost: PlanCost) -> str:
    """One line: the estimated time of a plan and what it comes from."""
    running = [layer for layer, runs in cost.runs.items() if runs]

    def basis(layer: str) -> str:
        runs, seconds = cost.runs[layer], cost.step_seconds(layer)
        shape = f"{len(runs)} run{'s' if len(runs) > 1 else ''} of {sum(runs)} days"
        if all(days == 1 for days in runs):
            shape = f"{sum(runs)} day{'s' if sum(runs) > 1 else ''} one at a time"
        return f"{layer} {shape} {'?' if seconds is None else '~' + duration(seconds)}"

    said = ", ".join(basis(layer) for layer in running)
    total = cost.seconds
    if total is None:
        unknown = ", ".join(layer for layer in running if cost.times.get(layer) is None)
        return f"estimated time: unknown until {unknown} succeeded once here ({said})"
    return (
        f"estimated time: ~{duration(total)} ({said}: each step's recent successes in the "
        "ledger, a part per run plus a part per lake day)"
    )


def print_gates(
    results: list[GateResult], data_docs: Path | None = None, console: Console | None = None
) -> None:
    """Print each expectation's outcome, failures first."""
    console = console or Console()
    shown = table(
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
            shown.add_row(
                verdict,
                gate.dt.isoformat(),
                escape(gate.layer),
                escape(f"{where} {check.expectation} (observed {observed})"),
            )
    console.print(shown)
    _print_docs(console, data_docs)


def print_run(report: RunReport, folder: Path, console: Console | None = None) -> None:
    """Print each partition's steps of a run (rows in too, on a wide terminal), and where its
    page is (which has every column)."""
    console = console or Console()
    wide = console.width >= WIDE
    columns = [("date", Cell.KEY), ("step", Cell.KEY), ("status", Cell.KEY)]
    columns += [("rows in", Cell.NUMBER)] if wide else []
    columns += [("rows out", Cell.NUMBER), ("secs", Cell.NUMBER), ("details", Cell.TEXT)]
    shown = table("Sluice run: partitions and steps", columns)
    for line in step_lines(report.runs):
        quarantined = f"{line.quarantined:,} quarantined" if line.quarantined else ""
        details = "; ".join(part for part in (quarantined, line.gate, line.error) if part)
        rows_in = [number(line.rows_in)] if wide else []
        shown.add_row(
            line.dt,
            escape(line.layer),
            line.status,
            *rows_in,
            number(line.rows_out),
            seconds(line.seconds),
            escape(one_line(details)),
        )
    console.print(shown)
    page = page_path(folder, report.run_id)
    if page.is_file():
        console.print(f"Run report: {escape(page.as_uri())}", soft_wrap=True)
    overview = overview_path(folder)
    if overview.is_file():
        console.print(
            f"Report page (as sluice report last built it): {escape(overview.as_uri())}",
            soft_wrap=True,
        )
