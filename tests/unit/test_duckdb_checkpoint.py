"""Publishing writes its rows into the DuckDB file itself (a checkpoint), so the next step does
not pay for them; another connection mid-write defers it, as DuckDB does. Settings changed for a
block of work are put back after it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flows.warehouse.duckdb_blocks import NO_AUTOMATIC_CHECKPOINT, UNORDERED, settings_for_block
from flows.warehouse.duckdb_warehouse import checkpoint


def _wal_bytes(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_checkpoint_moves_the_written_rows_out_of_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("set checkpoint_threshold = '1GB'")  # no automatic checkpoint in the way
    con.execute("create table t as select range as i from range(10000)")
    con.execute("insert into t select range from range(10000, 20000)")
    assert _wal_bytes(path) > 0
    checkpoint(con)
    assert _wal_bytes(path) == 0
    assert con.execute("select count(*), sum(i) from t").fetchone() == (20000, 199990000)
    con.close()


def test_a_writer_in_another_connection_defers_the_checkpoint_without_an_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("set checkpoint_threshold = '1GB'")
    con.execute("create table t as select range as i from range(1000)")
    other = con.cursor()  # a second connection to the same database, mid-transaction
    other.execute("begin transaction")
    other.execute("update t set i = -1 where i = 0")
    checkpoint(con)  # deferred: DuckDB refuses while `other` updates
    assert _wal_bytes(path) > 0
    other.execute("commit")
    checkpoint(con)
    assert _wal_bytes(path) == 0
    assert con.execute("select count(*), min(i) from t").fetchone() == (1000, -1)
    con.close()


def test_a_block_puts_the_database_settings_back_even_when_it_fails(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    other = con.cursor()  # the settings are the database's: another connection sees them
    query = (
        "select current_setting('checkpoint_threshold'),"
        " current_setting('preserve_insertion_order')"
    )
    before = other.execute(query).fetchall()
    with settings_for_block(con, **NO_AUTOMATIC_CHECKPOINT, **UNORDERED):
        assert other.execute(query).fetchall() == [("59.6 GiB", False)]
    with pytest.raises(ZeroDivisionError), settings_for_block(con, **UNORDERED):
        1 / 0  # noqa: B018
    assert other.execute(query).fetchall() == before == [("16.0 MiB", True)]
    con.close()


def test_a_read_on_the_gates_connection_ends_with_its_cursor(tmp_path: Path) -> None:
    """GX's SQLAlchemy connection lives the whole run; a count read with one fetch must not
    keep its statement open, or a replaced table cannot be checkpointed (the publish's rows
    would wait in the WAL for a later step)."""
    import sqlalchemy as sa

    from flows.warehouse.duckdb_warehouse import _autocommit_connection_class

    path = tmp_path / "w.duckdb"
    setup = duckdb.connect(str(path))
    setup.execute("create table t as select range as i from range(1000)")
    setup.execute("create table d as select range as i from range(10)")
    connection = _autocommit_connection_class()
    engine = sa.create_engine(
        "duckdb:///", creator=lambda: connection(duckdb.connect(str(path))),
        poolclass=sa.StaticPool,
    )  # fmt: skip
    with engine.connect() as gx:  # held open, as GX holds its DuckDB connection
        assert gx.execute(sa.text("select count(*) from t")).scalar() == 1000
        assert gx.execute(sa.text("select i from t order by i")).fetchone() == (0,)
        setup.execute("create or replace table d as select range as i from range(20)")
        setup.execute("checkpoint")  # refused while a read of `gx` stays open
        assert _wal_bytes(path) == 0
        assert gx.execute(sa.text("select count(*) from d")).scalar() == 20
    engine.dispose()
    setup.close()
