"""One dbt parse per process: a second project object reuses the manifest until a file changes."""

from __future__ import annotations

from pathlib import Path

from flows.project.dbt_runner import DbtProject
from tests.support import copy_project, settings_at


def test_a_second_project_in_one_process_reuses_the_parse_until_a_model_changes(
    tmp_path: Path,
) -> None:
    project = copy_project(tmp_path / "project")
    settings = settings_at(project, tmp_path / "lake", tmp_path / "w.duckdb")
    first = DbtProject(settings).manifest
    assert DbtProject(settings).manifest is first

    model = project / "models" / "marts" / "kpi" / "daily_kpis.sql"
    model.write_text(model.read_text() + "\n-- an analytics engineer's edit\n")
    edited = DbtProject(settings).manifest
    assert edited is not first
    assert "-- an analytics engineer's edit" in edited.nodes["model.sluice.daily_kpis"].raw_code

    added = project / "models" / "marts" / "kpi" / "kpi_dates.sql"
    added.write_text("select distinct event_date from {{ ref('daily_kpis') }}\n")
    assert "model.sluice.kpi_dates" in DbtProject(settings).manifest.nodes
    # other parse variables are another parse, kept beside the first
    assert DbtProject(settings, {"lateness_days": "2"}).manifest is not edited
