"""Blocks of DuckDB work: one transaction, and settings changed for the block only.

DuckDB keeps the settings used here per database, not per connection: the dbt and GX
connections of this process share them, so a block puts them back as they were.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from flows.project.identifiers import identifier


def _set(con: duckdb.DuckDBPyConnection, values: dict[str, bool | str]) -> None:
    for name, value in values.items():
        con.execute(f"set {identifier(name, 'DuckDB setting')} = $value", {"value": value})


@contextmanager
def settings_for_block(con: duckdb.DuckDBPyConnection, **values: bool | str) -> Iterator[None]:
    """Run the block with DuckDB settings `values` (name = value), then restore the old ones
    (when the block failed, an error restoring them does not hide the block's own)."""
    before: dict[str, bool | str] = {}
    for name in values:
        row = con.execute("select current_setting($name)", {"name": name}).fetchone()
        before[name] = row[0] if row else ""
    try:
        _set(con, values)
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            _set(con, before)
        raise
    _set(con, before)


# Copies that keep no row order (a table's rows have none: every reader orders or groups), so
# DuckDB inserts on all its threads, not one.
UNORDERED = {"preserve_insertion_order": False}
# No automatic checkpoint at a commit of the block: rows stay in the WAL until an explicit one.
NO_AUTOMATIC_CHECKPOINT = {"checkpoint_threshold": "64GB"}


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
