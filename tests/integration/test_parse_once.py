"""One dbt parse while nothing it reads changes: a second project object reuses the manifest, and
a new process loads the saved one, until a file changes; a copy of the project elsewhere is the
same parse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.project import dbt_runner, parse_cache
from flows.project.dbt_runner import DbtProject
from tests.support import START, copy_project, settings_at


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


def test_a_new_process_on_another_warehouse_file_loads_the_saved_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt's partial parse starts over when the profile (the DuckDB path) changes; Sluice's saved
    parse does not, as long as the file's stem (dbt-duckdb's database name) is the same."""
    project = copy_project(tmp_path / "project")
    for folder in "abc":
        (tmp_path / folder).mkdir()
    DbtProject(settings_at(project, tmp_path / "lake", tmp_path / "a" / "warehouse.duckdb"))
    parsed: list[Path] = []
    real = dbt_runner._parse
    monkeypatch.setattr(dbt_runner, "_parse", lambda s, a: parsed.append(s.duckdb) or real(s, a))

    parse_cache._IN_PROCESS.clear()  # what a new process starts with
    other = settings_at(project, tmp_path / "lake", tmp_path / "b" / "warehouse.duckdb")
    loaded = DbtProject(other)
    assert parsed == []
    # the loaded manifest compiles (sources and refs resolve) against b's file
    sql = loaded.compile_layer("marts", START, START)["daily_kpis"]
    assert '"warehouse"."dwh_dev"."fct_events"' in sql
    sql = loaded.compile_layer("dwh", START, START)["stg_app_db__users"]
    assert '"warehouse"."raw"."users"' in sql
    assert (tmp_path / "b" / "warehouse.duckdb").exists()

    parse_cache._IN_PROCESS.clear()
    renamed = settings_at(project, tmp_path / "lake", tmp_path / "c" / "sales.duckdb")
    assert '"sales"' in DbtProject(renamed).compile_layer("marts", START, START)["daily_kpis"]
    model = project / "models" / "marts" / "kpi" / "daily_kpis.sql"
    model.write_text(model.read_text() + "\n-- an edit\n")
    parse_cache._IN_PROCESS.clear()
    assert "-- an edit" in DbtProject(other).manifest.nodes["model.sluice.daily_kpis"].raw_code
    assert parsed == [renamed.duckdb, other.duckdb]


def test_a_copy_of_the_project_in_another_folder_reuses_the_parse_with_its_own_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tests, a CI checkout in another folder or a project moved with its target/ hold the
    same files: the same parse, whose project files then name the folder they are in."""
    first = copy_project(tmp_path / "a" / "project")
    DbtProject(settings_at(first, tmp_path / "lake", tmp_path / "a" / "warehouse.duckdb"))
    parsed: list[Path] = []
    real = dbt_runner._parse
    monkeypatch.setattr(dbt_runner, "_parse", lambda s, a: parsed.append(s.duckdb) or real(s, a))

    def roots(project: DbtProject) -> set[str]:
        return {
            file.path.project_root
            for file in project.manifest.files.values()
            if file.path.project_root.startswith(str(tmp_path))
        }

    second = copy_project(tmp_path / "b" / "project")
    copied = DbtProject(settings_at(second, tmp_path / "lake", tmp_path / "b" / "warehouse.duckdb"))
    assert parsed == []
    assert roots(copied) == {str(second)}
    assert (
        '"warehouse"."dwh_dev"."fct_events"'
        in copied.compile_layer("marts", START, START)["daily_kpis"]
    )
    assert list((second / "target" / "compiled").rglob("daily_kpis.sql"))
    assert not (first / "target" / "compiled").exists()

    moved = tmp_path / "c" / "project"
    shutil.copytree(first, moved)  # with its target/sluice-parse
    parse_cache._IN_PROCESS.clear()  # a new process
    loaded = DbtProject(settings_at(moved, tmp_path / "lake", tmp_path / "c" / "warehouse.duckdb"))
    assert parsed == []
    assert roots(loaded) == {str(moved)}

    model = second / "models" / "marts" / "kpi" / "daily_kpis.sql"
    model.write_text(model.read_text() + "\n-- an edit in the copy only\n")
    edited = DbtProject(settings_at(second, tmp_path / "lake", tmp_path / "b" / "warehouse.duckdb"))
    assert parsed == [tmp_path / "b" / "warehouse.duckdb"]
    assert "-- an edit" in edited.manifest.nodes["model.sluice.daily_kpis"].raw_code
    assert "-- an edit" not in loaded.manifest.nodes["model.sluice.daily_kpis"].raw_code


def test_a_saved_parse_another_user_could_write_is_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_project(tmp_path / "project")
    settings = settings_at(project, tmp_path / "lake", tmp_path / "w.duckdb")
    first = DbtProject(settings).manifest
    [saved] = (project / "target" / "sluice-parse").glob("*.pickle")
    saved.chmod(0o666)
    parsed: list[Path] = []
    real = dbt_runner._parse
    monkeypatch.setattr(dbt_runner, "_parse", lambda s, a: parsed.append(s.duckdb) or real(s, a))
    parse_cache._IN_PROCESS.clear()
    assert DbtProject(settings).manifest is not first  # parsed again, then saved privately
    assert parsed == [settings.duckdb]
    assert saved.stat().st_mode & 0o777 == 0o600
