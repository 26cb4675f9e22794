"""Publishing on DuckDB: copy tables' windows between schemas by column name, in one transaction.

Write-audit-publish: a layer is built and checked in `<schema>_audit`; when its gates pass,
each table's window of dates is copied into `<schema>` (publish); when anything fails, the
published window is copied back (restore), so the audit copy never keeps rows nobody accepted.
Columns are matched by name, never by position: a column the source gained (schema drift) is
added to the target first; a target column the source lacks is left null.
"""

from __future__ import annotations

import re
from datetime import date

import duckdb

from flows.errors import ProjectError
from flows.project.identifiers import identifier
from flows.project.manifest import ModelTable
from flows.warehouse.duckdb_blocks import UNORDERED, settings_for_block, transaction
from flows.warehouse.duckdb_raw import publish_loads

_TYPE = re.compile(r"^[A-Za-z0-9_(), \[\]]+$")


Catalog = dict[tuple[str, str], list[tuple[str, str]]]


def _catalog(con: duckdb.DuckDBPyConnection, schemas: set[str]) -> Catalog:
    """(schema, table) -> (name, type) of its columns in order, for every table of `schemas`:
    one catalog query for a whole publish (a missing table has no entry)."""
    rows = con.execute(
        """select table_schema, table_name, column_name, data_type from information_schema.columns
        where table_schema in (select unnest($schemas)) order by 1, 2, ordinal_position""",
        {"schemas": sorted(schemas)},
    ).fetchall()
    found: Catalog = {}
    for schema, table, name, kind in rows:
        found.setdefault((str(schema), str(table)), []).append((str(name), str(kind)))
    return found


def _relation(schema: str, table: str) -> str:
    return f'"{identifier(schema, "schema")}"."{identifier(table, "table")}"'


def _names(columns: list[str]) -> str:
    return ", ".join(f'"{identifier(c, "column")}"' for c in columns)


def _copy_window(
    con: duckdb.DuckDBPyConnection,
    table: ModelTable,
    source: tuple[str, str],
    target: tuple[str, str],
    window: tuple[date, date],
    floor: tuple[str, date] | None,
    catalog: Catalog,
) -> int:
    """Make the target's window (rows from the floor's lake day on) equal the source's; the
    statements it ran. The target's schema exists."""
    column = table.partition_column
    source_columns = catalog.get(source, [])
    target_columns = catalog.get(target, [])
    src, dst = _relation(*source), _relation(*target)
    between = f'"{identifier(column, "column")}" between $first and $last' if column else ""
    bounds: dict[str, date] = {"first": window[0], "last": window[1]}
    if floor and column:
        between += f' and "{identifier(floor[0], "column")}" >= $since'
        bounds["since"] = floor[1]
    if not source_columns:  # nothing built (or published) to copy: clear the target's window
        if target_columns and column:
            con.execute(f"delete from {dst} where {between}", bounds)
            return 1
        return 0
    if not column:  # a whole table (a dimension rebuilt from its change rows)
        con.execute(f"create or replace table {dst} as select * from {src}")
        return 1
    if not target_columns:
        con.execute(f"create table {dst} as select * from {src} where {between}", bounds)
        return 1
    known = {name for name, _ in target_columns}
    for name, kind in source_columns:
        if name not in known:
            if not _TYPE.match(kind):
                raise ProjectError(f"column {source}.{name} has an unexpected type {kind!r}")
            con.execute(f'alter table {dst} add column "{identifier(name, "column")}" {kind}')
    names = _names([name for name, _ in source_columns])
    con.execute(f"delete from {dst} where {between}", bounds)
    con.execute(f"insert into {dst} ({names}) select {names} from {src} where {between}", bounds)
    return 2 + len(set(dict(source_columns)) - known)


def publish_tables(
    con: duckdb.DuckDBPyConnection,
    tables: list[ModelTable],
    first: date,
    last: date,
    *,
    restore: bool = False,
) -> int:
    """Copy every table's window for lake days first..last from its build schema to its
    published one (restore: back) in one transaction; the statements run."""
    statements = 0
    moved = [table for table in tables if table.moves]
    # Raw tables are views of the store of loads (duckdb_raw.py): publishing marks their days'
    # loads published, and restoring has nothing to put back (refused loads stay pending).
    tables = [table for table in tables if not table.moves]
    with settings_for_block(con, **UNORDERED), transaction(con):
        if moved and not restore:
            statements += publish_loads(con, first, last)
        catalog = _catalog(con, {s for t in tables for s in (t.schema, t.published[0])})
        for schema in sorted({t.schema if restore else t.published[0] for t in tables}):
            con.execute(f'create schema if not exists "{identifier(schema, "schema")}"')
        for table in tables:
            build, public = (table.schema, table.alias), table.published
            window = table.window.bounds(first, last)
            source, target = (public, build) if restore else (build, public)
            floor = table.window.floor(first)
            statements += _copy_window(con, table, source, target, window, floor, catalog)
    return statements
