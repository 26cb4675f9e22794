"""Orchestration on real dbt + DuckDB: models found from folders, ledger-driven retries,
staleness, the warehouse lock and `sluice status --json`, each on a temp copy of the project."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.cli.main import main
from flows.cli.tables import plan_time
from flows.errors import PartitionsFailed, one_line
from flows.pipeline.plan import PlannedDay, plan, plan_cost, step_states
from flows.pipeline.progress import duration, fit
from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import Workspace
from flows.settings import PROJECT_DIR, Settings
from flows.state.ledger import Ledger, Outcome, Status
from flows.state.locks import Holder, Locks
from flows.state.store import StateStore
from flows.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.support import (
    Build,
    add_model,
    copy_build,
    copy_project,
    lake_days,
    settings_at,
    sluice_process,
    table_checksums,
    truth,
)

pytestmark = pytest.mark.usefixtures("prefect_server")

DAYS = lake_days()
DAY2, DAY3 = DAYS[1], DAYS[2]
LAYERS = ("raw", "dwh", "marts")
STATUS_KEYS = {
    "date",
    "layer",
    "state",
    "attempts",
    "why",
    "run_id",
    "started_at",
    "finished_at",
    "seconds",
    "rows_in",
    "rows_out",
    "quarantined",
    "error_class",
    "error_message",
}
# A model dropped into models/dwh/: the folder makes it part of the dwh layer, no Python names it.
INJECTED_MODEL = """\
{{ config(materialized='table', contract={'enforced': false}) }}

select
    '{{ var("run_start") }}' as run_start,
    count(*) as n
from {{ ref('fct_events') }}
"""
# It fails whenever a run's lake days include DAY3: a batch of days fails, then Sluice runs the
# days one by one and only DAY3 fails.
FAILING_CLAUSE = f"""\
where case
    when date '{DAY3}' between cast('{{{{ var("run_start") }}}}' as date)
        and cast('{{{{ var("run_end") }}}}' as date)
        then error('injected failure for {DAY3}')
    else true
end
"""


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse))  # dbt may still hold it open in-process
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def states(ws: Workspace) -> dict[tuple[date, str], tuple[str, str]]:
    return {(s.dt, s.layer): (s.state, s.why) for s in step_states(ws, DAYS[0], DAYS[-1])}


def all_steps(state: str, why: str = "") -> dict[tuple[date, str], tuple[str, str]]:
    return {(day, layer): (state, why) for day in DAYS for layer in LAYERS}


def sluice_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the in-process `sluice` command at a test's files."""
    for name, value in {
        "SLUICE_PROJECT_DIR": settings.project_dir,
        "SLUICE_LAKE": settings.lake,
        "SLUICE_DUCKDB": settings.duckdb,
        "SLUICE_STATE": settings.state,
        "SLUICE_TARGET": "dev",
    }.items():
        monkeypatch.setenv(name, str(value))


# ---- a. a new model, a failed day, and a retry of that day only ----------------------------


