"""`sluice status` and `sluice incidents` in a fresh process, on a copy of a real build: what
they import (no dbt, Great Expectations, Prefect, DuckDB, Google client) and what they print."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from flows.alerts.incidents import Incidents, Kind, Problem, Severity
from flows.settings import PROJECT_DIR
from flows.state.ledger import Ledger
from flows.state.store import StateStore
from tests.support import Build, copy_build, copy_project, lake_days, truth

pytestmark = pytest.mark.usefixtures("prefect_server")

DAYS = lake_days()
STEPS = ("raw", "dwh", "marts")
# A SQLite state store is read with the standard library: no SQLAlchemy (its import costs
# 0.2-0.5 s here), nor PostgreSQL's driver.
HEAVY = (
    "dbt", "great_expectations", "prefect", "duckdb", "google",
    "sqlalchemy", "psycopg",
)  # fmt: skip
# Runs the command like the console script does, then writes every module it imported.
RUN_AND_LIST_MODULES = """\
import json, sys
from flows.cli.main import main
code = main(sys.argv[2:])
open(sys.argv[1], "w").write(json.dumps(sorted(sys.modules)))
raise SystemExit(code)
"""
CODE_CHANGED = "the code changed since it succeeded"
UPSTREAM = "an upstream step of this day must run again"
# a row of the status table: date, step, state, tries, rows out (blank for dbt layers)
ROW = re.compile(r"^ *(\d{4}-\d\d-\d\d) +(\w+) +(succeeded|stale|failed) +(\d+)(?: +([\d,]+))?")


def sluice(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[str, str, set[str]]:
    """(stdout, stderr, modules imported) of `sluice <args>` in a fresh process."""
    listing = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, str(listing), *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout, done.stderr, set(json.loads(listing.read_text()))


def bare_modules() -> set[str]:
    """What a bare interpreter has loaded (site hooks add namespace packages such as google)."""
    out = subprocess.run(
        [sys.executable, "-c", "import sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out))


def heavy(modules: set[str]) -> list[str]:
    return sorted(
        m for m in modules - bare_modules() if any(m.startswith(f"{h}.") or m == h for h in HEAVY)
    )


def env_for(project: Path, lake: Path, warehouse: Path, state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SLUICE_PROJECT_DIR": str(project),
        "SLUICE_LAKE": str(lake),
        "SLUICE_DUCKDB": str(warehouse),
        "SLUICE_STATE": str(state),
        "SLUICE_TARGET": "dev",
        "COLUMNS": "80",
    }


def states(out: str) -> dict[tuple[str, str], tuple[str, int, str]]:
    return {(e["date"], e["layer"]): (e["state"], e["attempts"], e["why"]) for e in json.loads(out)}


def raw_rows_out(lake: Path, day: date) -> int:
    lake_day = truth(lake, day)["lake"]
    return int(lake_day["events"]["valid_lines"]) + sum(
        d["rows"] for d in lake_day["dumps"].values()
    )


def test_status_and_incidents_import_nothing_heavy_and_print_the_ledger_and_incidents(
    clean: Build, lake: Path, tmp_path: Path
) -> None:
    warehouse, state = copy_build(clean, tmp_path / "build")
    env = env_for(clean.settings.project_dir, lake, warehouse, state)
    store = StateStore(state)
    Ledger(store).accept(DAYS[1], "marts", "outage, confirmed")
    incidents = Incidents(store)
    gate = Problem(Kind.GATE_BLOCKED, Severity.CRITICAL, DAYS[2], "dwh", "dwh.fct_events.user_id")
    incidents.open(gate)
    incidents.open(gate)  # seen twice while open
    failed = Problem(Kind.STEP_FAILED, Severity.WARNING, DAYS[0], "raw", "landing", "OSError")
    incidents.open(failed)
    incidents.resolve(DAYS[0], "raw")
    warehouse_before = warehouse.stat().st_mtime_ns

    out, _, modules = sluice(["status", "--json"], env, tmp_path)
    assert heavy(modules) == []
    assert not any(m.startswith(("flows.pipeline", "flows.warehouse")) for m in modules)
    entries = json.loads(out)
    assert [(e["date"], e["layer"]) for e in entries] == [
        (day.isoformat(), step) for day in DAYS for step in STEPS
    ]
    for entry in entries:
        assert (entry["state"], entry["attempts"], entry["run_id"]) == (
            "succeeded",
            1,
            clean.run_id,
        )
    (accepted,) = [e["why"] for e in entries if e["why"]]
    assert re.fullmatch(r"accepted: outage, confirmed \(accepted \S+\)", accepted)
    assert [e["rows_out"] for e in entries if e["layer"] == "raw"] == [
        raw_rows_out(lake, day) for day in DAYS
    ]

    out, _, modules = sluice(["status"], env, tmp_path)
    assert heavy(modules) == []
    assert max(len(line) for line in out.splitlines()) <= 80
    rows = [m.groups() for line in out.splitlines() if (m := ROW.match(line))]
    assert rows == [
        (
            day.isoformat(),
            step,
            "succeeded",
            "1",
            f"{raw_rows_out(lake, day):,}" if step == "raw" else None,
        )
        for day in DAYS
        for step in STEPS
    ]
    assert "outage, confirmed" in out

    out, _, modules = sluice(["incidents", "--json"], env, tmp_path)
    assert heavy(modules) == []
    found = json.loads(out)
    assert [
        (i["status"], i["kind"], i["partition"], i["layer"], i["what"], i["count"]) for i in found
    ] == [
        ("resolved", "step_failed", DAYS[0].isoformat(), "raw", "landing", 1),
        ("open", "gate_blocked", DAYS[2].isoformat(), "dwh", "dwh.fct_events.user_id", 2),
    ]
    assert found == [i.model_dump(mode="json") for i in incidents.history()]

    out, _, modules = sluice(["incidents", "--open"], env, tmp_path)
    assert heavy(modules) == []
    lines = [line.split() for line in out.splitlines() if line.split()[:1] == ["critical"]]
    assert lines == [["critical", "gate_blocked", DAYS[2].isoformat(), "dwh", "2",
                      "dwh.fct_events.user_id"]]  # fmt: skip
    assert warehouse.stat().st_mtime_ns == warehouse_before


def test_a_ledger_row_from_the_manifest_digest_is_stale_because_the_format_changed(
    clean: Build, lake: Path, tmp_path: Path
) -> None:
    warehouse, state = copy_build(clean, tmp_path / "build")
    with closing(sqlite3.connect(state)) as con, con:
        con.execute(
            "update partition_attempts set code_version = '3f9a0c1d2b4e5f60' "
            "where dt = ? and layer = 'dwh'",
            (DAYS[3].isoformat(),),
        )
    env = env_for(clean.settings.project_dir, lake, warehouse, state)

    out, _, _ = sluice(["status", "--json"], env, tmp_path)

    expected: dict[tuple[str, str], tuple[str, int, str]] = {
        (day.isoformat(), step): ("succeeded", 1, "") for day in DAYS for step in STEPS
    }
    expected[DAYS[3].isoformat(), "dwh"] = (
        "stale",
        1,
        "the code version format changed (files1: a digest of the step's files) since it succeeded",
    )
    expected[DAYS[3].isoformat(), "marts"] = ("stale", 1, UPSTREAM)
    assert states(out) == expected


@pytest.mark.parametrize(
    ("model", "stale"),
    [("dwh/fct_events.sql", ("dwh", "marts")), ("marts/kpi/daily_kpis.sql", ("marts",))],
)
def test_editing_a_model_makes_its_step_and_the_later_ones_stale_in_status(
    clean: Build, lake: Path, tmp_path: Path, model: str, stale: tuple[str, ...]
) -> None:
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    sql = project / "models" / model
    sql.write_text(sql.read_text() + "\n")  # whitespace is a code change too
    warehouse, state = copy_build(clean, tmp_path / "build")
    env = env_for(project, lake, warehouse, state)

    out, _, modules = sluice(["status", "--json"], env, tmp_path)

    assert heavy(modules) == []
    expected: dict[tuple[str, str], tuple[str, int, str]] = {}
    for day in DAYS:
        for step in STEPS:
            why = "" if step not in stale else CODE_CHANGED if step == stale[0] else UPSTREAM
            expected[day.isoformat(), step] = ("stale" if why else "succeeded", 1, why)
    assert states(out) == expected
