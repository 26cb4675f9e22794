"""What the flow checks compare on the emulator: marts against the DuckDB reference, ledgers.

A mart's rows are normalized (numbers at the marts' scale, UTC times, columns by name) so a
BigQuery table and a DuckDB table of the same rows compare equal; a digest names each.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from flows.errors import SluiceError
from flows.lake.folder import FolderLake
from flows.project.dbt_runner import DbtProject
from flows.project.identifiers import identifier
from flows.project.manifest import RAW_SCHEMA, Project, build_project
from flows.settings import Settings
from flows.state.ledger import Ledger, Status
from flows.state.store import StateStore
from flows.warehouse.choose import warehouse_for

FLOW_PROJECT = "sluice-flow"
AUDIT_SCHEMA_SUFFIX = "_audit"
DECIMALS = 6  # the marts' rate type on DuckDB: numeric(28,6)
# The checks build with dbt directly, into the schemas readers use (raw, dwh, marts), so their
# relations compare with the DuckDB reference's and the pipeline's published ones.
AS_PUBLISHED = {"build_schema_suffix": ""}


class FlowCheckFailed(SluiceError):
    """A flow failed on the emulator, or left data that differs from what it must be."""


def run_flow(name: str, *args: Any) -> Any:
    """Run one of the pipeline's flows in-process; raise FlowCheckFailed if it failed."""
    from flows.errors import PartitionsFailed
    from flows.pipeline import prefect_flows

    try:
        return getattr(prefect_flows, name)(*args)
    except PartitionsFailed as exc:
        raise FlowCheckFailed(f"the {name} flow failed on the emulator: {exc}") from exc


def flow_fails(name: str, *args: Any, **options: Any) -> Any:
    """Run a flow that must fail on a partition; its run report."""
    from flows.errors import PartitionsFailed
    from flows.pipeline import prefect_flows

    try:
        getattr(prefect_flows, name)(*args, **options)
    except PartitionsFailed as exc:
        return exc.report
    raise FlowCheckFailed(f"the {name} flow succeeded despite the fault put in the lake")


def _value(value: Any) -> Any:
    """A cell comparable across DuckDB and BigQuery (numbers at the marts' scale, UTC times)."""
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        return f"{float(value):.{DECIMALS}f}"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _normalized(columns: list[str], rows: list[Any]) -> list[tuple[Any, ...]]:
    order = sorted(range(len(columns)), key=lambda i: columns[i])
    return sorted((tuple(_value(row[i]) for i in order) for row in rows), key=repr)


def digest(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:12]


def _bigquery_rows(client: Any, relation: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    result = client.query(f"select * from `{relation}`").result()
    columns = [field.name for field in result.schema]
    return sorted(columns), _normalized(columns, [tuple(row.values()) for row in result])


def _duckdb_rows(warehouse: Path, schema: str, name: str) -> tuple[list[str], list[Any]]:
    relation = f"{identifier(schema, 'schema')}.{identifier(name, 'relation')}"
    with duckdb.connect(str(warehouse)) as con:  # dbt holds it open read-write
        cursor = con.execute(f"select * from {relation}")
        columns = [d[0] for d in cursor.description]
        return sorted(columns), _normalized(columns, cursor.fetchall())


def marts_of(manifest: Any) -> list[tuple[str, str]]:
    """(schema, alias) of every mart table."""
    return sorted(
        (node.schema, node.alias)
        for node in manifest.nodes.values()
        if node.resource_type == "model"
        and (node.config.meta or {}).get("layer") == "marts"
        and node.config.materialized != "view"
    )


def check_marts(client: Any, reference: Settings, manifest: Any) -> dict[str, tuple[int, str]]:
    """Each mart of the client's project equals the DuckDB reference's, and its audit copy
    equals it."""
    found = {}
    for schema, name in marts_of(manifest):
        published = f"{client.project}.{schema}.{name}"
        audit = f"{client.project}.{schema}{AUDIT_SCHEMA_SUFFIX}.{name}"
        columns, rows = _bigquery_rows(client, published)
        ref_columns, expected = _duckdb_rows(reference.duckdb, schema, name)
        if (columns, rows) != (ref_columns, expected):
            missing = [r for r in expected if r not in rows][:2]
            extra = [r for r in rows if r not in expected][:2]
            raise FlowCheckFailed(
                f"{published}: {len(rows)} rows, the DuckDB reference {len(expected)}"
                f" (columns {columns} vs {ref_columns}); missing e.g. {missing}, extra {extra}"
            )
        if _bigquery_rows(client, audit) != (columns, rows):
            raise FlowCheckFailed(f"{audit} differs from {published}")
        found[name] = (len(rows), digest(rows))
    if not found:
        raise FlowCheckFailed("the manifest has no mart table to compare")
    return found


def duckdb_reference(settings: Settings, days: list[date]) -> tuple[Settings, Project]:
    """A DuckDB build of the lake days of settings' lake, one after the other, in
    reference.duckdb beside the lake: what a serial run leaves. Its settings and project."""
    reference = settings.model_copy(
        update={"target": "dev", "duckdb": settings.lake_folder.parent / "reference.duckdb"}
    )
    duck = DbtProject(reference, AS_PUBLISHED, variant="bq-check-duckdb")
    project = build_project(duck.manifest, reference.project_dir)
    for day in days:
        warehouse_for(reference).land(
            FolderLake(reference.lake_folder),
            project.lake_tables,
            day,
            lateness_days=project.lateness_days,
            load_id=f"ref-{day}",
            schema=RAW_SCHEMA,
        )
    result = duck.invoke(
        ["run", "--vars", json.dumps({"run_start": str(days[0]), "run_end": str(days[-1])})]
    )
    if not result.success:
        raise FlowCheckFailed(f"the DuckDB reference build failed: {result.exception}")
    return reference, project


def check_ledger(flow: Settings, expected: dict[date, dict[str, list[Status]]]) -> None:
    """Each day's attempts per step in the ledger, in order, are the expected statuses."""
    days = sorted(expected)
    attempts = Ledger(StateStore(flow.state)).attempts(days[0], days[-1])
    for day in days:
        mine = [a for a in attempts if a.dt == day]
        found = {
            layer: [a.status for a in sorted(mine, key=lambda a: a.attempt) if a.layer == layer]
            for layer in expected[day]
        }
        if found != expected[day] or len(mine) != sum(map(len, expected[day].values())):
            raise FlowCheckFailed(
                f"ledger of {day}: expected {expected[day]}, found"
                f" {[(a.layer, a.attempt, a.status) for a in mine]}:"
                f" {[a.error_message for a in mine if a.error_message]}"
            )
