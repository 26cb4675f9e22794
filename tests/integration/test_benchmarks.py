"""The benchmark harness runs and writes results.json in its documented format."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from benchmarks.harness import GOALS
from flows.settings import PROJECT_DIR

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
