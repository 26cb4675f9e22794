"""A plan's bytes: BigQuery's logical sizes measured in the warehouse, dates it lacks scaled from
the lake, minimums per table, shares per day, the budget and the units it is written in."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.errors import InvalidParameter, PlanOverBudget
from flows.lake.folder import FolderLake
from flows.pipeline.plan_bytes import (
    MIN_BILLED,
    ModelBytes,
    ModelRun,
    PlanBytes,
    ReadSizes,
    billed,
    check_budget,
)
from flows.project.lake_tables import LakeTable
from flows.project.model_reads import StoredRead
from flows.settings import Settings, parse_bytes
from flows.warehouse.duckdb_warehouse import DuckDBWarehouse
from flows.warehouse.logical_size import Sizes, human_bytes, value_size

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
ROWS = [
    (D1, "abc", 1, "1.5", True, '{"a":1}'),
    (D1, "é", None, None, None, None),
    (D2, None, 7, "2.0", False, "[1,2]"),
]
TYPES = ("DATE", "VARCHAR", "BIGINT", "DECIMAL(28,6)", "BOOLEAN", "JSON")
COLUMNS = ("d", "s", "n", "x", "b", "j")


@pytest.fixture()
def warehouse(tmp_path: Path) -> DuckDBWarehouse:
    """A DuckDB file with dwh.t: three rows of known values, two dates."""
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema dwh")
    con.execute(
        "create table dwh.t (d date, s varchar, n bigint, x decimal(28,6), b boolean, j json)"
    )
    con.executemany("insert into dwh.t values (?, ?, ?, ?, ?, ?)", ROWS)
    con.close()
    return DuckDBWarehouse(path)


def test_logical_sizes_follow_bigquerys_rules_per_date(warehouse: DuckDBWarehouse) -> None:
    found = warehouse.logical_sizes(("dwh", "t"), ["s", "n", "x", "b", "j", "gone"], "d", D1, D3)
    # s: 'abc' 2+3, 'é' 2+2 (two UTF-8 bytes), NULL 0; n/x/b: 8/16/1 per non-null; j: its text
    assert found == {
        D1: Sizes(2, {"s": 9, "n": 8, "x": 16, "b": 1, "j": 7}),
        D2: Sizes(1, {"s": 0, "n": 8, "x": 16, "b": 1, "j": 5}),
    }
    # the same rules applied value by value
    for column, kind in zip(COLUMNS[1:], TYPES[1:], strict=True):
        by_hand = sum(value_size(kind, row[COLUMNS.index(column)]) for row in ROWS[:2])
        assert by_hand == found[D1].columns[column], column


def test_a_whole_relation_is_one_entry_and_a_missing_one_is_none(
    warehouse: DuckDBWarehouse,
) -> None:
    whole = warehouse.logical_sizes(("dwh", "t"), ["s", "d"], "", D1, D1)
    assert whole == {None: Sizes(3, {"s": 9, "d": 24})}
    assert warehouse.logical_sizes(("dwh", "absent"), ["s"], "d", D1, D3) is None
    assert warehouse.logical_sizes(("dwh", "t"), ["s"], "d", D3, D3) == {}


def _lake(root: Path, sizes: dict[date, int]) -> tuple[FolderLake, LakeTable]:
    table = LakeTable("t", "app", "t", "jsonl", ())
    for day, size in sizes.items():
        folder = root / "t" / f"dt={day.isoformat()}"
        folder.mkdir(parents=True)
        (folder / "part-00000.jsonl").write_bytes(b"x" * size)
        (folder / "_SUCCESS").touch()
    return FolderLake(root), table


def test_dates_the_warehouse_lacks_are_scaled_from_the_lake(
    warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    lake, table = _lake(tmp_path / "lake", {D1: 100, D2: 60, D3: 320})
    sizes = ReadSizes(warehouse, lake, (table,))
    read = StoredRead(
        ("dwh", "t"), "d", (D2, date(2026, 11, 4)), frozenset({"s", "n"}), frozenset({"t"})
    )
    sizes.load([read])
    # held: D2 as it is (0 + 8); D3 lacks: (9 + 8 + 0 + 8) bytes per 160 lake bytes, times 320;
    # D4 is not in the lake: nothing to read
    assert sizes.estimate(read) == 8 + 50
    whole = StoredRead(("dwh", "t"), "d", None, frozenset({"x"}), frozenset({"t"}))
    sizes.load([whole])
    assert sizes.estimate(whole) == 32
    absent = StoredRead(("dwh", "nope"), "d", (D1, D1), frozenset({"s"}), frozenset({"t"}))
    sizes.load([absent])
    assert sizes.estimate(absent) is None


def _plan(*runs: tuple[str, tuple[date, ...], int]) -> PlanBytes:
    return PlanBytes(
        "method",
        tuple(ModelBytes(ModelRun("dwh", m, days), size, size) for m, days, size in runs),
        6.25,
    )


def test_each_table_a_query_references_is_billed_at_least_10_mib() -> None:
    a = StoredRead(("raw", "a"), "dt", (D1, D1), frozenset(), frozenset())
    b = StoredRead(("raw", "b"), "dt", (D1, D1), frozenset(), frozenset())
    assert billed({a: 3, b: MIN_BILLED + 5}) == 2 * MIN_BILLED + 5
    assert billed({}) == 0


def test_a_batch_is_shared_by_its_days_and_priced_per_tib() -> None:
    found = _plan(("fct", (D1, D2, D3), 10), ("dim", (D3,), 2**40))
    assert found.per_day() == {D1: 4, D2: 3, D3: 3 + 2**40}
    assert found.billed == 10 + 2**40
    assert found.price(2**40) == 6.25
    assert found.per_model() == [("dim", 2**40), ("fct", 10)]
    assert found.describe(2**40) == "1 TiB ($6.2500)"


def test_a_plan_over_budget_is_refused_naming_the_most_expensive_models() -> None:
    found = _plan(("a", (D1,), 3 * 2**30), ("b", (D1,), 2**30), ("c", (D1,), 5), ("d", (D1,), 1))
    check_budget(found, None)
    check_budget(found, found.billed)
    with pytest.raises(PlanOverBudget) as refused:
        check_budget(found, parse_bytes("4GiB"))
    assert str(refused.value) == (
        "the plan reads 4 GiB ($0.0244), over the budget of 4 GiB (--max-bytes / "
        "SLUICE_MAX_BYTES); most expensive: a 3 GiB, b 1 GiB, c 5 B; nothing ran: narrow the "
        "range or raise the budget"
    )


@pytest.mark.parametrize(
    ("text", "count"),
    [("500GB", 500 * 10**9), ("1TiB", 2**40), ("1.5 KiB", 1536), ("12", 12), ("2mb", 2 * 10**6)],
)
def test_byte_counts_take_decimal_and_binary_units(text: str, count: int) -> None:
    assert parse_bytes(text) == count


@pytest.mark.parametrize("text", ["lots", "5 XB", "-1", "1e9", ""])
def test_a_byte_count_that_is_not_one_is_a_clear_error(text: str) -> None:
    with pytest.raises(InvalidParameter, match="is not a byte count"):
        parse_bytes(text, "--max-bytes")


def test_the_setting_takes_units_and_refuses_nonsense() -> None:
    assert Settings(max_bytes="1TiB").max_bytes == 2**40  # type: ignore[arg-type]
    assert Settings().max_bytes is None
    assert Settings().price_per_tib == 6.25
    with pytest.raises(ValueError, match="is not a byte count"):
        Settings(max_bytes="a lot")  # type: ignore[arg-type]


def test_bytes_are_shown_in_binary_units() -> None:
    assert [human_bytes(n) for n in (0, 512, 1536, 10 * 2**20, 3 * 2**40)] == [
        "0 B",
        "512 B",
        "1.5 KiB",
        "10 MiB",
        "3 TiB",
    ]


def test_max_bytes_is_parsed_by_the_cli_and_a_bad_one_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flows.cli.main import build_parser

    args = ["backfill", "--start", "2026-11-01", "--end", "2026-11-02", "--max-bytes", "500GB"]
    assert build_parser().parse_args(args).max_bytes == 500 * 10**9
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args([*args[:-1], "half a terabyte"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--max-bytes 'half a terabyte' is not a byte count" in err and "Traceback" not in err


def test_the_plan_shows_bytes_and_price_per_day_and_in_total_with_its_method() -> None:
    import io

    from rich.console import Console

    from flows.cli.tables import print_plan
    from flows.pipeline.plan import PlannedDay

    found = _plan(("fct", (D1, D2), 2 * 2**30), ("dim", (D2,), 2**30))
    out = io.StringIO()
    planned = [PlannedDay(D1, "raw", "never run"), PlannedDay(D2, "raw", "never run")]
    print_plan(planned, Console(file=out, width=100), scanned=found)
    lines = [" ".join(line.split()) for line in out.getvalue().splitlines()]
    assert "2026-11-01 raw never run 1 GiB $0.0061" in lines
    assert "2026-11-02 raw never run 2 GiB $0.0122" in lines
    assert lines[-3].startswith("estimated bytes: 3 GiB ($0.0183) on demand at $6.25/TiB")
    assert lines[-1] == "method"
