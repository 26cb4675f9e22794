"""Run summaries for the terminal: per layer, partitions, rows, quarantined lines and time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from rich.console import Console
from rich.table import Table

from flows.landing import RAW_SCHEMA
from flows.project import RAW_LAYER, identifier

if TYPE_CHECKING:
    from flows.gates import GateResult
    from flows.incidents import Incident
    from flows.janitor import Sweep
    from flows.ledger import Attempt
    from flows.partition_state import PlannedDay, StepState
    from flows.pipeline import PartitionRun
    from flows.settings import Settings
    from flows.workspace import Workspace


@dataclass(frozen=True)
class LayerSummary:
    """One line of the summary."""

    layer: str
    partitions: int
    rows: int
    quarantined: int
    seconds: float


Counter = Callable[[str, str], int]  # rows of (schema, table); 0 when it does not exist


def layer_rows(count: Counter, ws: Workspace, layer: str) -> int:
    """Rows now in the tables of a layer (views are not counted)."""
    relations = []
    for node in ws.project.manifest.nodes.values():
        is_table = node.resource_type == "model" and node.config.materialized != "view"
        if is_table and (node.config.meta or {}).get("layer") == layer:
            relations.append((node.schema, node.alias))
    return sum(count(schema, name) for schema, name in relations)


def _count(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> int:
    exists = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = $s and table_name = $t",
        {"s": schema, "t": name},
    ).fetchone()
    if not exists or not exists[0]:
        return 0  # not built yet (e.g. the first day failed before landing)
    sql = f"select count(*) from {identifier(schema, 'schema')}.{identifier(name, 'relation')}"
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _bigquery_counter(settings: Settings) -> Counter:
    """Rows of a BigQuery table from its metadata (no query job); 0 when it does not exist."""
    from google.api_core.exceptions import NotFound

    from flows.bigquery import bigquery_client
    from flows.bigquery_landing import bigquery_project

    client = bigquery_client(settings)
    project = bigquery_project(settings.bq_project)

    def count(schema: str, name: str) -> int:
        table = f"{project}.{identifier(schema, 'schema')}.{identifier(name, 'relation')}"
        try:
            return int(client.get_table(table).num_rows or 0)
        except NotFound:
            return 0  # not built yet

    return count


@contextmanager
def _counter(settings: Settings) -> Iterator[Counter | None]:
    """Counting rows in the target's warehouse; None when the DuckDB file does not exist yet."""
    from flows.bigquery import BIGQUERY_TARGETS

    if settings.target in BIGQUERY_TARGETS:
        yield _bigquery_counter(settings)
        return
    if not settings.duckdb.exists():
        yield None
        return
    con = duckdb.connect(str(settings.duckdb))
    try:
        yield lambda schema, name: _count(con, schema, name)
    finally:
        con.close()


def summarize(ws: Workspace, runs: list[PartitionRun]) -> list[LayerSummary]:
    """Summarize runs per step, counting rows in the warehouse as it is now."""
    with _counter(ws.settings) as count:
        if count is None:
            return [LayerSummary(layer, 0, 0, 0, 0.0) for layer in ws.project.steps]
        lines = []
        for layer in ws.project.steps:
            done = [a for r in runs for a in r.attempts if a.layer == layer]
            if layer == RAW_LAYER:
                rows = sum(count(RAW_SCHEMA, t.name) for t in ws.project.lake_tables)
            else:
                rows = layer_rows(count, ws, layer)
            lines.append(
                LayerSummary(
                    layer,
                    len(done),
                    rows,
                    sum(a.quarantined or 0 for a in done),
                    _busy_seconds(done),
                )
            )
    return lines


def _busy_seconds(attempts: list[Attempt]) -> float:
    """Wall time covered by the attempts (days of one batch overlap: count it once)."""
    spans = sorted((a.started_at, a.finished_at) for a in attempts if a.finished_at)
    total, end = 0.0, None
    for start, finish in spans:
        if end is not None and start < end:
            start = end
        if finish > start:
            total += (finish - start).total_seconds()
        end = finish if end is None else max(end, finish)
    return total


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
