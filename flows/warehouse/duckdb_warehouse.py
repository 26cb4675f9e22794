"""The DuckDB warehouse: one file, one writer at a time; every Sluice access to it but dbt's.

It holds the glue to Great Expectations' SQL path on DuckDB: GX only keeps a persistent
connection for the dialects in `_PERSISTED_CONNECTION_DIALECTS`; without it, results fetched
after the connection went back to the pool come back empty and every expectation fails. That
connection lives the whole run, so no read may stay open on it (`_autocommit_connection_class`):
an open read kept DuckDB from checkpointing after a publish that replaced a table (tests in
tests/integration/test_gates.py and tests/unit/test_duckdb_checkpoint.py fail if either stops
working).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from flows.errors import WarehouseBusy, one_line
from flows.lake.layout import Lake
from flows.project.identifiers import identifier
from flows.project.lake_tables import LakeTable
from flows.project.manifest import AUDIT_SUFFIX, RAW_SCHEMA, ModelTable
from flows.settings import RetentionSettings
from flows.state.store import StateStore
from flows.warehouse.duckdb_blocks import transaction
from flows.warehouse.duckdb_landing import land_partition
from flows.warehouse.duckdb_publish import publish_tables
from flows.warehouse.duckdb_raw import clear_replaced, ensure_raw_store, publish_loads
from flows.warehouse.duckdb_sweep import sweep_warehouse
from flows.warehouse.interface import AUDIT_SCHEMA, OpsMirror
from flows.warehouse.logical_size import Dialect, Sizes, SizesByDate, size_sql
from flows.warehouse.records import PartitionLanding, Sweep

_AUDIT_DDL = """
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


def _autocommit_connection_class() -> type:
    """GX's DuckDB connection (duckdb_engine is imported with GX, so only when a gate runs).

    A DuckDB connection's last statement keeps its transaction open until its result is read
    to the end or another statement runs, and GX reads a count with one fetch: on the one
    connection GX keeps for the run, that open read made every checkpoint after a publish that
    replaced a table fail ("other write transactions active"). So each SQLAlchemy cursor is a
    DuckDB cursor of its own, and closing it ends its read; and SQLAlchemy's implicit begin is
    none: each statement is its own transaction, seeing what is committed when it runs.
    """
    from duckdb_engine import ConnectionWrapper, CursorWrapper

    class _ClosingCursor(CursorWrapper):
        def __init__(self, cursor: duckdb.DuckDBPyConnection, owner: Any) -> None:
            super().__init__(cursor, owner)
            self._own = cursor

        def close(self) -> None:
            self._own.close()

    class _AutocommitConnection(ConnectionWrapper):
        def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
            super().__init__(connection)
            self._parent = connection

        def begin(self) -> None:
            """No transaction spans statements (GX only reads)."""

        def cursor(self) -> Any:
            return _ClosingCursor(self._parent.cursor(), self)

    return _AutocommitConnection


