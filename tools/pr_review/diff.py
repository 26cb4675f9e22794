"""Data diff of the base and PR builds, in DuckDB: both files attached, SQL only, per date.

Rows are matched by the model's key (its `unique` / `unique_combination` test or primary-key
constraint): added, removed and changed rows per date partition (the model's `event_time`), how
many rows changed in each column, and a few example rows. A model without a key is compared as
multisets of rows per date (a changed row counts as one removed and one added).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from flows.project.identifiers import identifier

EXAMPLES = 3


@dataclass(frozen=True)
class Table:
    """A model table to compare: where it is, its key and its date column."""

    node: str
    schema: str
    name: str
    key: tuple[str, ...]
    date_column: str | None


@dataclass(frozen=True)
class Part:
    """One date partition of a diff (`all` for a table without a date column)."""

    date: str
    base_rows: int
    pr_rows: int
    added: int
    removed: int
    changed: int | None  # None: no key, so changes show as removed + added
    columns: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TableDiff:
    table: Table
    parts: tuple[Part, ...]
    examples: tuple[dict[str, Any], ...] = ()
    added_columns: tuple[str, ...] = ()
    removed_columns: tuple[str, ...] = ()
    note: str = ""

    @property
    def differs(self) -> bool:
        return bool(self.added_columns or self.removed_columns) or any(
            p.added or p.removed or p.changed for p in self.parts
        )


def key_of(manifest: Mapping[str, Any], node: str) -> tuple[str, ...]:
    """The model's key: the shortest of its unique tests and primary-key constraints."""
    keys: list[tuple[str, ...]] = []
    for test in manifest["nodes"].values():
        if test.get("resource_type") != "test" or test.get("attached_node") != node:
            continue
        meta = test.get("test_metadata") or {}
        kwargs = meta.get("kwargs") or {}
        if meta.get("name") == "unique" and kwargs.get("column_name"):
            keys.append((str(kwargs["column_name"]),))
        elif meta.get("name") == "unique_combination" and kwargs.get("columns"):
            keys.append(tuple(str(c) for c in kwargs["columns"]))
    model = manifest["nodes"].get(node) or {}
    for constraint in model.get("constraints") or []:
        if constraint.get("type") == "primary_key" and constraint.get("columns"):
            keys.append(tuple(constraint["columns"]))
    for name, column in (model.get("columns") or {}).items():
        if any(c.get("type") == "primary_key" for c in column.get("constraints") or []):
            keys.append((name,))
    return min(keys, key=lambda k: (len(k), k)) if keys else ()


def _columns(con: duckdb.DuckDBPyConnection, database: str, table: Table) -> list[str]:
    rows = con.execute(
        "select column_name from duckdb_columns() where database_name = $db"
        " and schema_name = $schema and table_name = $table order by column_index",
        {"db": database, "schema": table.schema, "table": table.name},
    ).fetchall()
    return [str(r[0]) for r in rows]


def _keyed(con: duckdb.DuckDBPyConnection, table: Table, common: list[str]) -> TableDiff:
    relation = f"{identifier(table.schema, 'schema')}.{identifier(table.name, 'table')}"
    date = identifier(table.date_column, "column") if table.date_column else "'all'"
    part = f"coalesce(p.{date}, b.{date})" if table.date_column else date
    keys = [identifier(k, "column") for k in table.key]
    values = [identifier(c, "column") for c in common if c not in table.key]
    join = " and ".join(f"b.{k} is not distinct from p.{k}" for k in keys)
    both = "b.__in_base and p.__in_pr"
    differs = " or ".join(f"b.{c} is distinct from p.{c}" for c in values) or "false"
    counts = "".join(
        f", count(*) filter (where {both} and b.{c} is distinct from p.{c})" for c in values
    )
    joined = (
        f"from (select *, true as __in_base from base.{relation}) as b"
        f" full outer join (select *, true as __in_pr from {relation}) as p on {join}"
    )
    rows = con.execute(
        f"select cast({part} as varchar) as part, count(b.__in_base), count(p.__in_pr),"
        " count(*) filter (where b.__in_base is null),"
        " count(*) filter (where p.__in_pr is null),"
        f" count(*) filter (where {both} and ({differs})){counts}"
        f" {joined} group by 1 order by 1"
    ).fetchall()
    names = [c for c in common if c not in table.key]
    parts = tuple(
        Part(str(r[0]), r[1], r[2], r[3], r[4], r[5], dict(zip(names, r[6:], strict=True)))
        for r in rows
    )
    changed = [c for c in names if any(p.columns[c] for p in parts)][:4]
    shown = [identifier(c, "column") for c in changed]
    key_list = ", ".join(f"coalesce(p.{k}, b.{k}) as {k}" for k in keys)
    pairs = "".join(f", b.{c} as base__{c}, p.{c} as pr__{c}" for c in shown)
    where = " or ".join(f"b.{c} is distinct from p.{c}" for c in shown) or "false"
    example = con.execute(
        f"select {key_list}{pairs} {joined} where {both} and ({where})"
        f" order by all limit {EXAMPLES}"
    )
    header = [d[0] for d in example.description or []]
    examples = tuple(
        {h: _plain(v) for h, v in zip(header, r, strict=True)} for r in example.fetchall()
    )
    return TableDiff(table, parts, examples)


