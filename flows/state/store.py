"""The state store: the ledger, locks and incidents, in a SQLite file (WAL: readers never wait for
a run) or in a PostgreSQL database several workers share, through one SQLAlchemy Core engine."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flows.state import schema
from flows.state.location import DatabaseUrl, StateLocation

if TYPE_CHECKING:  # SQLAlchemy is imported when a store is opened, not by every command
    from sqlalchemy.engine import Connection, CursorResult, Engine

Row = Mapping[Any, Any]  # a row by column name (SQLAlchemy's RowMapping)

# Each writing transaction on PostgreSQL first takes this transaction-scoped advisory lock, so
# writers follow one another as SQLite's BEGIN IMMEDIATE makes them: read-modify-write (an
# attempt's number, a lock's holder) stays correct with several workers. Readers never take it.
WRITER_LOCK = 0x5_1_1C_E5
BUSY_SECONDS = 30


@dataclass(frozen=True)
class MirrorTable:
    """A state store table as it is published to the ops dataset on BigQuery (flows/ops_mirror).

    `columns` are the SQLite table's columns with their BigQuery types (JSON is kept as STRING);
    `derived_key`, when set, is a first column that SQLite lacks: a digest of the `key` columns;
    `local` are the store's columns that are not published (gate_checks' recording order).
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    partition_by: str | None = None
    derived_key: str | None = None
    local: tuple[str, ...] = ()  # columns the state store keeps to itself, after `columns`


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
        local=("seq",),
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


class Rows:
    """What one statement returned: rows addressed by column name, or how many it changed."""

    def __init__(self, result: CursorResult[Any]) -> None:
        self._result = result

    @property
    def rowcount(self) -> int:
        return int(self._result.rowcount)

    def fetchone(self) -> Row | None:
        return self._result.mappings().fetchone()

    def fetchall(self) -> list[Row]:
        return list(self._result.mappings().fetchall())


class Transaction:
    """A connection inside one writing transaction: `execute(sql, {"name": value})` with
    `:name` parameters, the same SQL on SQLite and PostgreSQL."""

    def __init__(self, con: Connection) -> None:
        self._con = con

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> Rows:
        from sqlalchemy import text

        with driver_errors():
            return Rows(self._con.execute(text(sql), dict(params or {})))


@contextmanager
def driver_errors() -> Iterator[None]:
    """The driver's own error (sqlite3's, psycopg's) instead of SQLAlchemy's wrapper, whose text
    adds the statement and a link: what callers and users were shown before, one line."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as exc:
        if not isinstance(exc.orig, Exception):
            raise
        raise exc.orig from None


def _sqlite_engine(path: Path, *, read_only: bool) -> Engine:
    """A connection per use (no pool): WAL and a busy timeout; the reader opens the file
    read-only; transactions are begun by the store (the driver's own are switched off)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    uri = f"file:{quote(str(path))}" + ("?mode=ro" if read_only else "")

    def connect() -> sqlite3.Connection:
        con = sqlite3.connect(
            uri, uri=True, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
        )
        if not read_only:
            con.execute("pragma journal_mode = wal")
        return con

    return create_engine("sqlite://", creator=connect, poolclass=NullPool, hide_parameters=True)


def _postgres_engine(url: DatabaseUrl) -> Engine:
    """A small pool; statement parameters are kept out of error messages."""
    from sqlalchemy import create_engine

    return create_engine(
        url.url,
        pool_size=1,
        max_overflow=8,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"connect_timeout": BUSY_SECONDS},
    )


