"""The state store's tables, in SQL that SQLite (3.39+) and PostgreSQL both run as written."""

from __future__ import annotations

from typing import Protocol

# Counts are bigint (SQLite reads it as integer). Text ordering follows the database's collation.
TABLES = (
    """create table if not exists partition_attempts (
    dt text not null,
    layer text not null,
    attempt integer not null,
    run_id text not null,
    status text not null,
    started_at text not null,
    finished_at text,
    rows_in bigint,
    rows_out bigint,
    quarantined bigint,
    error_class text,
    error_message text,
    code_version text not null,
    git_sha text,
    input_fingerprint text not null,
    details text,
    primary key (dt, layer, attempt)
)""",
    # `seq` numbers the checks in the order they were recorded (the tie-break of equal times)
    """create table if not exists gate_checks (
    dt text not null,
    layer text not null,
    suite text not null,
    run_id text not null,
    checked_at text not null,
    success integer not null,
    row_count bigint,
    details text,
    seq bigint
)""",
    """create table if not exists partition_locks (
    lock_key text primary key,
    run_id text not null,
    host text not null,
    pid integer not null,
    acquired_at text not null,
    expires_at text not null
)""",
    """create table if not exists incidents (
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
    count bigint not null
)""",
    """create table if not exists warehouse_binding (
    id text primary key,
    name text not null,
    bound_at text not null
)""",
    """create table if not exists accepted_days (
    dt text not null,
    layer text not null,
    reason text not null,
    accepted_at text not null,
    primary key (dt, layer)
)""",
    """create table if not exists project_card (
    id integer primary key check (id = 1),
    card text not null,
    written_at text not null
)""",
    """create table if not exists ops_published (
    table_name text primary key,
    digest text not null,
    row_count bigint not null,
    published_at text not null
)""",
)

NAMES = frozenset(
    statement.split("exists ", 1)[1].split(" ", 1)[0] for statement in TABLES
)  # every table, as the statements name it

INDEXES = (
    # a step's recent successful durations (the progress estimate) without a scan
    """create index if not exists partition_attempts_by_layer
    on partition_attempts (layer, status, finished_at)""",
    "create index if not exists gate_checks_by_seq on gate_checks (seq)",
    """create unique index if not exists incidents_one_open on incidents (dedup_key)
    where status = 'open'""",
)


class Executes(Protocol):
    """A connection inside a transaction (the store's)."""

    def execute(self, sql: str, params: dict[str, object] | None = None) -> object: ...


def create(con: Executes, gate_columns: frozenset[str] = frozenset()) -> None:
    """Create what is missing; `gate_columns`: those gate_checks had before (none: new).

    A SQLite file written before gate_checks had `seq` gets it, numbered in rowid order.
    """
    for statement in TABLES:
        con.execute(statement)
    if gate_columns and "seq" not in gate_columns:
        con.execute("alter table gate_checks add column seq bigint")
        con.execute("update gate_checks set seq = rowid")  # only SQLite files predate seq
    for statement in INDEXES:
        con.execute(statement)
