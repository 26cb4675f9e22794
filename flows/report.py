"""Run summaries for the terminal: per layer, partitions, rows, quarantined lines and time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
from rich.console import Console
from rich.table import Table

from flows.landing import RAW_SCHEMA
from flows.project import identifier

if TYPE_CHECKING:
    from flows.pipeline import PartitionRun, Workspace


@dataclass(frozen=True)
class LayerSummary:
    """One line of the summary."""

    layer: str
    partitions: int
    rows: int
    quarantined: int
    seconds: float


def layer_rows(con: duckdb.DuckDBPyConnection, ws: Workspace, layer: str) -> int:
    """Rows now in the tables of a layer (views are not counted)."""
    relations = []
    for node in ws.project.manifest.nodes.values():
        is_table = node.resource_type == "model" and node.config.materialized != "view"
        if is_table and (node.config.meta or {}).get("layer") == layer:
            relations.append((node.schema, node.alias))
    return sum(_count(con, schema, name) for schema, name in relations)


def _count(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> int:
    sql = f"select count(*) from {identifier(schema, 'schema')}.{identifier(name, 'relation')}"
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def summarize(ws: Workspace, runs: list[PartitionRun]) -> list[LayerSummary]:
    """Summarize runs per layer, counting rows in the warehouse as it is now."""
    con = duckdb.connect(str(ws.settings.duckdb))
    try:
        raw_rows = sum(_count(con, RAW_SCHEMA, t.name) for t in ws.project.lake_tables)
        lines = [
            LayerSummary(
                "raw",
                sum(1 for r in runs if r.landing),
                raw_rows,
                _count(con, RAW_SCHEMA, "quarantine"),
                sum(r.landing_seconds for r in runs),
            )
        ]
        for layer in ws.project.layers:
            done = [lr for r in runs for lr in r.layers if lr.layer == layer]
            lines.append(
                LayerSummary(
                    layer, len(done), layer_rows(con, ws, layer), 0, sum(lr.seconds for lr in done)
                )
            )
    finally:
        con.close()
    return lines


def print_summary(summary: list[LayerSummary], total_seconds: float) -> None:
    """Print the summary as a table."""
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
