"""Crash anywhere, re-run, same warehouse: the soak shared by the test_crash_safety* modules.

A baseline (a generated lake, the clean run's census of kill points and its table checksums) is
built once per test session; the seeded schedule of SLUICE_KILLS kills is dealt round-robin into
CHUNKS chunks, one per test module, so `pytest --dist loadfile` can run them on different
workers. Each chunk SIGKILLs the real CLI at its kill points one after the other in a warehouse
of its own (each kill lands in a re-run after the previous one), recovers, and must end with the
clean run's tables. Default: SLUICE_KILLS=4 on a one-day lake (two kills a chunk); `make soak`
sets SLUICE_KILLS=20 and SLUICE_SOAK_DAYS=2 (batched dbt layers) and prints each chunk's tally.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flows.pipeline.plan import plan, step_states
from flows.pipeline.workspace import Workspace
from flows.state.ledger import Status
from flows.state.store import StateStore
from tests.faults import Kill, Outcome, run_cli, schedule
from tests.support import START, copy_project, settings_at, table_checksums

KILLS = int(os.environ.get("SLUICE_KILLS", "4"))
DAYS = int(os.environ.get("SLUICE_SOAK_DAYS", "1"))
SEED = int(os.environ.get("SLUICE_KILL_SEED", "20261125"))
EVENTS = 300
CHUNKS = 2  # one per test_crash_safety* module


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


@dataclass(frozen=True)
class Baseline:
    """The soak's lake and what a clean run over it reaches and builds (read-only for tests)."""

    lake: Path
    census: dict[str, int]
    checksums: dict[str, tuple[int, int]]

    @property
    def last(self) -> date:
        return START + timedelta(days=DAYS - 1)

    @property
    def argv(self) -> list[str]:
        return ["backfill", "--start", str(START), "--end", str(self.last), "--force"]


def baseline(folder: Path, api: str) -> Baseline:
    """The baseline in folder, built there by the first caller (other xdist workers wait for it)."""
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec

    folder.mkdir(parents=True, exist_ok=True)
    done = folder / "baseline.json"
    with (folder / "baseline.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            lake = folder / "lake"
            generate_lake(lake, LakeSpec(start=START, days=DAYS, events_per_day=EVENTS, seed=11))
            base = Baseline(lake, {}, {})
            # The clean run counts how often it reaches each kill point.
            clean = workdir(folder / "clean", lake, api)
            census_file = folder / "census.json"
            ok(run_cli(base.argv, clean, census=census_file))
            checksums = table_checksums(Path(clean["SLUICE_DUCKDB"]))
            done.write_text(
                json.dumps(
                    {
                        "lake": str(lake),
                        "census": json.loads(census_file.read_text()),
                        "checksums": checksums,
                    }
                )
            )
    saved = json.loads(done.read_text())
    checksums = {name: (int(n), int(h)) for name, (n, h) in saved["checksums"].items()}
    assert checksums["raw.events"][0] > 0 and checksums["marts.daily_kpis"][0] > 0
    return Baseline(Path(saved["lake"]), saved["census"], checksums)


def workdir(base: Path, lake: Path, api: str) -> dict[str, str]:
    """The environment of CLI runs on a project copy and a warehouse of their own in base."""
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


def ok(outcome: Outcome) -> Outcome:
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


def chunk(kills: list[Kill], index: int) -> list[Kill]:
    """The kills of one chunk: every CHUNKS-th of the schedule from index (each is in one)."""
    return kills[index::CHUNKS]


def soak(base: Baseline, index: int, folder: Path, api: str) -> None:
    """Run chunk index of the schedule in a fresh warehouse, recover, compare with the clean run."""
    began = time.perf_counter()
    last = base.last
    crashed = workdir(folder, base.lake, api)
    tally = Tally(scheduled=chunk(schedule(SEED, KILLS, base.census), index))
    ws: Workspace | None = None
    for kill in tally.scheduled:
        outcome = run_cli(base.argv, crashed, kill=kill)
        if outcome.killed:
            tally.survived.append(kill)
            ws = ws or Workspace.open(_settings(crashed))
            # the killed process is gone: nothing it held may still look like it is running
            running = [s for s in step_states(ws, START, last) if s.state == Status.RUNNING]
            assert running == [], (kill, running)
        else:  # a run that re-did less than the census run may not reach its n-th point
            ok(outcome)
            tally.not_reached.append(kill)

    # Recovery: retry re-runs the failed (abandoned) steps; backfill picks up days never run.
    ok(run_cli(["retry"], crashed))
    ws = Workspace.open(_settings(crashed))
    if plan(ws, START, last):
        ok(run_cli(["backfill", "--start", str(START), "--end", str(last)], crashed))

    expected = base.checksums
    got = table_checksums(Path(crashed["SLUICE_DUCKDB"]))
    tally.mismatches = sorted(
        name for name in expected.keys() | got.keys() if expected.get(name) != got.get(name)
    )
    print(
        f"\ncrash soak, chunk {index + 1} of {CHUNKS}: {tally.line()} over {DAYS} day(s) in "
        f"{time.perf_counter() - began:.0f} s; kills: "
        + ", ".join(f"{k.point}#{k.n}" for k in tally.survived)
    )
    print(f"census of kill points in a clean run: {base.census}")
    assert tally.scheduled, "no kill in this chunk: SLUICE_KILLS is below the number of chunks"
    assert tally.mismatches == [], tally.mismatches
    assert len(tally.survived) >= max(1, len(tally.scheduled) * 2 // 3), tally.line()
    _ledger_consistent(Path(crashed["SLUICE_STATE"]))
