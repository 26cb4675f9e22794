"""The state store: a small SQLite file beside the warehouse that readers can open during a run."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
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
"""


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

    def read(self, sql: str, params: dict[str, object] | None = None) -> list[sqlite3.Row]:
        """Run one read-only query."""
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            con.row_factory = sqlite3.Row
            return list(con.execute(sql, params or {}).fetchall())
        finally:
            con.close()
