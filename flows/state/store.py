"""The state store: a small SQLite file that readers can open while a run holds the warehouse."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
create table if not exists partition_attempts (
    dt text not null,
    layer text not null,
    attempt integer not null,
    run_id text not null,
    status text not null,
    started_at text not null,
    finished_at text,
    rows_in integer,
    rows_out integer,
    quarantined integer,
    error_class text,
    error_message text,
    code_version text not null,
    git_sha text,
    input_fingerprint text not null,
    details text,
    primary key (dt, layer, attempt)
);
-- a step's recent successful durations (the progress estimate) without a scan
create index if not exists partition_attempts_by_layer
    on partition_attempts (layer, status, finished_at);
create table if not exists gate_checks (
    dt text not null,
    layer text not null,
    suite text not null,
    run_id text not null,
    checked_at text not null,
    success integer not null,
    row_count integer,
    details text
);
create table if not exists partition_locks (
    lock_key text primary key,
    run_id text not null,
    host text not null,
    pid integer not null,
    acquired_at text not null,
    expires_at text not null
);
create table if not exists incidents (
    id text primary key,
    dedup_key text not null,
    kind text not null,
    severity text not null,
    status text not null,
    partition text,
    layer text,
    what text not null,
    error_class text,
    error_message text,
    run_id text,
    links text not null,
    first_seen text not null,
    last_seen text not null,
    resolved_at text,
    count integer not null
);
create unique index if not exists incidents_one_open on incidents (dedup_key)
    where status = 'open';
create table if not exists warehouse_binding (
    id text primary key,
    name text not null,
    bound_at text not null
);
create table if not exists accepted_days (
    dt text not null,
    layer text not null,
    reason text not null,
    accepted_at text not null,
    primary key (dt, layer)
);
create table if not exists project_card (
    id integer primary key check (id = 1),
    card text not null,
    written_at text not null
);
create table if not exists ops_published (
    table_name text primary key,
    digest text not null,
    row_count integer not null,
    published_at text not null
);
"""


@dataclass(frozen=True)
class MirrorTable:
    """A state store table as it is published to the ops dataset on BigQuery (flows/ops_mirror).

    `columns` are the SQLite table's columns with their BigQuery types (JSON is kept as STRING);
    `derived_key`, when set, is a first column that SQLite lacks: a digest of the `key` columns.
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    partition_by: str | None = None
    derived_key: str | None = None


# The locks are not published: they are the working state of the running processes only
# (nor is ops_published, which remembers what the last publish of each table sent, nor the
# project card, which describes the project's files).
MIRRORED = (
    MirrorTable(
        "partition_attempts",
        (
            ("dt", "DATE"),
            ("layer", "STRING"),
            ("attempt", "INT64"),
            ("run_id", "STRING"),
            ("status", "STRING"),
            ("started_at", "TIMESTAMP"),
            ("finished_at", "TIMESTAMP"),
            ("rows_in", "INT64"),
            ("rows_out", "INT64"),
            ("quarantined", "INT64"),
            ("error_class", "STRING"),
            ("error_message", "STRING"),
            ("code_version", "STRING"),
            ("git_sha", "STRING"),
            ("input_fingerprint", "STRING"),
            ("details", "STRING"),
        ),
        key=("dt", "layer", "attempt"),
        partition_by="dt",
    ),
    MirrorTable(
        "gate_checks",
        (
            ("dt", "DATE"),
            ("layer", "STRING"),
            ("suite", "STRING"),
            ("run_id", "STRING"),
            ("checked_at", "TIMESTAMP"),
            ("success", "INT64"),
            ("row_count", "INT64"),
            ("details", "STRING"),
        ),
        # a check is inserted once and never updated: these columns identify it
        key=("dt", "layer", "suite", "run_id", "checked_at"),
        partition_by="dt",
        derived_key="check_id",
    ),
    MirrorTable(
        "incidents",
        (
            ("id", "STRING"),
            ("dedup_key", "STRING"),
            ("kind", "STRING"),
            ("severity", "STRING"),
            ("status", "STRING"),
            ("partition", "DATE"),
            ("layer", "STRING"),
            ("what", "STRING"),
            ("error_class", "STRING"),
            ("error_message", "STRING"),
            ("run_id", "STRING"),
            ("links", "STRING"),
            ("first_seen", "TIMESTAMP"),
            ("last_seen", "TIMESTAMP"),
            ("resolved_at", "TIMESTAMP"),
            ("count", "INT64"),
        ),
        key=("id",),
    ),
)


@dataclass(frozen=True)
class Binding:
    """The warehouse a state store describes: its identity, and where it was when bound."""

    id: str
    name: str
    bound_at: str


class StateStore:
    """Short transactions on a WAL-mode SQLite file, so status readers never wait for a run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("pragma journal_mode = wal")
            con.executescript(_SCHEMA)  # commits by itself
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate (write-locking) transaction, committed on success."""
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        try:
            con.execute("pragma journal_mode = wal")
            con.execute("pragma busy_timeout = 30000")
            con.execute("begin immediate")
            try:
                yield con
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        finally:
            con.close()

    def binding(self) -> Binding | None:
        """The warehouse this store's ledger describes (None: not bound yet)."""
        rows = self.read("select id, name, bound_at from warehouse_binding")
        return Binding(rows[0]["id"], rows[0]["name"], rows[0]["bound_at"]) if rows else None

    def bind(self, identity: str, name: str, when: str) -> None:
        """Record the warehouse this store describes (once; a second bind changes nothing)."""
        with self.transaction() as con:
            con.execute(
                "insert or ignore into warehouse_binding values (:id, :name, :when)",
                {"id": identity, "name": name, "when": when},
            )

    def read(self, sql: str, params: dict[str, object] | None = None) -> list[sqlite3.Row]:
        """Run one read-only query."""
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            con.row_factory = sqlite3.Row
            return list(con.execute(sql, params or {}).fetchall())
        finally:
            con.close()
