"""Raw on DuckDB: the raw tables, and the store of loads behind the pipeline's raw and raw_audit.

The pipeline writes a lake day's rows into the file once. Landing puts them into
`raw_store.<table>` and `raw_store.quarantine`, each row tagged with its load: load_id (the
landing run) and loaded_at (the landing transaction's start, so two landings of a day by one
run differ). `sluice_meta.raw_loads` records each load of a lake day as pending, published or
replaced. Two views read the store: `raw_audit.<table>` shows the pending loads (what the raw
gate checks) and `raw.<table>` the published ones (what dbt and analysts read). Publishing lake
days only changes states, in one transaction: their pending loads become published and the
loads those replace become replaced, which no view shows. No row is copied or deleted there:
the rows of a replaced load go when its lake day is landed again, or when the janitor sweeps.
A refused load stays pending (in raw_audit, for the operator) until the day is landed again,
which replaces it. Raw tables written before the store (plain tables in raw and raw_audit)
move into it, with their loads, the first time a day is landed.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import duckdb

from flows.project.identifiers import identifier
from flows.project.lake_tables import LakeTable
from flows.project.manifest import QUARANTINE, RAW_SCHEMA
from flows.warehouse.duckdb_blocks import transaction

STORE_SCHEMA = "raw_store"
PENDING = "pending"
PUBLISHED = "published"
REPLACED = "replaced"

_RAW_COLUMNS = "dt, source_file, line_number, payload, loaded_at, load_id"
_QUARANTINE_COLUMNS = (
    "dt, source_table, source_file, line_number, raw_line, reason, loaded_at, load_id"
)
_RAW_DDL = """
create table if not exists {schema}.{table} (
    dt date not null,
    source_file varchar not null,
    line_number bigint not null,
    payload json not null,
    loaded_at timestamp not null,
    load_id varchar not null
)"""
_QUARANTINE_DDL = """
create table if not exists {schema}.quarantine (
    dt date not null,
    source_table varchar not null,
    source_file varchar not null,
    line_number bigint not null,
    raw_line varchar,
    reason varchar not null,
    loaded_at timestamp not null,
    load_id varchar not null
)"""
_LOADS_DDL = """
create table if not exists sluice_meta.raw_loads (
    dt date not null,
    load_id varchar not null,
    loaded_at timestamp not null,
    state varchar not null
)"""
# A store row `t` of a load in one of $states (views take no parameters: they spell the state).
_IN_STATE = """exists (select 1 from sluice_meta.raw_loads as l
    where list_contains($states, l.state)
        and l.dt = t.dt and l.load_id = t.load_id and l.loaded_at = t.loaded_at)"""
_ROWS_IN_STATE = """select * from {store}.{table} as t where exists (
    select 1 from sluice_meta.raw_loads as l where l.state = '{state}'
        and l.dt = t.dt and l.load_id = t.load_id and l.loaded_at = t.loaded_at)"""


def ensure_raw_tables(
    con: duckdb.DuckDBPyConnection, tables: tuple[LakeTable, ...], schema: str = RAW_SCHEMA
) -> None:
    """Create a schema of plain raw tables (each lake table and the quarantine) if missing."""
    schema = identifier(schema, "raw schema")
    con.execute(f"create schema if not exists {schema}")
    for table in tables:
        con.execute(_RAW_DDL.format(schema=schema, table=identifier(table.name, "raw table")))
    con.execute(_QUARANTINE_DDL.format(schema=schema))


def _relations(con: duckdb.DuckDBPyConnection, schemas: list[str]) -> dict[tuple[str, str], str]:
    """(schema, name) -> table type of every relation of `schemas`."""
    rows = con.execute(
        """select table_schema, table_name, table_type from information_schema.tables
        where table_schema in (select unnest($schemas))""",
        {"schemas": schemas},
    ).fetchall()
    return {(str(schema), str(name)): str(kind) for schema, name, kind in rows}


def ensure_raw_store(
    con: duckdb.DuckDBPyConnection, tables: tuple[LakeTable, ...], *, pending: str
) -> None:
    """Create the store, its loads and the views raw.<table> (published loads) and
    <pending>.<table> (pending loads) where missing; move plain raw tables into the store."""
    names = [identifier(t.name, "raw table") for t in tables] + [QUARANTINE]
    pending = identifier(pending, "raw schema")
    if pending == RAW_SCHEMA:
        raise ValueError("the pending loads need a schema of their own, not raw")
    kinds = _relations(con, [STORE_SCHEMA, RAW_SCHEMA, pending, "sluice_meta"])
    views = [(schema, name) for schema in (RAW_SCHEMA, pending) for name in names]
    stored = [(STORE_SCHEMA, name) for name in names] + [("sluice_meta", "raw_loads")]
    if all(kinds.get(v) == "VIEW" for v in views) and all(s in kinds for s in stored):
        return  # the usual case: nothing to create
    with transaction(con):
        ensure_raw_tables(con, tables, STORE_SCHEMA)
        con.execute("create schema if not exists sluice_meta")
        con.execute(_LOADS_DDL)
        for schema, state in ((RAW_SCHEMA, PUBLISHED), (pending, PENDING)):
            con.execute(f"create schema if not exists {identifier(schema, 'raw schema')}")
            plain = [n for n in names if kinds.get((schema, n)) == "BASE TABLE"]
            _move_into_store(con, schema, plain, state)
            for name in (n for n in names if kinds.get((schema, n)) != "VIEW"):
                rows = _ROWS_IN_STATE.format(
                    store=STORE_SCHEMA, table=identifier(name, "raw table"), state=state
                )
                view = f"{identifier(schema, 'raw schema')}.{identifier(name, 'raw table')}"
                con.execute(f"create view {view} as {rows}")


def _move_into_store(
    con: duckdb.DuckDBPyConnection, schema: str, names: list[str], state: str
) -> None:
    """Move plain raw tables `names` of `schema` into the store, their loads recorded in
    `state` (rows of a load the store already holds, from another schema, are not doubled)."""
    schema = identifier(schema, "raw schema")
    con.execute(
        "create temp table _sluice_moved_loads (dt date, load_id varchar, loaded_at timestamp)"
    )
    try:
        for name in (identifier(n, "raw table") for n in names):
            columns = _QUARANTINE_COLUMNS if name == QUARANTINE else _RAW_COLUMNS
            con.execute(
                f"""insert into {STORE_SCHEMA}.{name} ({columns})
                select {columns} from {schema}.{name} as t where not exists (
                    select 1 from sluice_meta.raw_loads as l
                    where l.dt = t.dt and l.load_id = t.load_id and l.loaded_at = t.loaded_at)"""
            )
            con.execute(
                f"""insert into _sluice_moved_loads
                select distinct dt, load_id, loaded_at from {schema}.{name}"""
            )
            con.execute(f"drop table {schema}.{name}")
        con.execute(
            """insert into sluice_meta.raw_loads
            select distinct m.dt, m.load_id, m.loaded_at, $state from _sluice_moved_loads as m
            where not exists (select 1 from sluice_meta.raw_loads as l
                where l.dt = m.dt and l.load_id = m.load_id and l.loaded_at = m.loaded_at)""",
            {"state": state},
        )
    finally:
        con.execute("drop table _sluice_moved_loads")


def _store_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = $s order by 1",
        {"s": STORE_SCHEMA},
    ).fetchall()
    return [identifier(str(name), "raw table") for (name,) in rows]


def _rows_of_loads(
    con: duckdb.DuckDBPyConnection,
    verb: Literal["delete", "select count(*)"],
    params: dict[str, object],
) -> int:
    """Run `verb` (delete, or select count(*)) on the rows of lake days $first..$last's loads
    in $states in every store table; the rows it deleted or counted."""
    total = 0
    for name in _store_tables(con):
        row = con.execute(
            f"{verb} from {STORE_SCHEMA}.{name} as t"
            f" where t.dt between $first and $last and {_IN_STATE}",
            params,
        ).fetchone()
        total += int(row[0]) if row else 0
    return total


def _delete_loads_in_state(
    con: duckdb.DuckDBPyConnection, states: list[str], first: date, last: date
) -> int:
    """Delete the rows of lake days first..last's loads in `states` from every store table,
    then those loads; the rows deleted."""
    params: dict[str, object] = {"first": first, "last": last, "states": states}
    deleted = _rows_of_loads(con, "delete", params)
    con.execute(
        """delete from sluice_meta.raw_loads
        where list_contains($states, state) and dt between $first and $last""",
        params,
    )
    return deleted


def clear_pending(con: duckdb.DuckDBPyConnection, dt: date) -> None:
    """Delete lake day dt's pending load, its rows in every store table included (the
    published load stays)."""
    _delete_loads_in_state(con, [PENDING], dt, dt)


def clear_replaced(con: duckdb.DuckDBPyConnection, dt: date) -> None:
    """Delete the loads of lake day dt that its publishes replaced, rows included: no view
    shows them. A landing does it first, in a transaction of its own (in the landing's, the
    deletion made it slower)."""
    _delete_loads_in_state(con, [REPLACED], dt, dt)


def record_pending(con: duckdb.DuckDBPyConnection, dt: date, load_id: str) -> None:
    """Record the load this transaction landed (loaded_at: its start) as lake day dt's pending
    one."""
    con.execute(
        "insert into sluice_meta.raw_loads values ($dt, $load_id, now()::timestamp, $state)",
        {"dt": dt, "load_id": load_id, "state": PENDING},
    )


def publish_loads(con: duckdb.DuckDBPyConnection, first: date, last: date) -> int:
    """Publish the pending loads of lake days first..last (every raw table's: raw is published
    all tables or none), in the caller's transaction: the published loads they replace become
    replaced, which no view shows (their rows go at the day's next landing or the janitor's
    sweep). The statements it ran."""
    bounds = {"first": first, "last": last}
    con.execute(
        """update sluice_meta.raw_loads set state = $replaced
        where state = $published and dt between $first and $last and dt in (
            select dt from sluice_meta.raw_loads where state = $pending)""",
        {**bounds, "replaced": REPLACED, "published": PUBLISHED, "pending": PENDING},
    )
    con.execute(
        """update sluice_meta.raw_loads set state = $published
        where state = $pending and dt between $first and $last""",
        {**bounds, "published": PUBLISHED, "pending": PENDING},
    )
    return 2


def replaced_load_rows(con: duckdb.DuckDBPyConnection, apply: bool) -> int:
    """Rows of replaced loads in the store (no view shows them): counted, or deleted with
    their loads with apply."""
    days = con.execute(
        "select min(dt), max(dt) from sluice_meta.raw_loads where state = $s", {"s": REPLACED}
    ).fetchone()
    if not days or days[0] is None:
        return 0
    if apply:
        return _delete_loads_in_state(con, [REPLACED], days[0], days[1])
    params = {"first": days[0], "last": days[1], "states": [REPLACED]}
    return _rows_of_loads(con, "select count(*)", params)


def old_quarantine_rows(con: duckdb.DuckDBPyConnection, cutoff: date, apply: bool) -> int:
    """Published quarantine rows of lake days before cutoff: counted, or deleted with apply (a
    refused load's stay with it, for the operator, until the day is landed again)."""
    where = f"from {STORE_SCHEMA}.quarantine as t where t.dt < $cutoff and {_IN_STATE}"
    params = {"cutoff": cutoff, "states": [PUBLISHED]}
    found = con.execute(f"select count(*) {where}", params).fetchone()
    count = int(found[0]) if found else 0
    if apply and count:
        con.execute(f"delete {where}", params)
    return count
