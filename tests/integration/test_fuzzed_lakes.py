"""Fuzzed lakes lose nothing: every damaged partition lands with conservation, or is refused
with a clear error naming the file, leaving the warehouse as it was.

SLUICE_FUZZ_EXAMPLES sets how many random lakes the property test tries (default 15; make soak
raises it).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.errors import InputError, SluiceError
from flows.lake.folder import FolderLake
from flows.warehouse.duckdb_landing import land_partition
from tests.fuzz_lake import CASES, conservation, events_dir, random_lines, read_events, write_events
from tests.support import START, copy_project, table_checksums

EXAMPLES = int(os.environ.get("SLUICE_FUZZ_EXAMPLES", "15"))
# Each case may stop the partition instead of landing it: then the error must say this.
REFUSED = {
    "truncated gzip": ("part-00000.jsonl.gz", "cannot read"),
    "a dropped dump table": ("jobs", "does not exist"),
    "a dump without its file": ("companies", "holds no csv file"),
    "an empty CSV dump": ("users.csv", "is empty"),
    "a corrupt Parquet dump": ("applications.parquet", "cannot read Parquet"),
    "a symlink out of the lake": ("part-00100.jsonl.gz", "links outside the lake"),
    "a directory named like a file": ("part-00101.jsonl.gz", "cannot read"),
}


TALLY = {"cases": 0, "refused": 0, "lake records": 0, "lost": 0, "duplicates": 0}


@pytest.fixture(scope="module", autouse=True)
def _print_tally() -> Any:
    yield
    print("\nfuzz tally: " + ", ".join(f"{k} {v}" for k, v in TALLY.items()))


def _count(counted: Any) -> None:
    TALLY["cases"] += 1
    TALLY["lake records"] += counted.lake_records
    TALLY["lost"] += counted.lost
    TALLY["duplicates"] += counted.duplicates


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small lake day (read-only: each case copies it)."""
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec

    root = tmp_path_factory.mktemp("fuzz-base") / "lake"
    generate_lake(root, LakeSpec(start=START, days=1, events_per_day=200, seed=3))
    return root


def _land(con: duckdb.DuckDBPyConnection, project: Any, lake: Path, day: date) -> Any:
    return land_partition(
        con,
        FolderLake(lake),
        project.lake_tables,
        day,
        lateness_days=project.lateness_days,
        load_id="fuzz",
    )


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_partition_lands_with_conservation_or_is_refused_clearly(
    case: str, project: Any, small_lake: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake)
    warehouse = tmp_path / "w.duckdb"
    con = duckdb.connect(str(warehouse))
    _land(con, project, lake, START)  # the previous, good state of the day
    con.close()
    before = table_checksums(warehouse, ("raw",))

    CASES[case](lake, START, random.Random(case))
    con = duckdb.connect(str(warehouse))
    try:
        try:
            landed = _land(con, project, lake, START)
        except SluiceError as exc:
            assert case in REFUSED, f"{case}: refused unexpectedly: {exc}"
            name, problem = REFUSED[case]
            assert isinstance(exc, InputError), type(exc)
            assert name in str(exc) and problem in str(exc), str(exc)
            assert "\n" not in str(exc)
            con.close()
            assert table_checksums(warehouse, ("raw",)) == before
            TALLY["cases"] += 1
            TALLY["refused"] += 1
            return
        assert case not in REFUSED, f"{case}: landed, expected a refusal"
        counted = conservation(con, lake, project.lake_tables, START)
        _count(counted)
        assert counted.lost == 0 and counted.duplicates == 0, counted
        assert counted.without_reason == 0
        assert landed.lines == counted.lake_records
        assert landed.landed + landed.quarantined == counted.lake_records
    finally:
        con.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), files=st.integers(1, 4), lines=st.integers(0, 80))
def test_random_faulty_event_files_lose_and_double_nothing(
    project: Any, small_lake: Path, seed: int, files: int, lines: int
) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="sluice-fuzz-") as folder:
        lake = Path(folder) / "lake"
        shutil.copytree(small_lake, lake)
        event = __import__("json").loads(read_events(lake, START)[0])
        for n in range(files):
            write_events(lake, START, f"part-1{n:04d}.jsonl.gz", random_lines(event, rng, lines))
        if rng.random() < 0.3:  # a re-delivered file
            first = sorted(events_dir(lake, START).glob("part-1*.jsonl.gz"))[0]
            shutil.copy2(first, first.with_name("part-2" + first.name[6:]))
        con = duckdb.connect(":memory:")
        try:
            landed = _land(con, project, lake, START)
            counted = conservation(con, lake, project.lake_tables, START)
        finally:
            con.close()
    _count(counted)
    assert counted.lost == 0 and counted.duplicates == 0 and counted.without_reason == 0, counted
    assert landed.landed + landed.quarantined == counted.lake_records


@pytest.mark.parametrize("case", ["truncated gzip", "a dropped dump table"])
def test_the_cli_reports_a_damaged_partition_in_one_line(
    case: str,
    prefect_server: None,
    small_lake: Path,
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flows.cli.main import main

    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake)
    CASES[case](lake, START, random.Random(case))
    for name, value in {
        "SLUICE_LAKE": lake,
        "SLUICE_DUCKDB": tmp_path / "w.duckdb",
        "SLUICE_STATE": tmp_path / "state.sqlite",
        "SLUICE_PROJECT_DIR": copy_project(tmp_path / "project"),
    }.items():
        clean_env.setenv(name, str(value))
    assert main(["run", "--date", START.isoformat()]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("sluice: error:")]
    name, _ = REFUSED[case]
    assert len(lines) == 1 and name in lines[0], err[-2000:]
    assert "Traceback" not in err
