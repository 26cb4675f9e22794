"""Landing on BigQuery: classify a lake day as DuckDB landing does, then load it per partition.

The lines are read and classified by the DuckDB landing code in an in-memory database (so the
quarantine reasons and counts are the same on both targets), then each raw table's rows of the
day go to BigQuery with one load job into a staging table and one MERGE that replaces exactly
partition `dt` (no DELETE, no scripting: the same SQL runs on real BigQuery and the emulator).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from flows.errors import StepFailed
from flows.lake.layout import Lake
from flows.project.identifiers import identifier, project_id
from flows.project.lake_tables import LakeTable
from flows.project.manifest import QUARANTINE, RAW_SCHEMA
from flows.warehouse.bigquery_client import ensure_dataset
from flows.warehouse.duckdb_landing import land_partition
from flows.warehouse.records import PartitionLanding

_STAGE_PREFIX = "_sluice_load_"

_RAW_DDL = """create table if not exists `{project}.{schema}.{table}` (
    dt date not null,
    source_file string not null,
    line_number int64 not null,
    payload json not null,
    loaded_at timestamp not null,
    load_id string not null
)
partition by dt
cluster by source_file"""
_QUARANTINE_DDL = """create table if not exists `{project}.{schema}.quarantine` (
    dt date not null,
    source_table string not null,
    source_file string not null,
    line_number int64 not null,
    raw_line string,
    reason string not null,
    loaded_at timestamp not null,
    load_id string not null
)
partition by dt
cluster by source_table, reason"""
# Staged as CSV of strings: every field quoted, no line breaks inside (payloads are minified
# JSON, quarantined lines are JSON string literals), so any load job reader takes it as is.
_RAW_STAGE = ("source_file", "line_number", "payload", "load_id")
_QUARANTINE_STAGE = ("source_table", "source_file", "line_number", "raw_line", "reason", "load_id")
_RAW_MERGE = """merge `{target}` as dest
using (
    select
        date '{dt}' as dt,
        source_file,
        cast(line_number as int64) as line_number,
        parse_json(payload, wide_number_mode => 'round') as payload,
        current_timestamp() as loaded_at,
        load_id
    from `{stage}`
) as src
on false
when not matched by source and dest.dt = date '{dt}' then delete
when not matched then insert (dt, source_file, line_number, payload, loaded_at, load_id)
    values (dt, source_file, line_number, payload, loaded_at, load_id)"""
_QUARANTINE_MERGE = """merge `{target}` as dest
using (
    select
        date '{dt}' as dt,
        source_table,
        source_file,
        cast(line_number as int64) as line_number,
        json_value(raw_line) as raw_line,
        reason,
        current_timestamp() as loaded_at,
        load_id
    from `{stage}`
) as src
on false
when not matched by source and dest.dt = date '{dt}' and dest.source_table in ({tables}) then delete
when not matched then insert
    (dt, source_table, source_file, line_number, raw_line, reason, loaded_at, load_id)
    values (dt, source_table, source_file, line_number, raw_line, reason, loaded_at, load_id)"""


@dataclass(frozen=True)
class BigQueryLanding:
    """Lands lake days into `<project>.raw.*` of BigQuery through load jobs."""

    client: Any
    project: str
    dataset: str = RAW_SCHEMA

    def land(
        self,
        lake: Lake,
        tables: tuple[LakeTable, ...],
        dt: date,
        *,
        lateness_days: int,
        load_id: str,
    ) -> PartitionLanding:
        """Replace partition `dt` of every raw table and of the quarantine with the lake day."""
        project = project_id(self.project)
        with duckdb.connect(":memory:") as classified:
            landed = land_partition(
                classified, lake, tables, dt, lateness_days=lateness_days, load_id=load_id
            )
            self._ensure_tables(project, tables)
            for table in tables:
                name = identifier(table.name, "raw table")
                rows = classified.execute(
                    f"""select source_file, cast(line_number as varchar),
                        cast(json(payload) as varchar), load_id
                    from {RAW_SCHEMA}.{name} order by source_file, line_number"""
                ).fetchall()
                self._replace(name, _RAW_STAGE, rows, _RAW_MERGE, dt, {})
            rejected = classified.execute(
                f"""select source_table, source_file, cast(line_number as varchar), raw_line,
                    reason, load_id
                from {RAW_SCHEMA}.{QUARANTINE} order by source_table, source_file, line_number"""
            ).fetchall()
            rejected = [(*row[:3], json.dumps(row[3]), *row[4:]) for row in rejected]
            names = ", ".join(f"'{identifier(t.name, 'raw table')}'" for t in tables)
            self._replace(
                QUARANTINE, _QUARANTINE_STAGE, rejected, _QUARANTINE_MERGE, dt, {"tables": names}
            )
        self._check_counts(landed, dt)
        return landed

    def _ensure_tables(self, project: str, tables: tuple[LakeTable, ...]) -> None:
        ensure_dataset(self.client, project, self.dataset)
        schema = identifier(self.dataset, "dataset")
        for table in tables:
            name = identifier(table.name, "raw table")
            self._query(_RAW_DDL.format(project=project, schema=schema, table=name))
        self._query(_QUARANTINE_DDL.format(project=project, schema=schema))

    def _replace(
        self,
        table: str,
        columns: tuple[str, ...],
        rows: list[Any],
        merge: str,
        dt: date,
        extra: dict[str, str],
    ) -> None:
        """Load rows into a staging table, then swap them into partition dt in one MERGE."""
        from google.cloud import bigquery

        project, name = project_id(self.project), identifier(table, "raw table")
        dataset = identifier(self.dataset, "dataset")
        staging = identifier(f"{_STAGE_PREFIX}{name}_{uuid.uuid4().hex[:12]}", "staging table")
        stage = f"{project}.{dataset}.{staging}"
        target = f"{project}.{dataset}.{name}"
        config = bigquery.LoadJobConfig(
            schema=[bigquery.SchemaField(c, "STRING") for c in columns],
            source_format="CSV",
            write_disposition="WRITE_TRUNCATE",
        )
        job = self.client.load_table_from_file(_csv(rows), stage, job_config=config)
        job.result()
        if int(job.output_rows or 0) != len(rows):
            raise StepFailed(
                "landing", str(dt), f"{table}: staged {job.output_rows} of {len(rows)} rows"
            )
        try:
            self._query(merge.format(target=target, stage=stage, dt=dt.isoformat(), **extra))
        finally:
            self._query(f"drop table if exists `{stage}`")

    def _check_counts(self, landed: PartitionLanding, dt: date) -> None:
        """Conservation on the warehouse side: each table's partition holds what was classified."""
        expected = {t.table: t.landed for t in landed.tables}
        expected[QUARANTINE] = landed.quarantined
        project, dataset = project_id(self.project), identifier(self.dataset, "dataset")
        for table, count in expected.items():
            where = f"dt = date '{dt.isoformat()}'"
            if table == QUARANTINE:
                names = ", ".join(f"'{identifier(t.table, 'raw table')}'" for t in landed.tables)
                where += f" and source_table in ({names})"
            name = identifier(table, "raw table")
            rows = self._query(f"select count(*) from `{project}.{dataset}.{name}` where {where}")
            found = int(next(iter(rows))[0])
            if found != count:
                raise StepFailed(
                    "landing", str(dt), f"raw.{table} holds {found} rows of the day, not {count}"
                )

    def _query(self, sql: str) -> Any:
        return self.client.query(sql).result()


def _csv(rows: list[Any]) -> io.BytesIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for row in rows:
        if any(isinstance(v, str) and ("\n" in v or "\r" in v) for v in row):
            raise StepFailed("landing", "-", f"a staged value holds a line break: {row[:3]}")
        writer.writerow(row)
    return io.BytesIO(buffer.getvalue().encode("utf-8"))
