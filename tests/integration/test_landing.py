"""Landing into real DuckDB: conservation, reasons, line numbers, replacing, clear errors."""

from __future__ import annotations

import gzip
import re
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.errors import PartitionIncomplete, UnreadableFile
from flows.lake.folder import FolderLake
from flows.settings import RetentionSettings
from flows.warehouse.duckdb_landing import land_partition
from flows.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.support import START, lake_days, table_checksums, truth


def _land(project: Any, lake_root: Path, warehouse: Path, day: date) -> Any:
    con = duckdb.connect(str(warehouse))
    try:
        return land_partition(
            con,
            FolderLake(lake_root),
            project.lake_tables,
            day,
            lateness_days=project.lateness_days,
            load_id="test",
        )
    finally:
        con.close()


def _copy_lake(lake: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    return copy


def _landed_copy(project: Any, lake: Path, tmp_path: Path) -> tuple[Path, Path, Any]:
    """A copy of the lake with its first day landed: the copy, the warehouse, raw's checksums."""
    lake_copy = _copy_lake(lake, tmp_path)
    warehouse = tmp_path / "w.duckdb"
    _land(project, lake_copy, warehouse, START)
    return lake_copy, warehouse, table_checksums(warehouse, ("raw",))


def test_every_lake_line_is_in_raw_or_quarantine(project: Any, lake: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    for day in lake_days():
        result = _land(project, lake, warehouse, day)
        expected = truth(lake, day)["lake"]["events"]
        events = next(t for t in result.tables if t.table == "events")
        assert events.lines == expected["lines"]
        assert events.landed == expected["valid_lines"]
        assert events.quarantined == expected["quarantined"]
    con = duckdb.connect(str(warehouse))
    for day in lake_days():
        expected = truth(lake, day)["lake"]["events"]
        raw, quarantined = con.execute(
            """select (select count(*) from raw.events where dt = $d),
                (select count(*) from raw.quarantine where dt = $d and source_table = 'events')""",
            {"d": day},
        ).fetchone()
        assert raw + quarantined == expected["lines"]
        for table, figures in truth(lake, day)["lake"]["dumps"].items():
            landed = con.execute(
                f"select count(*) from raw.{table} where dt = $d", {"d": day}
            ).fetchone()[0]
            assert landed == figures["rows"], table
    con.close()


def test_relanding_a_partition_is_idempotent(project: Any, lake: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    _land(project, lake, warehouse, START)
    first = table_checksums(warehouse, ("raw",))
    _land(project, lake, warehouse, START)
    assert table_checksums(warehouse, ("raw",)) == first
    assert first["raw.events"][0] > 0


def test_quarantine_keeps_raw_text_file_line_and_reason(
    project: Any, lake: Path, tmp_path: Path
) -> None:
    lake_copy = _copy_lake(lake, tmp_path)
    part = lake_copy / "events" / f"dt={START}" / "part-00000.jsonl.gz"
    with gzip.open(part, "rb") as handle:
        original = handle.read()
    extra = b'{"event_id": "broken"\n\xff\xfe not utf-8\n\n[1, 2]\n'
    with gzip.open(part, "wb") as handle:
        handle.write(original + extra)
    original_lines = original.count(b"\n")
    warehouse = tmp_path / "w.duckdb"
    _land(project, lake_copy, warehouse, START)
    con = duckdb.connect(str(warehouse))
    rows = con.execute(
        """select line_number, reason, raw_line from raw.quarantine
        where source_file = $f and line_number > $n order by line_number""",
        {"f": str(part.relative_to(lake_copy)), "n": original_lines},
    ).fetchall()
    con.close()
    assert rows == [
        (original_lines + 1, "invalid_json", '{"event_id": "broken"'),
        (original_lines + 2, "unreadable_line", "\\xFF\\xFE not utf-8"),
        (original_lines + 3, "empty_line", ""),
        (original_lines + 4, "not_an_object", "[1, 2]"),
    ]


def test_corrupt_gzip_is_refused_naming_the_file_and_keeps_raw(
    project: Any, lake: Path, tmp_path: Path
) -> None:
    lake_copy, warehouse, before = _landed_copy(project, lake, tmp_path)
    part = lake_copy / "events" / f"dt={START}" / "part-00000.jsonl.gz"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    with pytest.raises(UnreadableFile, match=str(part)):
        _land(project, lake_copy, warehouse, START)
    assert table_checksums(warehouse, ("raw",)) == before


def test_incomplete_partition_is_refused(project: Any, lake: Path, tmp_path: Path) -> None:
    lake_copy = _copy_lake(lake, tmp_path)
    marker = lake_copy / "events" / f"dt={START}" / "_SUCCESS"
    marker.unlink()
    with pytest.raises(PartitionIncomplete, match="_SUCCESS"):
        _land(project, lake_copy, tmp_path / "w.duckdb", START)


def test_missing_dump_is_refused_naming_it(project: Any, lake: Path, tmp_path: Path) -> None:
    lake_copy = _copy_lake(lake, tmp_path)
    shutil.rmtree(lake_copy / "dumps" / "jobs" / f"dt={START}")
    with pytest.raises(PartitionIncomplete, match="jobs"):
        _land(project, lake_copy, tmp_path / "w.duckdb", START)


def test_dump_with_bad_rows_quarantines_them(project: Any, lake: Path, tmp_path: Path) -> None:
    lake_copy = _copy_lake(lake, tmp_path)
    csv = lake_copy / "dumps" / "users" / f"dt={START}" / "users.csv"
    text = csv.read_text()
    header = text.splitlines()[0]
    data_lines = len(text.splitlines()) - 1
    csv.write_text(text + "u_only_one_column\n" + "," * header.count(",") + "\n")
    warehouse = tmp_path / "w.duckdb"
    result = _land(project, lake_copy, warehouse, START)
    users = next(t for t in result.tables if t.table == "users")
    assert users.lines == data_lines + 2
    assert users.landed == data_lines
    assert users.quarantined == {"unreadable_line": 1, "missing_field:user_id": 1}


@pytest.mark.parametrize(
    "trap",
    [
        "[_]users.csv",  # DuckDB reads it as the pattern [_]users.csv: the skipped _users.csv
        "u*.csv",  # the pattern u*.csv: users.csv lands twice
    ],
)
def test_a_lake_file_name_the_reader_would_expand_fails_the_partition_naming_it(
    project: Any, lake: Path, tmp_path: Path, trap: str
) -> None:
    lake_copy, warehouse, before = _landed_copy(project, lake, tmp_path)
    folder = lake_copy / "dumps" / "users" / f"dt={START}"
    header = (folder / "users.csv").read_text().splitlines()[0]
    secret = tmp_path / "outside.csv"
    secret.write_text(header + "\n" + "from_outside_the_lake" + "," * header.count(",") + "\n")
    (folder / "_users.csv").symlink_to(secret)  # a leading _ : not a data file, never checked
    (folder / trap).write_text(header + "\n")
    with pytest.raises(UnreadableFile, match=re.escape(f"{folder / trap}: {trap!r} is not a safe")):
        _land(project, lake_copy, warehouse, START)
    assert table_checksums(warehouse, ("raw",)) == before


def test_a_lake_whose_path_holds_a_pattern_is_refused_before_reading(
    project: Any, lake: Path, tmp_path: Path
) -> None:
    # DuckDB would read `la[k]e/...` as `lake/...`: a sibling folder outside the lake.
    shutil.copytree(lake, tmp_path / "la[k]e")
    shutil.copytree(lake, tmp_path / "lake")
    with pytest.raises(UnreadableFile, match=r"la\[k\]e/.*its path holds one of"):
        _land(project, tmp_path / "la[k]e", tmp_path / "w.duckdb", START)


def test_a_gzip_bomb_fails_its_partition_naming_the_file_and_the_cap(
    project: Any, lake: Path, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    from flows.lake.opener import open_lake
    from flows.settings import get_settings

    lake_copy, warehouse, before = _landed_copy(project, lake, tmp_path)
    part = lake_copy / "events" / f"dt={START}" / "part-00000.jsonl.gz"
    line = gzip.decompress(part.read_bytes()).split(b"\n")[0] + b"\n"
    with gzip.open(part, "wb", compresslevel=9) as handle:  # 64 MiB of lines in a small gzip
        for _ in range(64 * 1024 * 1024 // len(line) // 1000 + 1):
            handle.write(line * 1000)
    clean_env.setenv("SLUICE_LAKE", str(lake_copy))
    clean_env.setenv("SLUICE_MAX_FILE_BYTES", str(32 * 1024 * 1024))
    con = duckdb.connect(str(warehouse))
    try:
        with pytest.raises(
            UnreadableFile,
            match=re.escape(f"lake file {part} holds more than 33554432 bytes once decompressed"),
        ):
            land_partition(
                con,
                open_lake(get_settings()),
                project.lake_tables,
                START,
                lateness_days=project.lateness_days,
                load_id="test",
            )
    finally:
        con.close()
    assert table_checksums(warehouse, ("raw",)) == before


def test_a_file_of_several_batches_keeps_every_line_number_and_a_late_non_utf8_line(
    project: Any, lake: Path, tmp_path: Path
) -> None:
    from flows.lake.lines import BLOCK_BYTES

    lake_copy = _copy_lake(lake, tmp_path)
    part = lake_copy / "events" / f"dt={START}" / "part-00000.jsonl.gz"
    original = gzip.decompress(part.read_bytes())
    body = original * (BLOCK_BYTES // len(original) + 2)  # lands in at least two batches
    assert len(body) > BLOCK_BYTES + len(original)
    with gzip.open(part, "wb") as handle:
        handle.write(body + b"\xff\xfe not utf-8\n" + b'{"event_id": "broken"\n')
    before = body.count(b"\n")
    warehouse = tmp_path / "w.duckdb"
    result = _land(project, lake_copy, warehouse, START)
    events = next(t for t in result.tables if t.table == "events")
    con = duckdb.connect(str(warehouse))
    source = str(part.relative_to(lake_copy))
    numbers = con.execute(
        """select count(*), count(distinct line_number), min(line_number), max(line_number)
        from (select line_number from raw.events where source_file = $f
              union all
              select line_number from raw.quarantine where source_file = $f)""",
        {"f": source},
    ).fetchone()
    last = con.execute(
        """select line_number, reason, raw_line from raw.quarantine
        where source_file = $f and line_number > $n order by line_number""",
        {"f": source, "n": before},
    ).fetchall()
    repeated = con.execute(  # the original file's first line, at each of its copies
        "select count(*) from raw.events where source_file = $f and payload = $p",
        {"f": source, "p": original.split(b"\n")[0].decode()},
    ).fetchone()[0]
    con.close()
    assert numbers == (before + 2, before + 2, 1, before + 2)
    assert last == [
        (before + 1, "unreadable_line", "\\xFF\\xFE not utf-8"),
        (before + 2, "invalid_json", '{"event_id": "broken"'),
    ]
    assert repeated == body.count(original)
    assert events.landed + sum(events.quarantined.values()) == events.lines


def _used_blocks_and_wal_bytes(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, int]:
    [(used,)] = con.execute("select used_blocks from pragma_database_size()").fetchall()
    wal = path.with_name(path.name + ".wal")  # (fetchall: no transaction left open)
    return int(used), wal.stat().st_size if wal.exists() else 0


def test_a_landed_day_is_written_into_the_file_once_by_landing_and_publishing_copies_no_row(
    project: Any, lake: Path, tmp_path: Path
) -> None:
    """The raw step lands the day into the store of loads (written into the file then), where
    raw_audit shows it; publishing marks its load published, so raw shows the same stored rows
    and the file grows by no copy of them. `held` is a connection open meanwhile, as the gates'
    is in a run (closing the database's last connection checkpoints)."""
    path = tmp_path / "w.duckdb"
    warehouse = DuckDBWarehouse(path)
    warehouse.identity(create=True)
    held = duckdb.connect(str(path))
    counts = """select (select count(*) from raw.events), (select count(*) from raw.quarantine),
        (select count(*) from raw_audit.events), (select count(*) from raw_store.events),
        (select count(*) from raw_store.quarantine)"""
    try:
        empty, _ = _used_blocks_and_wal_bytes(held, path)
        landing = _land_day(warehouse, project, lake, "test")
        landed_blocks, wal = _used_blocks_and_wal_bytes(held, path)
        assert wal == 0 and landed_blocks > empty, "landing left the day out of the file"
        [before] = held.execute(counts).fetchall()
        raw = [replace(t, schema="raw_audit") for t in project.tables("raw")]
        warehouse.publish(raw, START, START)
        blocks, wal = _used_blocks_and_wal_bytes(held, path)
        assert wal == 0 and blocks <= landed_blocks + 1, "publishing wrote the day again"
        [counted] = held.execute(counts).fetchall()
    finally:
        held.close()
    events = next(t for t in landing.tables if t.table == "events")
    quarantined = sum(n for t in landing.tables for n in t.quarantined.values())
    assert before == (0, 0, events.landed, events.landed, quarantined)
    assert counted == (events.landed, quarantined, 0, events.landed, quarantined)
    assert events.landed == truth(lake, START)["lake"]["events"]["valid_lines"]


def _land_day(
    warehouse: DuckDBWarehouse,
    project: Any,
    lake: Path,
    load_id: str,
    schema: str = "raw_audit",
    day: date = START,
) -> Any:
    """The pipeline's landing of a lake day (into the store of loads), pending in `schema`."""
    return warehouse.land(
        FolderLake(lake),
        project.lake_tables,
        day,
        lateness_days=project.lateness_days,
        load_id=load_id,
        schema=schema,
    )


def _raw_day(held: duckdb.DuckDBPyConnection, schema: str, day: date) -> tuple[int, int, str]:
    """(events rows, quarantine rows, the load ids) of a lake day in raw or raw_audit."""
    [row] = held.execute(
        f"""select (select count(*) from {schema}.events where dt = $d),
            (select count(*) from {schema}.quarantine where dt = $d),
            (select coalesce(string_agg(distinct load_id, ',' order by load_id), '')
             from {schema}.events where dt = $d)""",
        {"d": day},
    ).fetchall()
    return int(row[0]), int(row[1]), str(row[2])


def test_a_published_day_stays_as_it_is_until_its_new_load_is_published(
    project: Any, lake: Path, tmp_path: Path
) -> None:
    """Landing a published day again puts the new load beside it, pending: raw shows the old
    load until publishing swaps them, which only changes states (the replaced load's rows go
    at the day's next landing, or the janitor's sweep); a refused load is replaced by the next
    landing."""
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    raw = [replace(t, schema="raw_audit") for t in project.tables("raw")]

    def land(load_id: str) -> int:
        landing = _land_day(warehouse, project, lake, load_id)
        return next(t.landed for t in landing.tables if t.table == "events")

    def stored(held: duckdb.DuckDBPyConnection) -> tuple[int, list[tuple[Any, ...]]]:
        [(rows,)] = held.execute("select count(*) from raw_store.events").fetchall()
        loads = held.execute("select dt, load_id, state from sluice_meta.raw_loads order by 2")
        return int(rows), loads.fetchall()

    landed = land("first")
    warehouse.publish(raw, START, START)
    with warehouse.connection() as held:
        published = _raw_day(held, "raw", START)
        assert published[0] == landed and published[2] == "first"
    for load_id in ("refused", "second"):  # "refused" is never published
        assert land(load_id) == landed
        with warehouse.connection() as held:
            assert _raw_day(held, "raw", START) == published
            assert _raw_day(held, "raw_audit", START) == (*published[:2], load_id)
            assert stored(held)[0] == 2 * landed
    warehouse.publish(raw, START, START)  # states change; no row is copied or deleted
    with warehouse.connection() as held:
        assert _raw_day(held, "raw", START) == (*published[:2], "second")
        assert _raw_day(held, "raw_audit", START) == (0, 0, "")
        assert stored(held) == (
            2 * landed,
            [(START, "first", "replaced"), (START, "second", "published")],
        )
    assert land("third") == landed  # the day's next landing deletes the replaced load
    with warehouse.connection() as held:
        assert stored(held) == (
            2 * landed,
            [(START, "second", "published"), (START, "third", "pending")],
        )
        assert _raw_day(held, "raw", START) == (*published[:2], "second")


def test_raw_tables_written_before_the_store_move_into_it_with_their_loads(
    project: Any, lake: Path, tmp_path: Path
) -> None:
    """A warehouse of plain raw tables (a published day in raw, a refused one in raw_audit)
    keeps every row when its first landing moves them into the store."""
    path = tmp_path / "w.duckdb"
    second, third = lake_days()[1], lake_days()[2]
    con = duckdb.connect(str(path))
    for day, schema in ((START, "raw"), (second, "raw_audit")):
        land_partition(
            con,
            FolderLake(lake),
            project.lake_tables,
            day,
            lateness_days=project.lateness_days,
            load_id=f"old-{schema}",
            schema=schema,
        )
    before = {s: _raw_day(con, s, d) for s, d in (("raw", START), ("raw_audit", second))}
    con.close()
    sums = table_checksums(path, ("raw",))
    warehouse = DuckDBWarehouse(path)
    _land_day(warehouse, project, lake, "new", day=third)
    assert table_checksums(path, ("raw",)) == sums
    with warehouse.connection() as held:
        kinds = held.execute(
            """select distinct table_type from information_schema.tables
            where table_schema in ('raw', 'raw_audit')"""
        ).fetchall()
        assert kinds == [("VIEW",)]
        assert _raw_day(held, "raw", START) == before["raw"]
        assert _raw_day(held, "raw_audit", second) == before["raw_audit"]
        assert _raw_day(held, "raw_audit", third)[2] == "new"
    warehouse.publish([replace(t, schema="raw_audit") for t in project.tables("raw")], third, third)
    with warehouse.connection() as held:
        assert _raw_day(held, "raw", START) == before["raw"]
        assert _raw_day(held, "raw", third)[2] == "new"
        assert _raw_day(held, "raw_audit", second) == before["raw_audit"]


def test_landing_straight_into_raw_publishes_the_day(
    project: Any, lake: Path, tmp_path: Path
) -> None:
    """A landing into raw itself (a reference build: no gate between) is published at once."""
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    for load_id in ("first", "again"):
        landing = _land_day(warehouse, project, lake, load_id, schema="raw")
    events = next(t for t in landing.tables if t.table == "events")
    quarantined = sum(n for t in landing.tables for n in t.quarantined.values())
    with warehouse.connection() as held:
        assert _raw_day(held, "raw", START) == (events.landed, quarantined, "again")
        assert _raw_day(held, "raw_audit", START) == (0, 0, "")


def test_the_janitor_deletes_old_published_quarantine_rows_and_keeps_a_refused_loads(
    project: Any, lake: Path, tmp_path: Path
) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    for load_id, schema in (("published", "raw"), ("refused", "raw_audit")):
        _land_day(warehouse, project, lake, load_id, schema=schema)
    with warehouse.connection() as held:
        published, refused = _raw_day(held, "raw", START), _raw_day(held, "raw_audit", START)
    assert published[1] == refused[1] > 0
    later = datetime.combine(START + timedelta(days=2), time(), tzinfo=UTC)
    for apply in (False, True):
        sweeps = warehouse.sweep(
            RetentionSettings(quarantine_days=1),
            later,
            apply=apply,
            audit_schemas=frozenset(),
            built=set(),
        )
        assert {s.what: s.count for s in sweeps}["raw.quarantine rows"] == published[1]
    with warehouse.connection() as held:
        assert _raw_day(held, "raw", START) == (published[0], 0, "published")
        assert _raw_day(held, "raw_audit", START) == refused


def test_the_janitor_deletes_the_rows_of_replaced_loads_and_nothing_a_view_shows(
    project: Any, lake: Path, tmp_path: Path
) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    raw = [replace(t, schema="raw_audit") for t in project.tables("raw")]
    for load_id in ("first", "second"):  # the second publish replaces the first load
        _land_day(warehouse, project, lake, load_id)
        warehouse.publish(raw, START, START)
    _land_day(warehouse, project, lake, "pending", day=lake_days()[1])  # another day, pending
    store = [t.name for t in project.lake_tables] + ["quarantine"]

    def rows_by_load() -> dict[str, int]:
        with warehouse.connection() as held:
            found: dict[str, int] = {}
            for name in store:
                query = f"select load_id, count(*) from raw_store.{name} group by 1"
                for load_id, n in held.execute(query).fetchall():
                    found[load_id] = found.get(load_id, 0) + n
            return found

    before = rows_by_load()
    assert before["first"] == before["second"] > 0 and before["pending"] > 0
    views = table_checksums(warehouse.path, ("raw", "raw_audit"))
    now = datetime.combine(START + timedelta(days=2), time(), tzinfo=UTC)
    for apply in (False, True):
        sweeps = warehouse.sweep(
            RetentionSettings(), now, apply=apply, audit_schemas=frozenset(), built=set()
        )
        assert {s.what: s.count for s in sweeps}["replaced raw load rows"] == before["first"]
    assert rows_by_load() == {"second": before["second"], "pending": before["pending"]}
    assert table_checksums(warehouse.path, ("raw", "raw_audit")) == views
    with warehouse.connection() as held:
        states = held.execute("select load_id, state from sluice_meta.raw_loads order by 1")
        assert states.fetchall() == [("pending", "pending"), ("second", "published")]
    again = warehouse.sweep(
        RetentionSettings(), now, apply=False, audit_schemas=frozenset(), built=set()
    )
    assert {s.what: s.count for s in again}["replaced raw load rows"] == 0
