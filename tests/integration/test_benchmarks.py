"""The benchmark harness runs and writes results.json in its documented format."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from benchmarks import plain_sql
from benchmarks.harness import GOALS, Place
from benchmarks.places_history import build_range
from flows.settings import PROJECT_DIR
from tests.support import Build, copy_build, copy_project, lake_days, table_checksums

# Every figure the harness has a goal for is in results.json, written by a run in this repo.
NAMES = tuple(GOALS)


def test_landing_benchmark_at_a_tiny_scale_updates_results_and_readme(
    tmp_path: Path, snapshot: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy2(PROJECT_DIR / "benchmarks" / "results.json", out / "results.json")
    shutil.copy2(PROJECT_DIR / "benchmarks" / "README.md", out / "README.md")
    env = {
        **os.environ,
        "BENCH_SCALE": "0.0001",  # 100 events a day
        "BENCH_REPS": "2",
        "BENCH_OUT": str(out),
        "BENCH_WORK": str(tmp_path / "work"),
        "SLUICE_PROJECT_DIR": str(snapshot),
    }
    subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_landing"],
        cwd=PROJECT_DIR,
        env=env,
        check=True,
        capture_output=True,
    )

    results = json.loads((out / "results.json").read_text())
    assert sorted(results) == sorted(NAMES)
    for name in NAMES:
        entry = results[name]
        for key in ("ratio", "numerator_s", "denominator_s"):
            assert isinstance(entry[key], int | float) and entry[key] > 0, (name, key)
        assert isinstance(entry["details"], dict)
    landing = results["landing_lines_per_s"]
    assert landing["details"]["scale"] == 0.0001
    assert len(landing["details"]["numerator_runs_s"]) == 2
    assert len(landing["details"]["denominator_runs_s"]) == 2
    assert landing["ratio"] == round(landing["numerator_s"] / landing["denominator_s"], 4)

    # The lines it counted are the lake day's lines, each landed or quarantined exactly once.
    lake = tmp_path / "work" / "lakes" / "2026-01-01-8d-100e"
    files = sorted((lake / "events" / "dt=2026-01-08").glob("*.jsonl.gz"))
    lines = sum(len(gzip.decompress(f.read_bytes()).splitlines()) for f in files)
    assert landing["details"]["lines"] == lines
    warehouse = tmp_path / "work" / "places" / "landing_lines_per_s" / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        landed = con.execute("select count(*) from raw.events").fetchone()
        quarantined = con.execute(
            "select count(*) from raw.quarantine where source_table = 'events'"
        ).fetchone()
    finally:
        con.close()
    assert landed is not None and quarantined is not None
    assert landed[0] + quarantined[0] == lines

    readme = (out / "README.md").read_text()
    row = next(r for r in readme.splitlines() if r.startswith("| `landing_lines_per_s`"))
    assert f"**{landing['ratio']}**" in row
    assert "| 0.0001 | 2 |" in row


def test_plain_sql_scripts_build_the_same_five_marts_as_sluice(
    clean: Build, project: Any, tmp_path: Path
) -> None:
    """The plain-SQL baseline of pipeline_vs_plain_sql, run over the session lake's days in
    order, holds exactly the rows of Sluice's clean build in all five marts; a changed row shows."""
    days = lake_days()
    database = tmp_path / "plain_sql.duckdb"
    for day in days:
        plain_sql.run_day(database, clean.settings.lake, day)
    warehouse, _ = copy_build(clean, tmp_path / "sluice")

    check = plain_sql.differences(warehouse, database, project, days[0], days[-1])
    assert sorted(check) == sorted(plain_sql.MARTS)
    # each mart's dates are its meta.window around the lake days run
    assert check["daily_kpis"]["dates"] == [str(days[0] - timedelta(days=3)), str(days[-1])]
    assert check["bandit_weights"]["dates"] == [
        str(days[0] - timedelta(days=2)),
        str(days[-1] + timedelta(days=28)),
    ]
    assert check["application_funnel"]["dates"] == [
        str(days[0] - timedelta(days=28)),
        str(days[-1] + timedelta(days=1)),
    ]
    for mart, found in check.items():
        assert found["rows"] > 0, mart
        assert found["only_in_sluice"] == found["only_in_plain"] == 0, (mart, found)
    # the tables between the lake and the marts hold the same rows too (whole tables)
    for table in DWH_TABLES:
        assert _different_rows(warehouse, database, table) == (0, 0), table

    con = duckdb.connect(str(database))
    try:
        con.execute(
            """update plain.application_funnel set hired = hired + 1
            where (applied_date, occupation) = (
                select (applied_date, occupation) from plain.application_funnel
                order by applied_date, occupation limit 1
            )"""
        )
    finally:
        con.close()
    changed = plain_sql.differences(warehouse, database, project, days[0], days[-1])
    assert changed["application_funnel"]["only_in_sluice"] == 1
    assert changed["application_funnel"]["only_in_plain"] == 1
    assert all(changed[m] == check[m] for m in plain_sql.MARTS if m != "application_funnel")


#: DWH tables the plain scripts build, compared whole with Sluice's
DWH_TABLES = ("dim_ab_patterns", "dim_companies", "dim_jobs", "dim_users", "fct_applications")


