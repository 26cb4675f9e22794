"""`sluice status` and `sluice incidents` on small real state stores: no store, no card yet, a
bucket lake (not listed), a changed folder lake, a live run (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from flows.cli.main import main
from flows.lake.folder import FolderLake
from flows.lake.layout import fingerprint
from flows.project.code import ProjectCard, StepFiles, code_versions
from flows.project.lake_tables import FieldRule, LakeTable
from flows.state.cards import save_card
from flows.state.ledger import Ledger, Outcome, Status
from flows.state.location import DatabaseUrl, StateLocation
from flows.state.locks import Locks
from flows.state.store import StateStore

DAY = date(2026, 11, 3)
EVENTS = LakeTable("events", "app", "events", "jsonl", (FieldRule("event_id", "string", ()),))
CARD = ProjectCard(
    (StepFiles("raw", ("dbt_project.yml",)), StepFiles("dwh", ("models/dwh",))), (EVENTS,)
)


@pytest.fixture()
def place(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Path:
    """A project, a one-day folder lake, and a state store path (not created)."""
    (tmp_path / "project" / "models" / "dwh").mkdir(parents=True)
    (tmp_path / "project" / "dbt_project.yml").write_text("name: probe\n")
    (tmp_path / "project" / "models" / "dwh" / "fct.sql").write_text("select 1 as x\n")
    day = tmp_path / "lake" / "events" / f"dt={DAY}"
    day.mkdir(parents=True)
    (day / "part-00000.jsonl").write_text('{"event_id": "e1"}\n')
    (day / "_SUCCESS").write_text("")
    for name, value in {
        "SLUICE_PROJECT_DIR": tmp_path / "project",
        "SLUICE_LAKE": tmp_path / "lake",
        "SLUICE_DUCKDB": tmp_path / "warehouse.duckdb",
        "SLUICE_STATE": tmp_path / "state.sqlite",
    }.items():
        clean_env.setenv(name, str(value))
    return tmp_path


def ran(store: StateStore, root: Path, *, finish: bool = True) -> None:
    """Record both steps of DAY as a run of the current code and lake would."""
    ledger = Ledger(store)
    codes = code_versions(root / "project", CARD)
    inputs = fingerprint(FolderLake(root / "lake"), CARD.lake_tables, DAY)
    for step in CARD.step_names:
        attempt = ledger.start(
            DAY, step, "run-1", code_version=codes[step], input_fingerprint=inputs
        )
        if finish:
            ledger.finish(attempt, Outcome(Status.SUCCEEDED, rows_out=7))


def store_at(where: StateLocation, env: pytest.MonkeyPatch) -> StateStore:
    """The state store the commands read: SLUICE_STATE names it (a file, or a database)."""
    env.setenv("SLUICE_STATE", where.url if isinstance(where, DatabaseUrl) else str(where))
    return StateStore(where)


def status(capsys: pytest.CaptureFixture[str]) -> dict[str, tuple[str, str]]:
    assert main(["status", "--json"]) == 0
    return {e["layer"]: (e["state"], e["why"]) for e in json.loads(capsys.readouterr().out)}


def test_without_a_state_store_nothing_has_run_and_no_store_is_created(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 0
    assert main(["incidents"]) == 0
    assert main(["status", "--json"]) == 0
    assert capsys.readouterr().out == "no partition has run yet\nno incident yet\n[]\n"
    assert not (place / "state.sqlite").exists()


def test_a_ledger_without_a_project_card_says_what_writes_it(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran(StateStore(place / "state.sqlite"), place)
    assert main(["status"]) == 0
    assert capsys.readouterr().out == (
        f"no partition has run yet that status can show: the state store {place / 'state.sqlite'}"
        " holds no project card (the steps and their files) yet; the next run or `sluice "
        "backfill --dry-run` writes it\n"
    )


def test_a_changed_lake_day_makes_every_step_of_the_day_stale(
    place: Path,
    state_location: StateLocation,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = store_at(state_location, clean_env)
    save_card(store, CARD, "2026-11-04T00:00:00+00:00")
    ran(store, place)
    assert status(capsys) == {"raw": ("succeeded", ""), "dwh": ("succeeded", "")}
    (place / "lake" / "events" / f"dt={DAY}" / "part-00001.jsonl").write_text("{}\n")
    assert status(capsys) == {
        "raw": ("stale", "the lake partition changed since it succeeded"),
        "dwh": ("stale", "the lake partition changed since it succeeded"),
    }


def test_a_bucket_lake_is_not_listed_and_status_says_so(
    place: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = StateStore(place / "state.sqlite")
    save_card(store, CARD, "2026-11-04T00:00:00+00:00")
    ran(store, place)
    (place / "lake" / "events" / f"dt={DAY}" / "part-00001.jsonl").write_text("{}\n")
    clean_env.setenv("SLUICE_LAKE", "gs://sluice-lake/prod")
    assert main(["status"]) == 0
    out, err = capsys.readouterr()
    assert "succeeded" in out and "stale" not in out
    assert err == (
        "lake gs://sluice-lake/prod is a bucket: status does not list it, so a re-delivered lake "
        "day is not shown stale here (`sluice backfill --dry-run` compares it)\n"
    )


def test_a_step_of_a_live_run_is_running_and_of_a_gone_one_failed(
    place: Path,
    state_location: StateLocation,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = store_at(state_location, clean_env)
    save_card(store, CARD, "2026-11-04T00:00:00+00:00")
    ran(store, place, finish=False)
    gone = "abandoned: run run-1 ended before the step finished"
    assert status(capsys) == {"raw": ("failed", gone), "dwh": ("failed", gone)}
    Locks(store).acquire(f"partition:{DAY}", "run-1")  # this process: alive
    assert status(capsys) == {"raw": ("running", "run run-1"), "dwh": ("running", "run run-1")}
