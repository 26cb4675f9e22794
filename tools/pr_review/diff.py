"""Data diff of the base and PR builds, in DuckDB: both files attached, SQL only, per date.

Rows are matched by the model's key (its `unique` / `unique_combination` test or primary-key
constraint): added, removed and changed rows per date partition (the model's `event_time`), how
many rows changed in each column, and a few example rows. A model without a key is compared as
multisets of rows per date (a changed row counts as one removed and one added).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from flows.project.identifiers import identifier

EXAMPLES = 3
BOTH = "b.__in_base and p.__in_pr"  # a row on both sides of the full join


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


def _join(separator: str, template: str, names: Iterable[str]) -> str:
    """Each name, validated as an identifier, put into the template as {c}; joined."""
    return separator.join(template.format(c=identifier(n, "column")) for n in names)


def _date(table: Table, joined: bool) -> str:
    """The partition of a row: its date column (of either side of a join), or 'all'."""
    if not table.date_column:
        return "'all'"
    column = identifier(table.date_column, "column")
    return f"coalesce(p.{column}, b.{column})" if joined else column


def _keyed(con: duckdb.DuckDBPyConnection, table: Table, common: list[str]) -> TableDiff:
    schema, name = identifier(table.schema, "schema"), identifier(table.name, "table")
    others = [c for c in common if c not in table.key]
    on = _join(" and ", "b.{c} is not distinct from p.{c}", table.key)
    differs = _join(" or ", "b.{c} is distinct from p.{c}", others) if others else "false"
    counts = _join(
        "",
        ", count(*) filter (where b.__in_base and p.__in_pr and b.{c} is distinct from p.{c})",
        others,
    )
    part = _date(table, joined=True)
    rows = con.execute(
        f"select cast({part} as varchar), count(b.__in_base), count(p.__in_pr),"
        " count(*) filter (where b.__in_base is null),"
        " count(*) filter (where p.__in_pr is null),"
        f" count(*) filter (where {BOTH} and ({differs})){counts}"
        f" from (select *, true as __in_base from base.{schema}.{name}) as b"
        f" full outer join (select *, true as __in_pr from {schema}.{name}) as p on {on}"
        " group by 1 order by 1"
    ).fetchall()
    parts = tuple(
        Part(str(r[0]), r[1], r[2], r[3], r[4], r[5], dict(zip(others, r[6:], strict=True)))
        for r in rows
    )
    changed = [c for c in others if any(p.columns[c] for p in parts)][:4]
    keys = _join(", ", "coalesce(p.{c}, b.{c}) as {c}", table.key)
    pairs = _join("", ", b.{c} as base__{c}, p.{c} as pr__{c}", changed)
    where = _join(" or ", "b.{c} is distinct from p.{c}", changed) if changed else "false"
    example = con.execute(
        f"select {keys}{pairs}"
        f" from (select *, true as __in_base from base.{schema}.{name}) as b"
        f" full outer join (select *, true as __in_pr from {schema}.{name}) as p on {on}"
        f" where {BOTH} and ({where}) order by all limit {EXAMPLES}"
    )
    header = [d[0] for d in example.description or []]
    found = example.fetchall()
    examples = tuple({h: _plain(v) for h, v in zip(header, r, strict=True)} for r in found)
    return TableDiff(table, parts, examples)


def _keyless(con: duckdb.DuckDBPyConnection, table: Table, common: list[str]) -> TableDiff:
    schema, name = identifier(table.schema, "schema"), identifier(table.name, "table")
    columns = _join(", ", "{c}", common)
    part = _date(table, joined=False)
    rows = con.execute(
        f"with b as (select {columns} from base.{schema}.{name}),"
        f" p as (select {columns} from {schema}.{name}),"
        " removed as (select * from b except all select * from p),"
        " added as (select * from p except all select * from b)"
        f" select cast({part} as varchar), sum(in_base), sum(in_pr), sum(is_added),"
        " sum(is_removed) from ("
        " select *, 1 as in_base, 0 as in_pr, 0 as is_added, 0 as is_removed from b"
        " union all select *, 0 as in_base, 1 as in_pr, 0 as is_added, 0 as is_removed from p"
        " union all select *, 0 as in_base, 0 as in_pr, 1 as is_added, 0 as is_removed"
        " from added"
        " union all select *, 0 as in_base, 0 as in_pr, 0 as is_added, 1 as is_removed"
        " from removed"
        ") as x group by 1 order by 1"
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
    schema, name = identifier(table.schema, "schema"), identifier(table.name, "table")
    part = _date(table, joined=False)
    rows = con.execute(
        f"select cast({part} as varchar), count(*) from {schema}.{name} as x group by 1 order by 1"
    ).fetchall()
    return tuple(Part(str(r[0]), 0, int(r[1]), int(r[1]), 0, 0) for r in rows)


def diff_builds(base: Path, pr: Path, tables: list[Table]) -> list[TableDiff]:
    """Every table compared: the PR build with the base build attached read-only. The PR file
    is opened as dbt opened it (in this process it is the same database), and checkpointed, so
    a copy of the file holds everything."""
    con = duckdb.connect(str(pr))
    try:
        con.execute("attach $path as base (read_only)", {"path": str(base)})
        row = con.execute("select current_database()").fetchone()
        pr_database = str(row[0]) if row else ""
        found = [diff_table(con, table, pr_database) for table in tables]
        con.execute("detach base")
        con.execute("checkpoint")
        return found
    finally:
        con.close()
