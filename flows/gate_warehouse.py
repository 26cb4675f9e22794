"""What the quality gates read and write per warehouse: DuckDB or BigQuery, chosen by the target.

Each holds its one piece of glue to Great Expectations' SQL path:
- DuckDB: GX only keeps a persistent connection for the dialects in
  `_PERSISTED_CONNECTION_DIALECTS`; without it, results fetched after the connection went back
  to the pool come back empty and every expectation fails (tests/integration/test_gates.py fails
  if this stops working).
- BigQuery: GX's statements carry bound values, which BigQuery's DB-API sends as query
  parameters (the emulator refuses them: bq_gaps.yml `query_parameters`). The engine uses the
  `bigquery+sluice` dialect (flows/bigquery_inline.py): every statement is compiled with its
  values inlined by the BigQuery dialect's own literal renderers, so the same SQL text runs on
  BigQuery and on the emulator. The values come from the committed suites and validated dates,
  never from user input. The engine runs on the landing's client (flows/bigquery.py).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb

from flows.settings import Settings

AUDIT_SCHEMA = "audit"
AUDIT_COLUMNS = (
    "run_id",
    "checked_at",
    "dt",
    "layer",
    "suite",
    "expectation",
    "severity",
    "column_name",
    "failing_row",
)
_DUCKDB_AUDIT_DDL = """
create table if not exists audit.gate_failures (
    run_id varchar not null,
    checked_at timestamp not null,
    dt date not null,
    layer varchar not null,
    suite varchar not null,
    expectation varchar not null,
    severity varchar not null,
    column_name varchar,
    failing_row json
)"""
_BIGQUERY_AUDIT_DDL = """create table if not exists `{project}.audit.gate_failures` (
    run_id string not null,
    checked_at timestamp not null,
    dt date not null,
    layer string not null,
    suite string not null,
    expectation string not null,
    severity string not null,
    column_name string,
    failing_row json
)
partition by dt"""
# Staged as JSON literals in a CSV of strings (as the ops mirror does): nulls stay null.
_BIGQUERY_AUDIT_INSERT = """insert into `{project}.audit.gate_failures`
    (run_id, checked_at, dt, layer, suite, expectation, severity, column_name, failing_row)
select
    json_value(run_id),
    cast(json_value(checked_at) as timestamp),
    cast(json_value(dt) as date),
    json_value(layer),
    json_value(suite),
    json_value(expectation),
    json_value(severity),
    json_value(column_name),
    parse_json(json_value(failing_row), wide_number_mode => 'round')
from `{stage}`"""
_STAGE_PREFIX = "_sluice_gate_stage_"


class GateWarehouse(Protocol):
    """Where the gates' batches live and where their failing rows go."""

    # Whether timestamps come back zone-aware (BigQuery TIMESTAMP: UTC) or naive (DuckDB's
    # timestamp): a bound compared with them by GX must be the same kind.
    aware_timestamps: bool

    def add_datasource(self, context: Any, name: str) -> None:
        """Register the warehouse as GX SQL datasource `name`."""

    def quote(self, name: str) -> str:
        """One identifier quoted for this warehouse's SQL (names pass identifier() first)."""

    def select_rows(self, query: str) -> list[dict[str, Any]]:
        """The rows of a query, as dicts."""

    def append_failures(self, rows: list[list[Any]]) -> None:
        """Append rows (AUDIT_COLUMNS order) to audit.gate_failures, creating it if needed."""


# ---- DuckDB -----------------------------------------------------------------------------------


class _DuckDBDialect:
    """Stands in GX's persisted-connection list for DuckDB (compares equal to 'duckdb')."""

    value = "duckdb"

    def __eq__(self, other: object) -> bool:
        return str(getattr(other, "value", other)).lower() == "duckdb"

    def __hash__(self) -> int:
        return hash("duckdb")


def apply_duckdb_shim() -> None:
    """Make GX keep its DuckDB connection open (idempotent)."""
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    if not any(d == "duckdb" for d in engine._PERSISTED_CONNECTION_DIALECTS):
        engine._PERSISTED_CONNECTION_DIALECTS = (  # type: ignore[assignment]
            *engine._PERSISTED_CONNECTION_DIALECTS,
            _DuckDBDialect(),
        )


