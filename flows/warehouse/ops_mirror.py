"""The ops mirror: the state store's ledger, gate checks and incidents published to BigQuery.

The state store (SQLite, or PostgreSQL) stays the working store of every run (locks and the
ledger's compare-and-set need its transactions). On the BigQuery targets its tables are copied
into the `ops` dataset (SLUICE_BQ_OPS_DATASET) so analysts and dashboards can query them there: each
table's rows go up with one load job into a staging table and one MERGE on the table's key,
so re-publishing never duplicates a row and a changed row (a finished attempt, a resolved
incident) is updated. A table unchanged since its last publish (table `ops_published` keeps
a digest of what was sent) is skipped, so a run that changed nothing sends nothing. Rows the
janitor deletes from the store stay in the mirror (history).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from flows.dates import utc_now
from flows.errors import OpsPublishFailed
from flows.project.identifiers import identifier, project_id
from flows.state.locks import Locks
from flows.state.store import MIRRORED, MirrorTable, StateStore
from flows.warehouse.bigquery_client import ensure_dataset
from flows.warehouse.records import Published

log = logging.getLogger("sluice.ops")
LOCK_KEY = "ops:publish"
_STAGE_PREFIX = "_sluice_ops_stage_"
# Staged values are JSON literals in a CSV of strings (the load reader the emulator has too):
# a null stays null, and line breaks or quotes inside error messages travel escaped.
_CAST = {
    "STRING": "json_value({c})",
    "INT64": "cast(json_value({c}) as int64)",
    "DATE": "cast(json_value({c}) as date)",
    "TIMESTAMP": "cast(json_value({c}) as timestamp)",
}


def columns(table: MirrorTable) -> list[tuple[str, str]]:
    """The mirror table's columns with their BigQuery types, the derived key first."""
    derived = [(table.derived_key, "STRING")] if table.derived_key else []
    return [*derived, *table.columns]


def _key_columns(table: MirrorTable) -> tuple[str, ...]:
    return (table.derived_key,) if table.derived_key else table.key


def table_ddl(project: str, dataset: str, table: MirrorTable) -> str:
    """`create table if not exists` of a mirror table (key columns not null)."""
    keys = _key_columns(table)
    lines = [
        f"    `{identifier(name, 'ops column')}` {kind}{' not null' if name in keys else ''}"
        for name, kind in columns(table)
    ]
    body = ",\n".join(lines)
    partition = (
        f"\npartition by {identifier(table.partition_by, 'ops column')}"
        if (table.partition_by)
        else ""
    )
    name = identifier(table.name, "ops table")
    return f"create table if not exists `{project}.{dataset}.{name}` (\n{body}\n){partition}"


def merge_sql(target: str, stage: str, table: MirrorTable) -> str:
    """One MERGE of the staged rows into the mirror table on its key: update or insert."""
    names = [identifier(name, "ops column") for name, _ in columns(table)]
    casts = ",\n        ".join(
        f"{_CAST[kind].format(c=f'`{name}`')} as `{name}`" for name, kind in columns(table)
    )
    keys = _key_columns(table)
    on = " and ".join(f"dest.`{k}` = src.`{k}`" for k in keys)
    updates = ", ".join(f"`{n}` = src.`{n}`" for n in names if n not in keys)
    listed = ", ".join(f"`{n}`" for n in names)
    values = ", ".join(f"src.`{n}`" for n in names)
    return f"""merge `{target}` as dest
using (
    select
        {casts}
    from `{stage}`
) as src
on {on}
when matched then update set {updates}
when not matched then insert ({listed})
    values ({values})"""


def staged_rows(store: StateStore, table: MirrorTable) -> list[list[str]]:
    """Every row of a state store table as JSON literals in the mirror's column order."""
    name = identifier(table.name, "state table")
    order = ", ".join(identifier(column, "state column") for column, _ in table.columns)
    rows = store.read(f"select * from {name} order by {order}")
    staged = []
    for row in rows:
        values = [row[column] for column, _ in table.columns]
        if table.derived_key:
            key = "\x1f".join(str(row[k]) for k in table.key)
            values.insert(0, hashlib.sha256(key.encode("utf-8")).hexdigest()[:32])
        staged.append([json.dumps(v) for v in values])
    return staged


