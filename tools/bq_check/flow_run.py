"""The pipeline on the emulator: the `daily` flow runs the two sample days on target bq_emulator.

In-process, as the tests run flows, on a throwaway Prefect server of 127.0.0.1 and a BigQuery
project of its own on the emulator (nothing of the emulator run's project is reused). Then:
every day's steps succeeded in the ledger, one attempt each; every mart equals the DuckDB
reference's mart row for row; `marts_audit` equals `marts`; the run summary counted the rows on
BigQuery; and a second `daily` of the last day leaves every layer's rows as they were.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from flows.errors import SluiceError
from flows.project.identifiers import identifier
from flows.settings import Settings, get_settings
from flows.state.ledger import Ledger, Status
from flows.state.store import StateStore

FLOW_PROJECT = "sluice-flow"
AUDIT_SCHEMA_SUFFIX = "_audit"
DECIMALS = 6  # the marts' rate type on DuckDB: numeric(28,6)


class FlowCheckFailed(SluiceError):
    """The daily flow failed on the emulator, or left data that differs from the reference."""


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """SLUICE_* variables for the flow's own Settings (get_settings), restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


@contextmanager
def _prefect_server() -> Iterator[None]:
    """A throwaway Prefect API on 127.0.0.1 (as the tests use), under PREFECT_HOME."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


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


def _digest(rows: list[tuple[Any, ...]]) -> str:
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


def _marts(manifest: Any) -> list[tuple[str, str]]:
    """(schema, alias) of every mart table."""
    return sorted(
        (node.schema, node.alias)
        for node in manifest.nodes.values()
        if node.resource_type == "model"
        and (node.config.meta or {}).get("layer") == "marts"
        and node.config.materialized != "view"
    )


def _daily(day: date) -> Any:
    from flows.errors import PartitionsFailed
    from flows.pipeline.prefect_flows import daily

    try:
        return daily(day)
    except PartitionsFailed as exc:
        raise FlowCheckFailed(f"the daily flow failed for {day} on the emulator: {exc}") from exc


def run_flow_check(
    settings: Settings, reference: Settings, manifest: Any, days: list[date], steps: tuple[str, ...]
) -> str:
    """Run `daily` for each day on the emulator, check it, re-run the last day; what it proved."""
    from flows.warehouse.bigquery_client import bigquery_client

    began = time.perf_counter()
    work = settings.lake_folder.parent / "flow"
    work.mkdir(parents=True, exist_ok=True)
    flow = settings.model_copy(
        update={
            "bq_project": FLOW_PROJECT,
            "state": work / "state.sqlite",
            "duckdb": work / "unused.duckdb",
        }
    )
    env = {
        "SLUICE_TARGET": flow.target,
        "SLUICE_BQ_ENDPOINT": str(flow.bq_endpoint),
        "SLUICE_BQ_PROJECT": flow.bq_project,
        "SLUICE_LAKE": str(flow.lake_folder),
        "SLUICE_STATE": str(flow.state),
        "SLUICE_DUCKDB": str(flow.duckdb),
        "SLUICE_PROJECT_DIR": str(flow.project_dir),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_HOME": str(work / "prefect"),
    }
    with _environment(env), _prefect_server():
        started = time.perf_counter()
        reports = [_daily(day) for day in days]
        flows_seconds = time.perf_counter() - started
        client = bigquery_client(flow, emulator=True)
        marts = _check_marts(client, reference, manifest)
        _check_ledger(flow, days, steps, runs=1)
        first = reports[-1].summary
        _check_summary(first, marts)
        rerun = _daily(days[-1])
        again = _check_marts(client, reference, manifest)
        _check_ledger(flow, days[-1:], steps, runs=2)
    before = {line.layer: line.rows for line in first}
    after = {line.layer: line.rows for line in rerun.summary}
    if before != after or again != marts:
        raise FlowCheckFailed(
            f"re-running daily {days[-1]} changed rows per layer: {before} -> {after}"
        )
    figures = ", ".join(f"{layer} {rows}" for layer, rows in before.items())
    tables = ", ".join(f"{name} {rows} rows #{digest}" for name, (rows, digest) in marts.items())
    return (
        f"the daily flow ran {len(days)} days on the emulator ({flows_seconds:.1f} s): every step"
        f" succeeded once per day in the ledger; rows per layer {figures}; each mart equals the"
        f" DuckDB reference and marts_audit ({tables}); daily {days[-1]} again left them all"
        f" unchanged (whole check {time.perf_counter() - began:.1f} s)"
    )


def _check_marts(client: Any, reference: Settings, manifest: Any) -> dict[str, tuple[int, str]]:
    """Each mart on the emulator equals the DuckDB reference's, and its audit copy equals it."""
    found = {}
    for schema, name in _marts(manifest):
        published = f"{FLOW_PROJECT}.{schema}.{name}"
        audit = f"{FLOW_PROJECT}.{schema}{AUDIT_SCHEMA_SUFFIX}.{name}"
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
        found[name] = (len(rows), _digest(rows))
    if not found:
        raise FlowCheckFailed("the manifest has no mart table to compare")
    return found


def _check_ledger(flow: Settings, days: list[date], steps: tuple[str, ...], runs: int) -> None:
    """Each day has `runs` attempts per step in the ledger, every one succeeded."""
    attempts = Ledger(StateStore(flow.state)).attempts(days[0], days[-1])
    for day in days:
        mine = [a for a in attempts if a.dt == day]
        found = sorted((a.layer, a.status) for a in mine)
        expected = sorted((layer, Status.SUCCEEDED) for layer in steps for _ in range(runs))
        if found != expected:
            raise FlowCheckFailed(
                f"ledger of {day}: expected {expected}, found {found}:"
                f" {[a.error_message for a in mine if a.error_message]}"
            )


def _check_summary(summary: list[Any], marts: dict[str, tuple[int, str]]) -> None:
    """The run summary counted the marts on BigQuery (as many rows as the marts hold)."""
    counted = {line.layer: line.rows for line in summary}
    if counted.get("marts") != sum(rows for rows, _ in marts.values()):
        raise FlowCheckFailed(
            f"the run summary counts {counted.get('marts')} mart rows on BigQuery,"
            f" the marts hold {sum(rows for rows, _ in marts.values())}"
        )
