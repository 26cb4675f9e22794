"""The project's dbt unit tests pass on DuckDB, as an analytics engineer runs them.

dbt compiles a unit-tested model under the unit test's own node, without the model's config:
a macro that reads the model's meta (in_window, read_bounds) must still compile there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from flows.pipeline.workspace import Workspace
from flows.warehouse.duckdb_raw import ensure_raw_tables
from tests.support import copy_project, settings_at

DBT = str(Path(sys.executable).with_name("dbt"))


def _dbt(project: Path, warehouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLUICE_DUCKDB": str(warehouse), "SLUICE_TARGET": "dev"}
    return subprocess.run(
        [DBT, *args, "--profiles-dir", str(project), "--project-dir", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_dbt_unit_test_of_the_project_compiles_and_passes(lake: Path, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    warehouse = tmp_path / "warehouse.duckdb"
    ws = Workspace.open(settings_at(project, lake, warehouse))
    con = duckdb.connect(str(warehouse))
    ensure_raw_tables(con, ws.project.lake_tables)  # the sources, empty
    con.close()

    empty = _dbt(project, warehouse, "run", "--empty")  # unit tests read their inputs' columns
    assert empty.returncode == 0, empty.stdout[-3000:]
    tested = _dbt(project, warehouse, "test", "--select", "test_type:unit")
    assert tested.returncode == 0, tested.stdout[-3000:]

    manifest = json.loads((project / "target" / "manifest.json").read_text())
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    assert len(manifest["unit_tests"]) >= 3
    assert {r["unique_id"]: r["status"] for r in results} == {
        uid: "pass" for uid in manifest["unit_tests"]
    }