def _different_rows(warehouse: Path, database: Path, table: str) -> tuple[int, int]:
    """Rows of dwh.<table> not in plain.<table>, and the other way (the plain table's columns);
    both must hold rows."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("attach $path as plain_db (read_only)", {"path": str(database)})
        columns = ", ".join(
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns where table_catalog ="
                " 'plain_db' and table_name = $t order by ordinal_position",
                {"t": table},
            ).fetchall()
        )
        sluice = f"select {columns} from dwh.{table}"
        plain = f"select {columns} from plain_db.plain.{table}"
        counts = [
            con.execute(f"select count(*) from ({sql})").fetchone()
            for sql in (
                sluice,
                plain,
                f"{sluice} except all {plain}",
                f"{plain} except all {sluice}",
            )
        ]
    finally:
        con.close()
    n_sluice, n_plain, only_sluice, only_plain = (int(row[0]) if row else 0 for row in counts)
    assert n_sluice > 0 and n_plain > 0, (table, n_sluice, n_plain)
    return only_sluice, only_plain


#: lake table -> its key column (the first field of its sources YAML)
LAKE_KEYS = {
    "events": "event_id",
    "users": "user_id",
    "companies": "company_id",
    "jobs": "job_id",
    "applications": "application_id",
    "ab_patterns": "pattern_id",
}
#: lines each dump's CSV gets appended, every one of them for the quarantine
BAD_CSV_LINES = {
    "users": [
        "u_only_one_column",
        ",2026-01-01,kanto,engineer,true,2026-01-01T00:00:00Z",  # no user_id
        "u_bad_flag,2026-01-01,kanto,engineer,maybe,2026-01-01T00:00:00Z",
        "u_bad_date,someday,kanto,engineer,true,2026-01-01T00:00:00Z",
    ],
    "companies": ["c_bad_time,Acme,retail,1-9,yesterday"],
    "jobs": ["j_bad_salary,c0001,Cook,chef,lots,5,true,2026-01-01,2026-01-01T00:00:00Z"],
}


def test_plain_sql_lands_the_lines_sluice_lands(project: Any, lake: Path, tmp_path: Path) -> None:
    """The plain scripts' landing keeps exactly the records Sluice's landing keeps, for every
    lake table, with bad dump rows of each kind added (unreadable, missing key, bad type, value
    outside the accepted ones)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from flows.lake.folder import FolderLake
    from flows.warehouse.duckdb_landing import land_partition

    day = lake_days()[0]
    lake_copy = tmp_path / "lake"
    shutil.copytree(lake, lake_copy)
    for table, lines in BAD_CSV_LINES.items():
        csv = lake_copy / "dumps" / table / f"dt={day}" / f"{table}.csv"
        csv.write_text(csv.read_text() + "\n".join(lines) + "\n")
    for table, bad in {
        "applications": [{"application_id": "a_bad_status", "status": "lost"}, {"user_id": "u1"}],
        "ab_patterns": [{"ab_test_id": "t09", "pattern_id": None}],
    }.items():
        parquet = lake_copy / "dumps" / table / f"dt={day}" / f"{table}.parquet"
        good = pq.read_table(parquet)
        rows = [{name: row.get(name) for name in good.column_names} for row in bad]
        pq.write_table(pa.concat_tables([good, pa.Table.from_pylist(rows, good.schema)]), parquet)

    warehouse = tmp_path / "sluice.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        landing = land_partition(
            con,
            FolderLake(lake_copy),
            project.lake_tables,
            day,
            lateness_days=project.lateness_days,
            load_id="test",
        )
    finally:
        con.close()
    quarantined = {t.table: sum(t.quarantined.values()) for t in landing.tables}
    assert {t: quarantined[t] for t in ("users", "companies", "jobs")} == {
        t: len(lines) for t, lines in BAD_CSV_LINES.items()
    }
    assert quarantined["applications"] == 2 and quarantined["ab_patterns"] == 1

    database = tmp_path / "plain_sql.duckdb"
    plain_sql.run_day(database, lake_copy, day)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("attach $path as plain_db (read_only)", {"path": str(database)})
        for table, key in LAKE_KEYS.items():
            sluice = f"select payload ->> '{key}' as k from raw.{table} where dt = $day"
            where = "landed_date" if table == "events" else "dump_date"
            plain = f"select {key} from plain_db.plain.{table} where {where} = $day"
            counts = [
                con.execute(f"select count(*) from ({sql})", {"day": day}).fetchone()
                for sql in (sluice, f"{sluice} except all {plain}", f"{plain} except all {sluice}")
            ]
            assert [int(row[0]) if row else -1 for row in counts[1:]] == [0, 0], table
            assert counts[0] and counts[0][0] > 0, table
    finally:
        con.close()


def test_a_history_built_for_the_benchmarks_equals_the_pipeline_build(
    clean: Build, lake: Path, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """flat_with_history's fast history (land every day, one full-refresh build of each layer,
    publish) holds what the daily pipeline built from the same lake days, table for table."""
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    place = Place(root=tmp_path / "place", lake=lake)
    place.root.mkdir()
    clean_env.setenv("SLUICE_PROJECT_DIR", str(project))
    for name, value in place.env().items():  # build_range points the settings at the place;
        if name.startswith("SLUICE_"):  # the fixture puts the variables back afterwards
            clean_env.setenv(name, value)

    build_range(place, lake_days()[0], lake_days()[-1])

    built = table_checksums(place.warehouse)
    assert sorted(built) == sorted(clean.checksums)
    assert built == clean.checksums
    assert built["dwh.fct_events"][0] > 0 and built["marts.daily_kpis"][0] > 0
