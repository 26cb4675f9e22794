"""`make pr-check` selects exactly what a change touches, and builds only that on the sample lake.

Each test copies the dbt project into a fresh git repository (branch main, one commit), changes
it like a pull request would (uncommitted), and compares with main.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from flows.settings import PROJECT_DIR
from tools.pr_check import Layout, build_state, run_check, selected

COPIED = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests/dbt")
KPIS = "models/marts/kpi/daily_kpis.sql"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@sluice.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture()
def repo(tmp_path: Path) -> Iterator[Path]:
    """The dbt project committed on main in a new repository; the process env is restored."""
    saved = dict(os.environ)
    root = tmp_path / "repo"
    for name in COPIED:
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    yield root
    os.environ.clear()
    os.environ.update(saved)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _tests_of(layout: Layout, model: str) -> set[str]:
    """Data and unit tests attached to a model, from the base manifest."""
    manifest = json.loads((layout.state / "manifest.json").read_text())
    data_tests = {
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "test" and node.get("attached_node") == model
    }
    unit_tests = {uid for uid, test in manifest["unit_tests"].items() if test["model"] in model}
    return data_tests | unit_tests


def test_only_the_changed_model_its_tests_and_its_exposure_are_selected(repo: Path) -> None:
    layout = Layout(repo)
    build_state(layout, "main")
    assert selected(layout) == []  # nothing changed yet

    # A pull request changes one literal of one mart (what it computes, not its columns).
    _edit(repo / KPIS, "when event_type = 'apply' then 1", "when event_type = 'apply' then 1.0")

    kpis = "model.sluice.daily_kpis"
    tests = _tests_of(layout, kpis)
    assert any(uid.startswith("test.sluice.not_null_daily_kpis_event_date.") for uid in tests)
    assert selected(layout) == sorted({kpis, "exposure.sluice.daily_kpi_dashboard", *tests})


def test_a_changed_macro_selects_every_model_that_calls_it_and_their_children(
    repo: Path,
) -> None:
    layout = Layout(repo)
    build_state(layout, "main")
    _edit(repo / "macros/ratio.sql", "round(1.0 *", "round(1.00 *")

    chosen = selected(layout)

    assert [uid for uid in chosen if not uid.startswith("test.")] == [
        "exposure.sluice.daily_kpi_dashboard",
        "exposure.sluice.recommendation_quality_dashboard",
        "model.sluice.daily_kpis",
        "model.sluice.recommendation_performance",
    ]
    expected_tests = _tests_of(layout, "model.sluice.daily_kpis") | _tests_of(
        layout, "model.sluice.recommendation_performance"
    )
    assert {uid for uid in chosen if uid.startswith("test.")} == expected_tests


def test_pr_check_builds_and_tests_only_what_changed_on_the_sample_lake(repo: Path) -> None:
    _edit(repo / KPIS, "when event_type = 'apply' then 1", "when event_type = 'apply' then 1.0")
    layout = Layout(repo)

    built = run_check(layout, "main")

    assert "model.sluice.daily_kpis" in built
    assert not [uid for uid in built if uid.startswith("model.") and "daily_kpis" not in uid]
    con = duckdb.connect(str(layout.warehouse), read_only=True)
    try:
        tables = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
                " where table_schema in ('staging', 'dwh', 'marts')"
            ).fetchall()
        }
        kpi_days = con.execute("select count(distinct event_date) from marts.daily_kpis").fetchone()
    finally:
        con.close()
    # The mart and just the parents it reads; no other mart, no unrelated DWH model.
    assert tables == {"staging.stg_app__events", "dwh.fct_events", "marts.daily_kpis"}
    assert kpi_days is not None and kpi_days[0] >= 3  # the sample lake's days (and late ones)