@dataclass(frozen=True)
class DuckDBGateWarehouse:
    """The DuckDB warehouse file."""

    path: Path
    aware_timestamps = False

    def add_datasource(self, context: Any, name: str) -> None:
        from duckdb_engine import ConnectionWrapper

        apply_duckdb_shim()
        path = str(self.path)
        # Same configuration as dbt's and landing's connections: DuckDB refuses a second
        # connection to a file with another configuration in one process.
        context.data_sources.add_sql(
            name=name,
            connection_string=f"duckdb:///{path}",
            kwargs={"creator": lambda: ConnectionWrapper(duckdb.connect(path))},
        )

    def quote(self, name: str) -> str:
        return f'"{name}"'

    def select_rows(self, query: str) -> list[dict[str, Any]]:
        con = duckdb.connect(str(self.path))
        try:
            cursor = con.execute(query)
            names = [d[0] for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            con.close()

    def append_failures(self, rows: list[list[Any]]) -> None:
        con = duckdb.connect(str(self.path))
        try:
            con.execute(f"create schema if not exists {AUDIT_SCHEMA}")
            con.execute(_DUCKDB_AUDIT_DDL)
            con.executemany(
                "insert into audit.gate_failures values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
        finally:
            con.close()


# ---- BigQuery ---------------------------------------------------------------------------------

_GX_PARAMETER_WARNING = (
    "great_expectations.expectations.metrics.map_metric_provider"
    ".column_map_condition_auxilliary_methods"
)
_DIALECT = ("bigquery.sluice", "flows.bigquery_inline", "InlineBigQueryDialect")


@dataclass(frozen=True)
class BigQueryGateWarehouse:
    """The BigQuery project of the target (production or the emulator), on the landing's client."""

    client: Any
    project: str
    aware_timestamps = True

    def add_datasource(self, context: Any, name: str) -> None:
        from sqlalchemy.dialects import registry

        registry.register(*_DIALECT)  # loaded by SQLAlchemy on first use
        # GX warns of BigQuery's limit on query parameters for every row-level check; the
        # inlined statements carry none.
        logging.getLogger(_GX_PARAMETER_WARNING).setLevel(logging.ERROR)
        context.data_sources.add_sql(
            name=name,
            connection_string=f"bigquery+sluice://{self.project}?user_supplied_client=true",
            kwargs={"connect_args": {"client": self.client}},
        )

    def quote(self, name: str) -> str:
        return f"`{name}`"

    def select_rows(self, query: str) -> list[dict[str, Any]]:
        return [dict(row.items()) for row in self.client.query(query).result()]

    def append_failures(self, rows: list[list[Any]]) -> None:
        from google.cloud import bigquery

        dataset = bigquery.Dataset(f"{self.project}.{AUDIT_SCHEMA}")
        dataset.location = self.client.location
        self.client.create_dataset(dataset, exists_ok=True)
        self._query(_BIGQUERY_AUDIT_DDL.format(project=self.project))
        stage = f"{self.project}.{AUDIT_SCHEMA}.{_STAGE_PREFIX}{uuid.uuid4().hex[:12]}"
        config = bigquery.LoadJobConfig(
            schema=[bigquery.SchemaField(name, "STRING") for name in AUDIT_COLUMNS],
            source_format="CSV",
            write_disposition="WRITE_TRUNCATE",
        )
        try:
            job = self.client.load_table_from_file(_staged(rows), stage, job_config=config)
            job.result()
            self._query(_BIGQUERY_AUDIT_INSERT.format(project=self.project, stage=stage))
        finally:
            self._query(f"drop table if exists `{stage}`")

    def _query(self, sql: str) -> Any:
        return self.client.query(sql).result()


def _staged(rows: list[list[Any]]) -> io.BytesIO:
    """Rows as a CSV of JSON literals (no raw line breaks: JSON escapes them)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows([json.dumps(_text(value)) for value in row] for row in rows)
    return io.BytesIO(buffer.getvalue().encode("utf-8"))


def _text(value: Any) -> Any:
    """A staged value: dates and timestamps as ISO text, the rest as JSON has them."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value.isoformat() if isinstance(value, date) else value


def gate_warehouse_for(settings: Settings) -> GateWarehouse:
    """The gates' warehouse of the configured target (SLUICE_TARGET)."""
    from flows.bigquery import BIGQUERY_TARGETS, bigquery_client

    if settings.target in BIGQUERY_TARGETS:
        from flows.bigquery_landing import bigquery_project

        return BigQueryGateWarehouse(
            bigquery_client(settings), bigquery_project(settings.bq_project)
        )
    return DuckDBGateWarehouse(settings.duckdb)
