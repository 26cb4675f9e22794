"""The BigQuery warehouse (production, or the offline emulator): every Sluice access but dbt's.

Great Expectations' statements carry bound values, which BigQuery's DB-API sends as query
parameters (the emulator refuses them: bq_gaps.yml `query_parameters`). The gates' engine uses
the `bigquery+sluice` dialect (flows/warehouse/bigquery_inline.py): every statement is compiled
with its values inlined by the BigQuery dialect's own literal renderers, so the same SQL text
runs on BigQuery and on the emulator. The values come from the committed suites and validated
dates, never from user input. Publishing swaps each table's window with one MERGE (atomic per
table; BigQuery has no multi-statement transaction without scripting, which the emulator lacks).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import uuid
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from flows.lake.layout import Lake
from flows.project.identifiers import identifier, project_id
from flows.project.lake_tables import LakeTable
from flows.project.manifest import ModelTable
from flows.settings import RetentionSettings, Settings
from flows.state.store import StateStore
from flows.warehouse.bigquery_client import bigquery_client, ensure_dataset
from flows.warehouse.bigquery_landing import BigQueryLanding
from flows.warehouse.bigquery_sweep import BigQuerySweep
from flows.warehouse.interface import AUDIT_COLUMNS, AUDIT_SCHEMA, OpsMirror
from flows.warehouse.logical_size import Dialect, Sizes, SizesByDate, size_sql
from flows.warehouse.ops_mirror import BigQueryOpsMirror
from flows.warehouse.records import PartitionLanding, Sweep

_AUDIT_DDL = """create table if not exists `{project}.audit.gate_failures` (
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
_AUDIT_INSERT = """insert into `{project}.audit.gate_failures`
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
_GX_PARAMETER_WARNING = (
    "great_expectations.expectations.metrics.map_metric_provider"
    ".column_map_condition_auxilliary_methods"
)
_DIALECT = ("bigquery.sluice", "flows.warehouse.bigquery_inline", "InlineBigQueryDialect")
# The table API's legacy type names, as GoogleSQL DDL spells them.
_LEGACY_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
# Vars the emulator needs (bq_gaps.yml: parameterized_numeric).
_EMULATOR_VARS = {"rate_type": "numeric"}


class BigQueryWarehouse:
    """A BigQuery project: production (credentials) or the emulator (SLUICE_BQ_ENDPOINT)."""

    aware_timestamps = True
    concurrent_writers = True
    lock_key = None

    def __init__(self, settings: Settings, *, emulator: bool) -> None:
        self.settings = settings
        self.emulator = emulator
        self.project = project_id(settings.bq_project)

    @property
    def build_lock_key(self) -> str:
        # Runs land their own lake days side by side (each load stages in its own table), but
        # every run builds, gates and publishes through the same audit datasets: one at a time.
        return f"build:bigquery:{self.project}"

    @property
    def name(self) -> str:
        return f"the BigQuery project {self.project}" + (" (emulator)" if self.emulator else "")

    @property
    def dbt_vars(self) -> dict[str, str]:
        return dict(_EMULATOR_VARS) if self.emulator else {}

    @cached_property
    def client(self) -> Any:
        """One client for everything this process does in the project."""
        return bigquery_client(self.settings, emulator=self.emulator)

    def land(
        self,
        lake: Lake,
        tables: tuple[LakeTable, ...],
        dt: date,
        *,
        lateness_days: int,
        load_id: str,
        schema: str,
    ) -> PartitionLanding:
        landing = BigQueryLanding(self.client, self.project, identifier(schema, "raw dataset"))
        return landing.land(lake, tables, dt, lateness_days=lateness_days, load_id=load_id)

    def add_gx_datasource(self, context: Any, name: str) -> None:
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

        ensure_dataset(self.client, self.project, AUDIT_SCHEMA)
        self._query(_AUDIT_DDL.format(project=self.project))
        staging = identifier(f"{_STAGE_PREFIX}{uuid.uuid4().hex[:12]}", "staging table")
        stage = f"{self.project}.{AUDIT_SCHEMA}.{staging}"
        config = bigquery.LoadJobConfig(
            schema=[bigquery.SchemaField(name, "STRING") for name in AUDIT_COLUMNS],
            source_format="CSV",
            write_disposition="WRITE_TRUNCATE",
        )
        try:
            job = self.client.load_table_from_file(_staged(rows), stage, job_config=config)
            job.result()
            self._query(_AUDIT_INSERT.format(project=self.project, stage=stage))
        finally:
            self._query(f"drop table if exists `{stage}`")

    def count_rows(self, relations: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Rows from each table's metadata (no query job); 0 for one not built yet."""
        return {(schema, table): self._num_rows(schema, table) for schema, table in relations}

    def rows_per_day(
        self, relations: list[tuple[str, str, str]], first: date, last: date
    ) -> dict[tuple[str, str], dict[date, int] | None]:
        found: dict[tuple[str, str], dict[date, int] | None] = {}
        for schema, table, column in relations:
            if self._table(schema, table) is None or not column:
                found[(schema, table)] = None if self._table(schema, table) is None else {}
                continue
            name = identifier(column, "column")
            relation = (
                f"`{self.project}.{identifier(schema, 'schema')}.{identifier(table, 'table')}`"
            )
            rows = self.client.query(
                f"select {name}, count(*) from {relation}"
                f" where {name} between {_between((first, last))} group by 1"
            ).result()
            found[(schema, table)] = {row[0]: int(row[1]) for row in rows}
        return found

    def logical_sizes(
        self,
        relation: tuple[str, str],
        columns: list[str],
        date_column: str,
        first: date,
        last: date,
    ) -> SizesByDate | None:
        found = self._table(*relation)
        if found is None:
            return None
        types = {field.name: str(field.field_type) for field in found.schema}
        names = [identifier(c, "column") for c in columns if c in types]
        sums = "".join(f", {size_sql(Dialect.BIGQUERY, types[c], self.quote(c))}" for c in names)
        schema, table = identifier(relation[0], "schema"), identifier(relation[1], "table")
        name = f"`{self.project}.{schema}.{table}`"
        if date_column:
            column = identifier(date_column, "column")
            sql = (
                f"select {column}, count(*){sums} from {name}"
                f" where {column} between {_between((first, last))} group by 1"
            )
        else:
            sql = f"select null, count(*){sums} from {name}"
        return {
            row[0]: Sizes(int(row[1]), {c: int(v) for c, v in zip(names, row[2:], strict=True)})
            for row in self.client.query(sql).result()
            if row[1]
        }

    @property
    def dry_runs(self) -> bool:
        return not self.emulator  # the emulator refuses dry runs (bq_gaps.yml `dry_run`)

    def dry_run_bytes(self, sql: str) -> int | None:
        """A dry run's total_bytes_processed (no cache: the bytes a real run would bill); None
        on the emulator, which refuses dry runs (bq_gaps.yml `dry_run`)."""
        if self.emulator:
            return None
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        job = self.client.query(sql, job_config=config)
        return int(job.total_bytes_processed or 0)

    def identity(self, *, create: bool = False) -> str | None:
        relation = f"`{project_id(self.project)}.sluice_meta.identity`"
        if self._table("sluice_meta", "identity") is None:
            if not create:
                return None
            self._ensure_dataset("sluice_meta")
            self._query(
                f"create table if not exists {relation}"
                " (id string not null, created_at timestamp not null)"
            )
        rows = self.select_rows(f"select id from {relation} limit 1")
        if rows or not create:
            return str(rows[0]["id"]) if rows else None
        made = uuid.uuid4().hex  # 32 hexadecimal digits
        self._query(
            f"insert into {relation} (id, created_at) values ('{made}', current_timestamp())"
        )
        return made

    def _table(self, schema: str, table: str) -> Any | None:
        from google.api_core.exceptions import NotFound

        name = f"{self.project}.{identifier(schema, 'schema')}.{identifier(table, 'table')}"
        try:
            return self.client.get_table(name)
        except NotFound:
            return None

    def _num_rows(self, schema: str, table: str) -> int:
        found = self._table(schema, table)
        return int(found.num_rows or 0) if found is not None else 0

    def publish(
        self, tables: list[ModelTable], first: date, last: date, *, restore: bool = False
    ) -> int:
        statements = 0
        for table in tables:
            if restore and table.moves:
                continue  # its build copy holds days in flight only: nothing to put back
            build = identifier(table.schema, "schema")
            public = identifier(table.published[0], "schema")
            source, target = (public, build) if restore else (build, public)
            window = table.window.bounds(first, last)
            floor = table.window.floor(first)
            for statement in self._copy_statements(table, source, target, window, floor):
                self._query(statement)
                statements += 1
            if table.moves and table.partition_column:
                self._query(self._clear_window(table, build, window, floor))
                statements += 1
        return statements

    def _clear_window(
        self,
        table: ModelTable,
        dataset: str,
        window: tuple[date, date],
        floor: tuple[str, date] | None,
    ) -> str:
        """A MERGE that deletes a table's window (BigQuery's DELETE, without the emulator gap)."""
        name = f"{identifier(dataset, 'dataset')}.{identifier(table.alias, 'table')}"
        dst = f"`{self.project}.{name}`"
        where = _in_window(table, window, floor)
        return (
            f"merge {dst} as dest using (select 1 as nothing) as src on false "
            f"when not matched by source and {where.format(row='dest.')} then delete"
        )

    def _copy_statements(
        self,
        table: ModelTable,
        source: str,
        target: str,
        window: tuple[date, date],
        floor: tuple[str, date] | None,
    ) -> list[str]:
        """The statements that make the target's window (from the floor's lake day) the source's."""
        column = table.partition_column
        where = _in_window(table, window, floor)
        found, existing = self._table(source, table.alias), self._table(target, table.alias)
        src = f"`{self.project}.{source}.{identifier(table.alias, 'table')}`"
        dst = f"`{self.project}.{target}.{identifier(table.alias, 'table')}`"
        self._ensure_dataset(target)
        if found is None:
            if existing is None or not column:
                return []
            return [self._clear_window(table, target, window, floor)]
        layout = f" partition by {identifier(column, 'column')}" if column else ""
        if table.cluster_by:
            layout += " cluster by " + ", ".join(identifier(c, "column") for c in table.cluster_by)
        if not column:  # a whole table
            return [f"create or replace table {dst}{layout} as select * from {src}"]
        # A first publish only makes the empty table, if still missing: another run's first
        # publish of another day may have made it meanwhile, and its rows must stay.
        added = [f"create table if not exists {dst}{layout} as select * from {src} where false"]
        if existing is not None:
            added = self._add_missing_columns(found, existing, dst)
        names = ", ".join(f"`{identifier(f.name, 'column')}`" for f in found.schema)
        return [
            *added,
            f"merge {dst} as dest using (select {names} from {src} where {where.format(row='')})"
            f" as src on false when not matched by source and {where.format(row='dest.')}"
            f" then delete when not matched then insert ({names}) values ({names})",
        ]

    def _add_missing_columns(self, source: Any, target: Any, dst: str) -> list[str]:
        """`alter table` statements adding the source's columns the target lacks."""
        known = {field.name for field in target.schema}
        statements = []
        for field in source.schema:
            if field.name not in known:
                legacy = str(field.field_type)
                kind = identifier(_LEGACY_TYPES.get(legacy, legacy).lower(), "column type")
                name = identifier(field.name, "column")
                statements.append(f"alter table {dst} add column `{name}` {kind}")
        return statements

    def _ensure_dataset(self, dataset: str) -> None:
        ensure_dataset(self.client, self.project, dataset)

    def sweep(
        self,
        retention: RetentionSettings,
        now: datetime,
        *,
        apply: bool,
        audit_schemas: frozenset[str],
        built: set[tuple[str, str]],
    ) -> list[Sweep]:
        sweeper = BigQuerySweep(self.client, self.project)
        return sweeper.sweep(retention, now, apply=apply, audit_schemas=audit_schemas, built=built)

    def ops_mirror(self, store: StateStore) -> OpsMirror | None:
        lease = timedelta(seconds=self.settings.lease_seconds)
        return BigQueryOpsMirror(
            self.client, self.project, self.settings.bq_ops_dataset, store, lease
        )

    def _query(self, sql: str) -> Any:
        return self.client.query(sql).result()


def _between(window: tuple[date, date]) -> str:
    return f"date '{window[0].isoformat()}' and date '{window[1].isoformat()}'"


def _in_window(table: ModelTable, window: tuple[date, date], floor: tuple[str, date] | None) -> str:
    """The predicate of a table's window, its rows' prefix left as `{row}` (str.format); ''
    for a whole table."""
    if not table.partition_column:
        return ""
    where = f"{{row}}{identifier(table.partition_column, 'column')} between {_between(window)}"
    if floor:
        where += f" and {{row}}{identifier(floor[0], 'column')} >= date '{floor[1].isoformat()}'"
    return where


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
