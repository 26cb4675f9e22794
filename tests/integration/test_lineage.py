"""Column lineage of the real project, compiled by dbt: marts traced down to the lake fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.project.lineage import Lineage, Role
from flows.project.lineage_build import project_lineage
from flows.settings import PROJECT_DIR
from tests.support import copy_project


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> Lineage:
    return project_lineage(PROJECT_DIR, tmp_path_factory.mktemp("lineage"))


def _roles(lineage: Lineage, column: str) -> dict[str, Role]:
    return {lineage.name(r.ref): r.role for r in lineage.upstream(lineage.find(column))}


def test_every_model_column_is_traced(lineage: Lineage) -> None:
    assert len(lineage.models) == 22
    assert [m.name for m in lineage.models.values() if m.error] == []
    assert [
        f"{m.name}.{c.column}" for m in lineage.models.values() for c in m.columns if not c.complete
    ] == []


def test_the_ctr_of_daily_kpis_is_computed_from_the_event_type_of_the_events(
    lineage: Lineage,
) -> None:
    roles = _roles(lineage, "marts.daily_kpis.ctr")

    assert roles["dwh.fct_events.event_type"] is Role.VALUE
    assert roles["staging.stg_app__events.event_type"] is Role.VALUE
    assert roles["app.events.event_type"] is Role.VALUE  # the lake field, through the JSON path
    # Grouped by date and platform, deduplicated by event id: those only decide the rows.
    assert roles["dwh.fct_events.event_date"] is Role.FILTER
    assert roles["dwh.fct_events.platform"] is Role.FILTER
    assert roles["app.events.event_id"] is Role.FILTER
    assert "dwh.fct_events.user_id" not in roles


def test_active_users_is_computed_from_the_user_id_of_the_events(lineage: Lineage) -> None:
    roles = _roles(lineage, "marts.daily_kpis.active_users")

    assert roles["app.events.user_id"] is Role.VALUE
    assert roles["dwh.fct_events.user_id"] is Role.VALUE
    assert "app.events.event_type" not in roles


def test_a_dimension_reaches_the_dump_column_and_a_kpi_reaches_its_dashboard(
    lineage: Lineage,
) -> None:
    assert _roles(lineage, "dwh.dim_users.region")["app_db.users.region"] is Role.VALUE
    down = lineage.downstream(lineage.find("dwh.fct_events.event_type"))
    reached = {lineage.name(r.ref) for r in down}
    assert {"marts.daily_kpis.ctr", "marts.recommendation_performance.clicks"} <= reached
    models = {r.ref.node for r in down}
    exposures = {e.name for e in lineage.exposures_of(models)}
    assert {"daily_kpi_dashboard", "recommendation_quality_dashboard"} <= exposures


def test_sluice_lineage_prints_a_column_and_names_close_matches_of_an_unknown_one(
    tmp_path: Path,
) -> None:
    project = copy_project(tmp_path / "project")
    env = {**os.environ, "SLUICE_PROJECT_DIR": str(project)}
    sluice = [sys.executable, "-m", "flows"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*sluice, "lineage", *args], env=env, capture_output=True, text=True, check=False
        )

    shown = run("marts.daily_kpis.ctr")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("marts.daily_kpis.ctr is computed from")
    assert "  value  1  dwh.fct_events.event_type" in lines
    assert "lake fields (value): app.events.event_type" in lines
    assert (project / "target" / "lineage.json").exists()

    answer = json.loads(run("marts.daily_kpis.active_users", "--json").stdout)
    assert {"column": "dwh.fct_events.user_id", "role": "value"} in answer["direct"]

    down = json.loads(run("dwh.fct_events.platform", "--downstream", "--json").stdout)
    assert "daily_kpi_dashboard" in down["exposures"]

    unknown = run("marts.daily_kpis.click_rate")
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    (line,) = unknown.stderr.splitlines()
    assert line.startswith(
        "sluice: error: no column for 'marts.daily_kpis.click_rate' in the project's column "
        "lineage (expected <schema>.<model>.<column>, e.g. marts.daily_kpis.ctr); close matches: "
        "marts.daily_kpis."
    )