class BigQueryOpsMirror:
    """Publishes the mirrored state store tables into `<project>.<ops dataset>` on BigQuery."""

    def __init__(
        self, client: Any, project: str, dataset: str, store: StateStore, lease: timedelta
    ) -> None:
        self.client = client
        self.project = project_id(project)
        self.dataset = identifier(dataset, "ops dataset")
        self.store = store
        self.lease = lease

    def publish(self, run_id: str, *, force: bool = False) -> Published:
        """Publish every mirrored table changed since its last publish (every one with force).

        Holds the state store's publish lock, so two publishes never interleave.
        """
        locks = Locks(self.store, lease=self.lease)
        locks.acquire(LOCK_KEY, run_id)
        try:
            began = time.perf_counter()
            staged = {table.name: staged_rows(self.store, table) for table in MIRRORED}
            digests = {name: _digest(rows) for name, rows in staged.items()}
            last = {} if force else self._last_digests()
            changed = [table for table in MIRRORED if last.get(table.name) != digests[table.name]]
            if changed:
                self._ensure_dataset()
            for table in changed:
                self._publish_table(table, staged[table.name])
                self._remember(table.name, digests[table.name], len(staged[table.name]))
            return Published(
                f"{self.project}.{self.dataset}",
                {table.name: len(staged[table.name]) for table in changed},
                tuple(table.name for table in MIRRORED if table not in changed),
                time.perf_counter() - began,
            )
        finally:
            locks.release(LOCK_KEY, run_id)

    def _last_digests(self) -> dict[str, str]:
        rows = self.store.read("select table_name, digest from ops_published")
        return {row["table_name"]: row["digest"] for row in rows}

    def _remember(self, table: str, digest: str, count: int) -> None:
        with self.store.transaction() as con:
            con.execute(
                """insert into ops_published (table_name, digest, row_count, published_at)
                values (:table, :digest, :count, :now)
                on conflict (table_name) do update set digest = excluded.digest,
                    row_count = excluded.row_count, published_at = excluded.published_at""",
                {"table": table, "digest": digest, "count": count, "now": utc_now().isoformat()},
            )

    def _ensure_dataset(self) -> None:
        try:
            ensure_dataset(self.client, self.project, self.dataset)
            for table in MIRRORED:
                self._query(table_ddl(self.project, self.dataset, table))
        except Exception as exc:
            raise OpsPublishFailed(
                f"creating dataset {self.project}.{self.dataset} or its tables failed: {exc}"
            ) from exc

    def _publish_table(self, table: MirrorTable, rows: list[list[str]]) -> None:
        from google.cloud import bigquery

        name = identifier(table.name, "ops table")
        target = f"{self.project}.{self.dataset}.{name}"
        staging = identifier(f"{_STAGE_PREFIX}{name}_{uuid.uuid4().hex[:12]}", "staging table")
        stage = f"{self.project}.{self.dataset}.{staging}"
        config = bigquery.LoadJobConfig(
            schema=[bigquery.SchemaField(name, "STRING") for name, _ in columns(table)],
            source_format="CSV",
            write_disposition="WRITE_TRUNCATE",
        )
        step = "load"
        try:
            job = self.client.load_table_from_file(_csv(rows), stage, job_config=config)
            job.result()
            if int(job.output_rows or 0) != len(rows):
                raise OpsPublishFailed(f"staged {job.output_rows} of {len(rows)} rows")
            step = "merge"
            self._query(merge_sql(target, stage, table))
        except Exception as exc:
            raise OpsPublishFailed(
                f"publishing {len(rows)} rows of {table.name} to {target} failed at the {step}:"
                f" {exc}"
            ) from exc
        finally:
            self._drop(stage)

    def _drop(self, stage: str) -> None:
        try:
            self._query(f"drop table if exists `{stage}`")
        except Exception as exc:  # a leftover staging table is harmless; say so and go on
            log.warning("could not drop the ops staging table %s: %s", stage, exc)

    def _query(self, sql: str) -> Any:
        return self.client.query(sql).result()


def _digest(rows: list[list[str]]) -> str:
    return hashlib.sha256(json.dumps(rows).encode("utf-8")).hexdigest()


def _csv(rows: list[list[str]]) -> io.BytesIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows(rows)
    return io.BytesIO(buffer.getvalue().encode("utf-8"))