class StateStore:
    """Short serialized writing transactions, and reads that never wait for a writer."""

    def __init__(self, where: StateLocation) -> None:
        self.where = where
        self._pid = os.getpid()
        self._engines: tuple[Engine, Engine] | None = None  # (writer, reader), made on first use
        if isinstance(where, DatabaseUrl):
            self._begin = f"select pg_advisory_xact_lock({WRITER_LOCK})"
        else:
            where.parent.mkdir(parents=True, exist_ok=True)
            self._begin = "begin immediate"
        if not self._current():
            with self.transaction() as con:
                schema.create(con, self._gate_columns(con))

    @property
    def _writer(self) -> Engine:
        return self._made()[0]

    @property
    def _reader(self) -> Engine:
        return self._made()[1]

    def _made(self) -> tuple[Engine, Engine]:
        """The engines, made when first needed: a command that only reads a SQLite file
        (`status`, `incidents`) never imports SQLAlchemy."""
        if self._engines is None:
            if isinstance(self.where, DatabaseUrl):
                engine = _postgres_engine(self.where)
                self._engines = (engine, engine)
            else:
                self._engines = (
                    _sqlite_engine(self.where, read_only=False),
                    _sqlite_engine(self.where, read_only=True),
                )
        return self._engines

    def _current(self) -> bool:
        """Every table there, gate_checks with `seq`: opening the store then writes nothing, so
        it never waits for a running writer (`status` while a run writes)."""
        if self.path is not None and not self.path.exists():
            return False
        names = "select name from sqlite_master where type = 'table'"
        if self.path is None:
            names = """select table_name as name from information_schema.tables
            where table_schema = current_schema()"""
        if not schema.NAMES.issubset(str(row["name"]) for row in self.read(names)):
            return False
        if self.path is None:
            columns = self.read(
                """select column_name as name from information_schema.columns
                where table_schema = current_schema() and table_name = 'gate_checks'"""
            )
        else:
            columns = self.read("select name from pragma_table_info('gate_checks')")
        return "seq" in {str(row["name"]) for row in columns}

    def _gate_columns(self, con: Transaction) -> frozenset[str]:
        """The columns of an existing SQLite file's gate_checks (a PostgreSQL one is current)."""
        if self.path is None:
            return frozenset()
        found = con.execute("pragma table_info(gate_checks)").fetchall()
        return frozenset(str(row["name"]) for row in found)

    @property
    def path(self) -> Path | None:
        """The SQLite file (None: the store is a PostgreSQL database)."""
        return None if isinstance(self.where, DatabaseUrl) else self.where

    def _engine(self, engine: Engine) -> Engine:
        if os.getpid() != self._pid and self._engines is not None:
            for made in self._engines:  # a forked child never shares its parent's connections
                made.dispose(close=False)
            self._pid = os.getpid()
        return engine

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One writing transaction, serialized with every other writer, committed on success."""
        with driver_errors(), self._engine(self._writer).connect() as con:
            con.exec_driver_sql(self._begin)
            try:
                yield Transaction(con)
            except BaseException:
                con.rollback()
                raise
            con.commit()

    def binding(self) -> Binding | None:
        """The warehouse this store's ledger describes (None: not bound yet)."""
        rows = self.read("select id, name, bound_at from warehouse_binding")
        return Binding(rows[0]["id"], rows[0]["name"], rows[0]["bound_at"]) if rows else None

    def bind(self, identity: str, name: str, when: str) -> None:
        """Record the warehouse this store describes (once; a second bind changes nothing)."""
        with self.transaction() as con:
            con.execute(
                """insert into warehouse_binding values (:id, :name, :when)
                on conflict do nothing""",
                {"id": identity, "name": name, "when": when},
            )

    def read(self, sql: str, params: Mapping[str, object] | None = None) -> list[Row]:
        """Run one read-only query (it never waits for a writing transaction). A SQLite file is
        read with the standard library's driver, which takes the same `:name` parameters."""
        if self.path is not None:
            file = sqlite3.connect(
                f"file:{quote(str(self.path))}?mode=ro", uri=True, timeout=BUSY_SECONDS
            )
            try:
                cursor = file.execute(sql, dict(params or {}))
                names = [column[0] for column in cursor.description or ()]
                return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
            finally:
                file.close()
        from sqlalchemy import text

        with driver_errors(), self._engine(self._reader).connect() as con:
            return list(con.execute(text(sql), dict(params or {})).mappings().fetchall())
