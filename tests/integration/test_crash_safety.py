"""Crash anywhere, re-run, same warehouse: SIGKILL the real CLI at seeded points, then recover.

Default: SLUICE_KILLS=2 kills on a one-day lake. `make soak` sets SLUICE_KILLS=20 and
SLUICE_SOAK_DAYS=2 (batched dbt layers) and prints the tally.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.pipeline.plan import plan, step_states
from flows.pipeline.workspace import Workspace
from flows.state.ledger import Status
from flows.state.store import StateStore
from tests.faults import Kill, Outcome, run_cli, schedule
from tests.support import copy_project, settings_at, table_checksums

KILLS = int(os.environ.get("SLUICE_KILLS", "2"))
DAYS = int(os.environ.get("SLUICE_SOAK_DAYS", "1"))
SEED = int(os.environ.get("SLUICE_KILL_SEED", "20261125"))
EVENTS = 300


@dataclass
class Tally:
    """What the soak saw."""

    scheduled: list[Kill] = field(default_factory=list)
    survived: list[Kill] = field(default_factory=list)
    not_reached: list[Kill] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"kills scheduled {len(self.scheduled)}, survived {len(self.survived)}, "
            f"not reached {len(self.not_reached)}, table mismatches {len(self.mismatches)}"
        )


@pytest.fixture(scope="module")
def api_url(prefect_server: None) -> Iterator[str]:
    """The session's Prefect API, handed to every CLI subprocess (no temporary server each)."""
    from prefect.settings import PREFECT_API_URL

    yield str(PREFECT_API_URL.value())


def _workdir(base: Path, lake: Path, api: str) -> dict[str, str]:
    project = copy_project(base / "project")
    env = dict(os.environ)
    env.update(
        SLUICE_PROJECT_DIR=str(project),
        SLUICE_LAKE=str(lake),
        SLUICE_DUCKDB=str(base / "warehouse.duckdb"),
        SLUICE_STATE=str(base / "state.sqlite"),
        SLUICE_TARGET="dev",
        PREFECT_API_URL=api,
        PREFECT_HOME=str(base / "prefect"),
    )
    return env


def _settings(env: dict[str, str]) -> Any:
    return settings_at(
        Path(env["SLUICE_PROJECT_DIR"]),
        Path(env["SLUICE_LAKE"]),
        Path(env["SLUICE_DUCKDB"]),
        Path(env["SLUICE_STATE"]),
    )


def _ok(outcome: Outcome) -> Outcome:
    assert outcome.returncode == 0, (outcome.argv, outcome.stderr[-3000:])
    return outcome


def _ledger_consistent(state: Path) -> None:
    """Nothing left running, every step's latest attempt succeeded, no lock left behind."""
    store = StateStore(state)
    assert (
        store.read("select * from partition_attempts where status = :r", {"r": Status.RUNNING})
        == []
    )
    latest = store.read(
        """select dt, layer, status from partition_attempts a
        where attempt = (select max(attempt) from partition_attempts b
                         where b.dt = a.dt and b.layer = a.layer)"""
    )
    assert latest and {row["status"] for row in latest} == {Status.SUCCEEDED}, [
        dict(r) for r in latest
    ]
    assert store.read("select * from partition_locks") == []


def test_sigkill_anywhere_then_rerun_gives_the_clean_warehouse(
    api_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec
    from tests.support import START

    began = time.perf_counter()
    lake = tmp_path_factory.mktemp("crash-lake")
    generate_lake(lake, LakeSpec(start=START, days=DAYS, events_per_day=EVENTS, seed=11))
    last = START + timedelta(days=DAYS - 1)
    argv = ["backfill", "--start", str(START), "--end", str(last), "--force"]

    # The clean run counts how often it reaches each kill point.
    clean = _workdir(tmp_path_factory.mktemp("crash-clean"), lake, api_url)
    census_file = tmp_path_factory.mktemp("census") / "census.json"
    _ok(run_cli(argv, clean, census=census_file))
    census = json.loads(census_file.read_text())
    expected = table_checksums(Path(clean["SLUICE_DUCKDB"]))
    assert expected["raw.events"][0] > 0 and expected["marts.daily_kpis"][0] > 0

    crashed = _workdir(tmp_path_factory.mktemp("crash-killed"), lake, api_url)
    tally = Tally(scheduled=schedule(SEED, KILLS, census))
    ws: Workspace | None = None
    for kill in tally.scheduled:
        outcome = run_cli(argv, crashed, kill=kill)
        if outcome.killed:
            tally.survived.append(kill)
            ws = ws or Workspace.open(_settings(crashed))
            # the killed process is gone: nothing it held may still look like it is running
            running = [s for s in step_states(ws, START, last) if s.state == Status.RUNNING]
            assert running == [], (kill, running)
        else:  # a run that re-did less than the census run may not reach its n-th point
            _ok(outcome)
            tally.not_reached.append(kill)

    # Recovery: retry re-runs the failed (abandoned) steps; backfill picks up days never run.
    _ok(run_cli(["retry"], crashed))
    ws = Workspace.open(_settings(crashed))
    if plan(ws, START, last):
        _ok(run_cli(["backfill", "--start", str(START), "--end", str(last)], crashed))

    got = table_checksums(Path(crashed["SLUICE_DUCKDB"]))
    tally.mismatches = sorted(
        name for name in expected.keys() | got.keys() if expected.get(name) != got.get(name)
    )
    print(
        f"\ncrash soak: {tally.line()} over {DAYS} day(s) in "
        f"{time.perf_counter() - began:.0f} s; kills: "
        + ", ".join(f"{k.point}#{k.n}" for k in tally.survived)
    )
    print(f"census of kill points in a clean run: {census}")
    assert tally.mismatches == [], tally.mismatches
    assert len(tally.survived) >= max(1, KILLS * 2 // 3), tally.line()
    _ledger_consistent(Path(crashed["SLUICE_STATE"]))