def test_an_added_model_runs_and_only_its_failed_day_is_retried(
    clean: Build, lake: Path, tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    model = add_model(
        project / "models" / "dwh", "fct_injected", INJECTED_MODEL + FAILING_CLAUSE, "run_start"
    )
    warehouse = tmp_path / "warehouse.duckdb"
    settings = settings_at(project, lake, warehouse)
    ws = Workspace.open(settings)
    assert ws.project.steps == LAYERS
    assert "fct_injected" in ws.project.models_in("dwh")

    with pytest.raises(PartitionsFailed) as raised:
        run_partitions(ws, [(day, None) for day in DAYS])
    first = raised.value.report
    assert [(r.dt, r.succeeded) for r in first.runs] == [(day, day != DAY3) for day in DAYS]
    (failed,) = first.failed
    assert failed.error is not None
    assert failed.error.startswith(f"dwh: dbt layer dwh failed for partition {DAY3}: fct_injected")
    assert str(raised.value) == f"1 of 5 partitions failed: {DAY3} ({one_line(failed.error)})"
    assert one_line(failed.error).endswith(
        f"model fct_injected: Invalid Input Error: injected failure for {DAY3}"
    )

    latest = ws.ledger.latest()
    expected: dict[tuple[date, str], tuple[int, str, str | None]] = {
        (day, layer): (2 if layer == "dwh" else 1, Status.SUCCEEDED, None)
        for day in DAYS
        for layer in LAYERS
    }
    expected[DAY3, "dwh"] = (2, Status.FAILED, "StepFailed")
    del expected[DAY3, "marts"]  # never attempted after dwh failed
    assert {key: (a.attempt, a.status, a.error_class) for key, a in latest.items()} == expected
    assert {a.run_id for a in latest.values()} == {first.run_id}
    message = latest[DAY3, "dwh"].error_message or ""
    assert "fct_injected" in message
    assert f"injected failure for {DAY3}" in message
    # 5 landings, the 5-day dwh batch that failed, 5 dwh days one by one, 4 marts: no retries
    batch = [a for a in ws.ledger.attempts() if a.layer == "dwh" and a.attempt == 1]
    assert [(a.status, a.error_class) for a in batch] == [(Status.FAILED, "StepFailed")] * 5
    assert len(ws.ledger.attempts()) == 19
    # A table model is rebuilt by every run: the last successful dwh run was the last day's. The
    # failed day's landed events are held back from the later days' builds until it is retried.
    events = clean.checksums["dwh.fct_events"][0]
    ((held_back,),) = query(warehouse, "select count(*) from dwh.fct_events")
    assert 0 < held_back < events
    held = f"select count(*) from dwh.fct_events where landed_date = date '{DAY3}'"
    assert query(warehouse, held) == [(0,)]
    injected = "select run_start, n from dwh.fct_injected"
    assert query(warehouse, injected) == [(str(DAYS[-1]), held_back)]

    model.write_text(INJECTED_MODEL)
    ws = Workspace.open(settings)  # parses the repaired model
    planned = plan(ws, DAYS[0], DAYS[-1], only_failed=True)
    assert planned == [PlannedDay(DAY3, "dwh", "failed")]
    before = ws.ledger.attempts()
    second = run_partitions(ws, [(p.dt, p.from_layer) for p in planned])
    assert second.failed == []
    assert second.run_id != first.run_id

    after = ws.ledger.attempts()
    assert [a for a in after if a.run_id == first.run_id] == before
    added = [(a.dt, a.layer, a.attempt, a.status) for a in after if a.run_id == second.run_id]
    assert added == [(DAY3, "dwh", 3, Status.SUCCEEDED), (DAY3, "marts", 1, Status.SUCCEEDED)]
    retried = ws.ledger.latest()[DAY3, "dwh"]
    assert retried.code_version == ws.code_versions()["dwh"]
    assert retried.code_version != latest[DAY3, "dwh"].code_version

    assert query(warehouse, injected) == [(str(DAY3), events)]
    checksums = table_checksums(warehouse)
    assert checksums.pop("dwh.fct_injected")[0] == 1
    assert checksums == clean.checksums


# ---- b. stale steps --------------------------------------------------------------------------


def test_touching_a_lake_file_makes_its_day_stale_from_landing_on(
    clean: Build, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(clean.settings.lake, lake)  # keeps each file's mtime, so the same inputs
    warehouse, state = copy_build(clean, tmp_path / "build")
    ws = Workspace.open(settings_at(clean.settings.project_dir, lake, warehouse, state))
    assert states(ws) == all_steps("succeeded")

    part = lake / "events" / f"dt={DAY2}" / "part-00000.jsonl.gz"
    stat = part.stat()
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns + 3_600 * 10**9))

    expected = all_steps("succeeded")
    for layer in LAYERS:
        expected[DAY2, layer] = ("stale", "the lake partition changed since it succeeded")
    assert states(ws) == expected
    assert plan(ws, DAYS[0], DAYS[-1]) == [PlannedDay(DAY2, "raw", "stale")]
    assert plan(ws, DAYS[0], DAYS[-1], only_failed=True) == []