class DuckDBWarehouse:
    """A DuckDB warehouse file. Every connection uses DuckDB's default configuration, as dbt's
    and GX's do: DuckDB refuses connections of another configuration in the same process."""

    aware_timestamps = False
    concurrent_writers = False
    build_lock_key = None  # lock_key holds the whole run
    dry_runs = False  # DuckDB bills nothing: plans estimate offline

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return f"the DuckDB file {self.path}"

    @property
    def lock_key(self) -> str:
        return f"warehouse:{self.path}"

    @property
    def dbt_vars(self) -> dict[str, str]:
        return {}

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the file (created if missing), closed after the block; WarehouseBusy
        when another process holds the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            raise WarehouseBusy(one_line(exc)) from exc
        try:
            yield con
        finally:
            con.close()

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
        straight = schema == RAW_SCHEMA  # landed where it is published: no gate between
        with self.connection() as con:  # raw and the pending schema are views of the store
            ensure_raw_store(con, tables, pending=RAW_SCHEMA + AUDIT_SUFFIX if straight else schema)
            with transaction(con):  # what earlier publishes of the day replaced goes first
                clear_replaced(con, dt)
            landed = land_partition(
                con, lake, tables, dt, lateness_days=lateness_days, load_id=load_id, store=True
            )
            if straight:
                with transaction(con):
                    publish_loads(con, dt, dt)
            checkpoint(con)  # the day is written into the file here, once: publishing copies none
            return landed

    def add_gx_datasource(self, context: Any, name: str) -> None:
        apply_duckdb_shim()
        path = str(self.path)
        connection = _autocommit_connection_class()
        context.data_sources.add_sql(
            name=name,
            connection_string=f"duckdb:///{path}",
            kwargs={"creator": lambda: connection(duckdb.connect(path))},
        )

    def quote(self, name: str) -> str:
        return f'"{name}"'

    def select_rows(self, query: str) -> list[dict[str, Any]]:
        with self.connection() as con:
            cursor = con.execute(query)
            names = [d[0] for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def append_failures(self, rows: list[list[Any]]) -> None:
        with self.connection() as con:
            con.execute(f"create schema if not exists {identifier(AUDIT_SCHEMA, 'schema')}")
            con.execute(_AUDIT_DDL)
            con.executemany(
                "insert into audit.gate_failures values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def count_rows(self, relations: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not self.path.exists():
            return dict.fromkeys(relations, 0)
        with self.connection() as con:
            existing = set(con.execute(_TABLES).fetchall())
            counts = {}
            for schema, table in relations:
                relation = f"{identifier(schema, 'schema')}.{identifier(table, 'table')}"
                counts[(schema, table)] = (
                    _scalar(con, f"select count(*) from {relation}")
                    if (schema, table) in existing
                    else 0
                )
            return counts

    def rows_per_day(
        self, relations: list[tuple[str, str, str]], first: date, last: date
    ) -> dict[tuple[str, str], dict[date, int] | None]:
        if not self.path.exists():
            return {(schema, table): None for schema, table, _ in relations}
        found: dict[tuple[str, str], dict[date, int] | None] = {}
        with self.connection() as con:
            existing = set(con.execute(_TABLES).fetchall())
            for schema, table, column in relations:
                if (schema, table) not in existing or not column:
                    found[(schema, table)] = None if (schema, table) not in existing else {}
                    continue
                relation = f"{identifier(schema, 'schema')}.{identifier(table, 'table')}"
                name = identifier(column, "column")
                rows = con.execute(
                    f"select {name}, count(*) from {relation}"
                    f" where {name} between $first and $last group by 1",
                    {"first": first, "last": last},
                ).fetchall()
                found[(schema, table)] = {day: int(n) for day, n in rows}
        return found

    def logical_sizes(
        self,
        relation: tuple[str, str],
        columns: list[str],
        date_column: str,
        first: date,
        last: date,
    ) -> SizesByDate | None:
        if not self.path.exists():
            return None
        schema, table = relation
        with self.connection() as con:
            types = dict(
                con.execute(
                    "select column_name, data_type from information_schema.columns"
                    " where table_schema = $schema and table_name = $table",
                    {"schema": schema, "table": table},
                ).fetchall()
            )
            if not types:
                return None
            names = [identifier(c, "column") for c in columns if c in types]
            sums = "".join(f", {size_sql(Dialect.DUCKDB, types[c], self.quote(c))}" for c in names)
            name = f"{identifier(schema, 'schema')}.{identifier(table, 'table')}"
            if not date_column:
                rows = con.execute(f"select null, count(*){sums} from {name}").fetchall()
            else:
                column = identifier(date_column, "column")
                rows = con.execute(
                    f"select {column}, count(*){sums} from {name}"
                    f" where {column} between $first and $last group by 1",
                    {"first": first, "last": last},
                ).fetchall()
        return {
            row[0]: Sizes(int(row[1]), {c: int(v) for c, v in zip(names, row[2:], strict=True)})
            for row in rows
            if row[1]
        }

    def dry_run_bytes(self, sql: str) -> int | None:
        return None  # DuckDB bills nothing: plans estimate offline

    def identity(self, *, create: bool = False) -> str | None:
        if not self.path.exists() and not create:
            return None
        with self.connection() as con:
            known = ("sluice_meta", "identity") in set(con.execute(_TABLES).fetchall())
            row = con.execute("select id from sluice_meta.identity").fetchone() if known else None
            if row or not create:
                return str(row[0]) if row else None
            con.execute("create schema if not exists sluice_meta")
            con.execute(_IDENTITY_DDL)
            made = uuid.uuid4().hex
            con.execute(
                "insert into sluice_meta.identity values ($id, now()::timestamp)", {"id": made}
            )
            return made

    def publish(
        self, tables: list[ModelTable], first: date, last: date, *, restore: bool = False
    ) -> int:
        with self.connection() as con:
            statements = publish_tables(con, tables, first, last, restore=restore)
            checkpoint(con)  # the copies reach the file here, not in the next step
            return statements

    def sweep(
        self,
        retention: RetentionSettings,
        now: datetime,
        *,
        apply: bool,
        audit_schemas: frozenset[str],
        built: set[tuple[str, str]],
    ) -> list[Sweep]:
        if not self.path.exists():
            return []
        with self.connection() as con:
            return sweep_warehouse(
                con, retention, now, apply=apply, audit_schemas=audit_schemas, built=built
            )

    def ops_mirror(self, store: StateStore) -> OpsMirror | None:
        return None  # the state store is read where it is (SQLite or PostgreSQL)


_TABLES = "select table_schema, table_name from information_schema.tables"
_IDENTITY_DDL = """create table if not exists sluice_meta.identity (
    id varchar not null,
    created_at timestamp not null
)"""


def checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Write the WAL into the database file now, so each step pays for its own writes; when
    another connection of this process is mid-write, DuckDB's own automatic checkpoint does it
    later, as it would have without this call."""
    try:
        con.execute("checkpoint")
    except duckdb.TransactionException as exc:
        if "other write transactions" not in str(exc):
            raise


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