def _keyless(con: duckdb.DuckDBPyConnection, table: Table, common: list[str]) -> TableDiff:
    relation = f"{identifier(table.schema, 'schema')}.{identifier(table.name, 'table')}"
    date = identifier(table.date_column, "column") if table.date_column else "'all'"
    columns = ", ".join(identifier(c, "column") for c in common)
    rows = con.execute(
        f"with b as (select {columns} from base.{relation}),"
        f" p as (select {columns} from {relation}),"
        " removed as (select * from b except all select * from p),"
        " added as (select * from p except all select * from b)"
        " select cast(part as varchar), sum(in_base), sum(in_pr), sum(is_added), sum(is_removed)"
        f" from (select {date} as part, 1 as in_base, 0 as in_pr, 0 as is_added,"
        " 0 as is_removed from b"
        f" union all select {date}, 0, 1, 0, 0 from p"
        f" union all select {date}, 0, 0, 1, 0 from added"
        f" union all select {date}, 0, 0, 0, 1 from removed) group by 1 order by 1"
    ).fetchall()
    parts = tuple(Part(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), None) for r in rows)
    note = "no key (no unique test or primary key): rows compared as a whole, per date"
    return TableDiff(table, parts, note=note)


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def diff_table(con: duckdb.DuckDBPyConnection, table: Table, pr_database: str) -> TableDiff:
    """Compare one table of the attached base build with the PR build."""
    before = _columns(con, "base", table)
    after = _columns(con, pr_database, table)
    if not after:
        return TableDiff(table, (), note="not in the PR build")
    common = [c for c in after if c in before]
    added = tuple(c for c in after if c not in before)
    removed = tuple(c for c in before if c not in after)
    if not before:
        note = "a new table: every row is added"
        return TableDiff(table, _new_rows(con, table), added_columns=added, note=note)
    if table.key and all(k in common for k in table.key):
        found = _keyed(con, table, common)
    else:
        found = _keyless(con, table, common)
    return TableDiff(table, found.parts, found.examples, added, removed, found.note)


def _new_rows(con: duckdb.DuckDBPyConnection, table: Table) -> tuple[Part, ...]:
    relation = f"{identifier(table.schema, 'schema')}.{identifier(table.name, 'table')}"
    date = identifier(table.date_column, "column") if table.date_column else "'all'"
    rows = con.execute(
        f"select cast({date} as varchar), count(*) from {relation} group by 1 order by 1"
    ).fetchall()
    return tuple(Part(str(r[0]), 0, int(r[1]), int(r[1]), 0, 0) for r in rows)


def diff_builds(base: Path, pr: Path, tables: list[Table]) -> list[TableDiff]:
    """Every table compared: the PR build opened read-only with the base build attached."""
    con = duckdb.connect(str(pr), read_only=True)
    try:
        con.execute("attach $path as base (read_only)", {"path": str(base)})
        row = con.execute("select current_database()").fetchone()
        pr_database = str(row[0]) if row else ""
        return [diff_table(con, table, pr_database) for table in tables]
    finally:
        con.close()