def test_editing_a_marts_model_makes_every_days_marts_stale(clean: Build, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    kpis = project / "models" / "marts" / "kpi" / "daily_kpis.sql"
    kpis.write_text(kpis.read_text() + "\n-- a comment is a code change too\n")
    warehouse, state = copy_build(clean, tmp_path / "build")
    ws = Workspace.open(settings_at(project, clean.settings.lake, warehouse, state))

    expected = all_steps("succeeded")
    for day in DAYS:
        expected[day, "marts"] = ("stale", "the code changed since it succeeded")
    assert states(ws) == expected
    assert plan(ws, DAYS[0], DAYS[-1]) == [PlannedDay(day, "marts", "stale") for day in DAYS]


def test_a_plan_costs_each_step_it_runs_at_the_time_the_ledger_fits(
    clean: Build, tmp_path: Path
) -> None:
    """The dry run's estimate: the stale marts of five days are one marts run of five days, at
    the time fitted to the marts step's successes in this warehouse's ledger; the steps it skips
    cost nothing."""
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    kpis = project / "models" / "marts" / "kpi" / "daily_kpis.sql"
    kpis.write_text(kpis.read_text() + "\n-- a comment is a code change too\n")
    warehouse, state = copy_build(clean, tmp_path / "build")
    ws = Workspace.open(settings_at(project, clean.settings.lake, warehouse, state))

    cost = plan_cost(ws, plan(ws, DAYS[0], DAYS[-1]))
    marts = fit(ws.ledger.recent_runs("marts"))
    assert marts is not None and marts.seconds(len(DAYS)) > 0
    assert cost.runs == {"raw": [], "dwh": [], "marts": [len(DAYS)]}
    assert cost.times["marts"] == marts
    assert cost.seconds == pytest.approx(marts.seconds(len(DAYS)))
    assert plan_time(cost) == (
        f"estimated time: ~{duration(marts.seconds(len(DAYS)))} (marts 1 run of {len(DAYS)} "
        "days ~" + duration(marts.seconds(len(DAYS))) + ": each step's recent successes in the "
        "ledger, a part per run plus a part per lake day)"
    )


# ---- c. one writer per DuckDB warehouse ------------------------------------------------------


@dataclass(frozen=True)
class RefusedRun:
    """`sluice run` started while another live run held the warehouse lock."""

    holder: Holder
    returncode: int
    stderr: str
    before: tuple[Any, ...]
    after: tuple[Any, ...]
    holder_after: Holder | None


def _warehouse_and_ledger(warehouse: Path, ws: Workspace) -> tuple[Any, ...]:
    wal = warehouse.with_suffix(".duckdb.wal")
    return (
        file_digest(warehouse),
        warehouse.stat().st_mtime_ns,
        wal.exists(),
        ws.ledger.attempts(),
    )


@pytest.fixture(scope="module")
def refused_run(clean: Build, tmp_path_factory: pytest.TempPathFactory) -> RefusedRun:
    folder = tmp_path_factory.mktemp("locked")
    warehouse, state = copy_build(clean, folder)
    settings = settings_at(clean.settings.project_dir, clean.settings.lake, warehouse, state)
    ws = Workspace.open(settings)
    assert ws.warehouse.lock_key is not None
    holder = Locks(StateStore(state), pid=os.getpid()).acquire(ws.warehouse.lock_key, "other-run-7")
    before = _warehouse_and_ledger(warehouse, ws)
    done = sluice_process(settings, folder, "run", "--date", DAYS[-1].isoformat())
    return RefusedRun(
        holder,
        done.returncode,
        done.stderr,
        before,
        _warehouse_and_ledger(warehouse, ws),
        ws.locks.holder(ws.warehouse.lock_key),
    )


def test_run_stops_with_one_line_naming_the_live_run_that_holds_the_warehouse(
    refused_run: RefusedRun,
) -> None:
    holder = refused_run.holder
    assert refused_run.returncode == 1, refused_run.stderr
    lines = refused_run.stderr.splitlines()
    errors = [line for line in lines if line.startswith("sluice: error:")]
    assert errors == [f"sluice: error: {holder.describe()}"]
    for detail in (holder.key, "run other-run-7", f"pid {os.getpid()}", f"on {holder.host}"):
        assert detail in errors[0]
    assert holder.key.startswith("warehouse:")
    assert lines[-1] == errors[0]


def test_a_refused_run_leaves_the_warehouse_the_ledger_and_the_lock_alone(
    refused_run: RefusedRun,
) -> None:
    assert refused_run.after == refused_run.before
    assert refused_run.before[2] is False  # no write-ahead log either
    assert refused_run.holder_after == refused_run.holder


def test_a_refused_run_prints_no_traceback(refused_run: RefusedRun) -> None:
    assert "Traceback" not in refused_run.stderr, refused_run.stderr


def test_backfill_refuses_parallel_partitions_on_duckdb_before_running_anything(
    lake: Path, tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_at(PROJECT_DIR, lake, tmp_path / "warehouse.duckdb")
    sluice_env(clean_env, settings)
    argv = ["backfill", "--start", str(DAYS[0]), "--end", str(DAYS[-1]), "--max-concurrency", "2"]

    assert main(argv) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("sluice: error: --max-concurrency")
    assert err.count("\n") == 1
    assert "DuckDB" in err
    assert not settings.duckdb.exists()
    assert not settings.state.exists()


# ---- d. status --json ------------------------------------------------------------------------


def test_status_json_has_every_step_of_every_day_with_its_latest_attempt(
    clean: Build,
    lake: Path,
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    warehouse, state = copy_build(clean, tmp_path / "build")
    sluice_env(clean_env, settings_at(clean.settings.project_dir, lake, warehouse, state))

    assert main(["status", "--json"]) == 0

    entries = json.loads(capsys.readouterr().out)
    assert [(e["date"], e["layer"]) for e in entries] == [
        (day.isoformat(), layer) for day in DAYS for layer in LAYERS
    ]
    for entry in entries:
        assert set(entry) == STATUS_KEYS
        assert (entry["state"], entry["attempts"], entry["why"]) == ("succeeded", 1, "")
        assert entry["run_id"] == clean.run_id
        assert (entry["error_class"], entry["error_message"]) == (None, None)
        ran = datetime.fromisoformat(entry["finished_at"]) - datetime.fromisoformat(
            entry["started_at"]
        )
        assert entry["seconds"] == round(ran.total_seconds(), 3)
    for day in DAYS:
        lake_day = truth(lake, day)["lake"]
        events = lake_day["events"]
        dump_rows = sum(d["rows"] for d in lake_day["dumps"].values())
        quarantined = sum(events["quarantined"].values())
        assert quarantined > 0
        by_layer = {e["layer"]: e for e in entries if e["date"] == day.isoformat()}
        raw = by_layer["raw"]
        assert (raw["rows_in"], raw["rows_out"], raw["quarantined"]) == (
            events["lines"] + dump_rows,
            events["valid_lines"] + dump_rows,
            quarantined,
        )
        for layer in ("dwh", "marts"):
            counts = (by_layer[layer][k] for k in ("rows_in", "rows_out", "quarantined"))
            assert tuple(counts) == (None, None, None)


# ---- e. progress -----------------------------------------------------------------------------

# after the logger's prefix: `INFO:prefect.flow_runs:` here, `... | Flow run 'x' - ` on a worker
PROGRESS = re.compile(r"\bprogress (\d+)/(\d+) (\S+) (\S+) (\w+) [\d.hms]+ · left (\S+)$")


def test_a_backfill_off_the_terminal_logs_one_progress_line_per_finished_step(
    snapshot: Path, lake: Path, tmp_path: Path
) -> None:
    settings = settings_at(snapshot, lake, tmp_path / "warehouse.duckdb")
    first, last = DAYS[0], DAYS[2]

    done = sluice_process(settings, tmp_path, "backfill", "--start", str(first), "--end", str(last))

    assert done.returncode == 0, done.stderr[-3000:]
    shown = [m.groups() for m in map(PROGRESS.search, done.stderr.splitlines()) if m]
    batch = f"{first}..{last}"
    assert [step[:5] for step in shown] == [
        ("1", "9", "raw", str(first), "ok"),
        ("2", "9", "raw", str(DAYS[1]), "ok"),
        ("3", "9", "raw", str(last), "ok"),
        ("6", "9", "dwh", batch, "ok"),
        ("9", "9", "marts", batch, "ok"),
    ], done.stderr[-3000:]
    assert len(re.findall(r"\bprogress \d", done.stderr)) == len(shown)
    assert shown[-1][5] == "0s"
    # no history: the estimate is this run's own times from its first step on
    assert all(left.startswith("~") for *_, left in shown[:-1])
    attempts = Workspace.open(settings).ledger.attempts()
    assert sorted((a.layer, a.status) for a in attempts) == sorted(
        (layer, Status.SUCCEEDED) for layer in LAYERS for _ in range(3)
    )


class _TakingTurns(DuckDBWarehouse):
    """A DuckDB file with BigQuery's rule for runs that overlap: landing goes on, the dbt steps
    take turns (build_lock_key). BigQuery itself cannot run here."""

    build_lock_key = "build:taking-turns"


def test_where_runs_overlap_landing_goes_on_and_the_dbt_steps_wait_their_turn(
    clean: Build,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    warehouse, state = copy_build(clean, tmp_path)
    settings = settings_at(clean.settings.project_dir, clean.settings.lake, warehouse, state)
    monkeypatch.setattr("flows.pipeline.workspace.warehouse_for", lambda s: _TakingTurns(s.duckdb))
    ws = Workspace.open(settings)
    key = _TakingTurns.build_lock_key
    other = Locks(StateStore(state), host="another-host")  # a live run elsewhere builds
    other.acquire(key, "other-run")
    day = DAYS[-1]
    caplog.set_level(logging.INFO)
    seen: dict[str, Any] = {}
    ended = threading.Event()

    def release_once_the_run_waits() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not ended.is_set():
            if any(f"waiting: {key} is held by run other-run" in r.message for r in caplog.records):
                latest = Ledger(StateStore(state)).latest(day, day)
                seen["steps"] = {layer: a.status for (_, layer), a in latest.items()}
                seen["runs"] = {layer: a.run_id for (_, layer), a in latest.items()}
                break
            time.sleep(0.05)
        other.release(key, "other-run")

    releaser = threading.Thread(target=release_once_the_run_waits)
    releaser.start()
    try:
        report = run_partitions(ws, [(day, None)])
    finally:
        ended.set()
        releaser.join()

    assert seen, "the run never waited for the other run's turn"
    # landing did not wait; the DWH step had started and waited; marts were not reached
    assert seen["steps"]["raw"] == Status.SUCCEEDED
    assert seen["steps"]["dwh"] == Status.RUNNING
    assert seen["runs"]["raw"] == seen["runs"]["dwh"] == report.run_id
    assert seen["runs"]["marts"] != report.run_id
    assert [(r.dt, r.error) for r in report.runs] == [(day, None)]
    assert [a.layer for a in report.runs[0].attempts] == list(LAYERS)
    assert ws.locks.holder(key) is None  # its turn ended with the step
    assert table_checksums(warehouse) == clean.checksums


def test_where_runs_overlap_the_dbt_turn_goes_in_lake_day_order(
    clean: Build,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A run whose earlier lake day another live run still has to build waits for it, step
    by step (a dimension rebuilt from every change row must not miss the earlier days); a
    later day held elsewhere does not hold it up."""
    warehouse, state = copy_build(clean, tmp_path)
    settings = settings_at(clean.settings.project_dir, clean.settings.lake, warehouse, state)
    monkeypatch.setattr("flows.pipeline.workspace.warehouse_for", lambda s: _TakingTurns(s.duckdb))
    ws = Workspace.open(settings)
    earlier, day = DAYS[-2], DAYS[-1]
    other = Locks(StateStore(state), host="another-host")  # live runs elsewhere
    other.acquire(f"partition:{earlier}", "earlier-run")  # planned, not built yet
    other.acquire(f"partition:{date.fromordinal(day.toordinal() + 1)}", "later-run")
    caplog.set_level(logging.INFO)
    seen: list[dict[str, Status]] = []
    ended = threading.Event()

    def waits_for(layer: str) -> bool:
        deadline = time.monotonic() + 300
        said = f"waiting: run earlier-run has still to build {layer} for {earlier}"
        while time.monotonic() < deadline and not ended.is_set():
            if any(said in r.message for r in caplog.records):
                latest = Ledger(StateStore(state)).latest(day, day)
                seen.append(
                    {lay: a.status for (_, lay), a in latest.items() if a.run_id != clean.run_id}
                )
                return True
            time.sleep(0.05)
        return False

    def the_earlier_run_builds() -> None:
        ledger = Ledger(StateStore(state))
        if waits_for("dwh"):
            built = ledger.start(
                earlier, "dwh", "earlier-run", code_version="x", input_fingerprint="y"
            )
            ledger.finish(built, Outcome(Status.SUCCEEDED, details={"published": []}))
            waits_for("marts")
        other.release(f"partition:{earlier}", "earlier-run")  # the earlier run ends

    builder = threading.Thread(target=the_earlier_run_builds)
    builder.start()
    try:
        report = run_partitions(ws, [(day, None)])
    finally:
        ended.set()
        builder.join()

    # landing did not wait; the DWH step waited for the earlier day's, then marts for its marts
    assert seen == [
        {"raw": Status.SUCCEEDED, "dwh": Status.RUNNING},
        {"raw": Status.SUCCEEDED, "dwh": Status.SUCCEEDED, "marts": Status.RUNNING},
    ]
    assert [(r.dt, r.error) for r in report.runs] == [(day, None)]
    assert [a.layer for a in report.runs[0].attempts] == list(LAYERS)
    assert table_checksums(warehouse) == clean.checksums
