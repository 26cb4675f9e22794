"""The janitor's sweep of a DuckDB warehouse: audit and quarantine rows past retention, the rows
of raw loads a later publish replaced, and relations of Sluice's audit schemas that no model
builds any more (never another schema's)."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from flows.project.identifiers import identifier
from flows.project.manifest import QUARANTINE, RAW_SCHEMA
from flows.settings import RetentionSettings
from flows.warehouse.duckdb_raw import STORE_SCHEMA, old_quarantine_rows, replaced_load_rows
from flows.warehouse.interface import AUDIT_SCHEMA
from flows.warehouse.records import Sweep


def _table_type(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str | None:
    row = con.execute(
        "select table_type from information_schema.tables"
        " where table_schema = $s and table_name = $t",
        {"s": schema, "t": table},
    ).fetchone()
    return str(row[0]) if row else None


def _old_rows(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    column: str,
    cutoff: object,
    apply: bool,
) -> int:
    """Rows of schema.table whose column is before cutoff: counted, or deleted with apply."""
    if _table_type(con, schema, table) is None:
        return 0
    relation = f"{identifier(schema, 'schema')}.{identifier(table, 'table')}"
    where = f"from {relation} where {identifier(column, 'column')} < $cutoff"
    found = con.execute(f"select count(*) {where}", {"cutoff": cutoff}).fetchone()
    count = int(found[0]) if found else 0
    if apply and count:
        con.execute(f"delete {where}", {"cutoff": cutoff})
    return count


def _unused_audit_relations(
    con: duckdb.DuckDBPyConnection, schemas: frozenset[str], built: set[tuple[str, str]]
) -> list[tuple[str, str]]:
    rows = con.execute(
        """select table_schema, table_name from information_schema.tables
        where list_contains($schemas, table_schema) order by 1, 2""",
        {"schemas": sorted(schemas)},
    ).fetchall()
    return [(s, t) for s, t in rows if s in schemas and (s, t) not in built]


def sweep_warehouse(
    con: duckdb.DuckDBPyConnection,
    retention: RetentionSettings,
    now: datetime,
    *,
    apply: bool,
    audit_schemas: frozenset[str],
    built: set[tuple[str, str]],
) -> list[Sweep]:
    """What the janitor finds (or, with apply, deletes) in a DuckDB warehouse."""
    audit_cutoff = (now - timedelta(days=retention.audit_days)).replace(tzinfo=None)
    quarantine_cutoff = (now - timedelta(days=retention.quarantine_days)).date()
    # the pipeline's quarantine is a view of the store (duckdb_raw.py): its published rows go
    stored = _table_type(con, STORE_SCHEMA, QUARANTINE) is not None
    sweeps = [
        Sweep(
            "audit.gate_failures rows",
            f"warehouse {AUDIT_SCHEMA}.gate_failures",
            f"checked more than {retention.audit_days} days ago",
            _old_rows(con, AUDIT_SCHEMA, "gate_failures", "checked_at", audit_cutoff, apply),
        ),
        Sweep(
            "raw.quarantine rows",
            f"warehouse {RAW_SCHEMA}.{QUARANTINE}",
            f"lake days more than {retention.quarantine_days} days ago",
            old_quarantine_rows(con, quarantine_cutoff, apply)
            if stored
            else _old_rows(con, RAW_SCHEMA, QUARANTINE, "dt", quarantine_cutoff, apply),
        ),
    ]
    if stored:
        sweeps.append(
            Sweep(
                "replaced raw load rows",
                f"warehouse {STORE_SCHEMA}.*",
                "replaced by a later publish of their lake day",
                replaced_load_rows(con, apply),
            )
        )
    unused = _unused_audit_relations(con, audit_schemas, built)
    if apply:
        for schema, name in unused:
            relation = f"{identifier(schema, 'schema')}.{identifier(name, 'relation')}"
            kind = "view" if _table_type(con, schema, name) == "VIEW" else "table"
            con.execute(f"drop {kind} {relation}")
    sweeps.append(Sweep.unused_audit_relations(unused, audit_schemas))
    return sweeps
