"""Lint configuration and the description-coverage check, on small fake manifests (fast)."""

from __future__ import annotations

import configparser
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from flows.settings import PROJECT_DIR
from tools.docs_check import Missing, main, missing_descriptions

MODEL_YAML = "sluice://models/marts/kpi/_kpi__models.yml"


def _manifest() -> dict[str, Any]:
    """A fully described manifest in target/manifest.json's shape, one resource of each kind."""
    return {
        "metadata": {"project_name": "sluice"},
        "nodes": {
            "model.sluice.daily_kpis": {
                "name": "daily_kpis",
                "resource_type": "model",
                "package_name": "sluice",
                "original_file_path": "models/marts/kpi/daily_kpis.sql",
                "patch_path": MODEL_YAML,
                "description": "Daily KPIs per platform.",
                "columns": {
                    "event_date": {"name": "event_date", "description": "UTC day."},
                    "clicks": {"name": "clicks", "description": "Number of clicks."},
                },
            },
            "snapshot.sluice.users_snapshot": {
                "name": "users_snapshot",
                "resource_type": "snapshot",
                "package_name": "sluice",
                "original_file_path": "snapshots/_snapshots.yml",
                "patch_path": "sluice://snapshots/_snapshots.yml",
                "description": "Users over time.",
                "columns": {},
            },
            "test.sluice.not_null_daily_kpis_clicks.1": {
                "name": "not_null_daily_kpis_clicks",
                "resource_type": "test",
                "package_name": "sluice",
                "original_file_path": "models/marts/kpi/_kpi__models.yml",
                "description": "",
                "columns": {},
            },
        },
        "sources": {
            "source.sluice.app.events": {
                "name": "events",
                "source_name": "app",
                "resource_type": "source",
                "package_name": "sluice",
                "original_file_path": "models/staging/app/_app__sources.yml",
                "patch_path": None,
                "source_description": "App events.",
                "description": "One row per event line.",
                "columns": {"dt": {"name": "dt", "description": "Lake partition."}},
            },
        },
        "macros": {
            "macro.sluice.in_window": {
                "name": "in_window",
                "package_name": "sluice",
                "original_file_path": "macros/in_window.sql",
                "patch_path": "sluice://macros/_macros.yml",
                "description": "Predicate for import CTEs.",
                "arguments": [{"name": "column", "description": "Date column."}],
            },
            "macro.dbt.run_query": {
                "name": "run_query",
                "package_name": "dbt",
                "original_file_path": "macros/etc/statement.sql",
                "patch_path": None,
                "description": "",
                "arguments": [],
            },
        },
        "exposures": {
            "exposure.sluice.daily_kpi_dashboard": {
                "name": "daily_kpi_dashboard",
                "package_name": "sluice",
                "original_file_path": "models/marts/kpi/_kpi__exposures.yml",
                "description": "The product team's dashboard.",
                "owner": {"name": "Product Analytics", "email": "pa@sluice.example"},
            },
        },
    }


def test_a_fully_described_manifest_has_nothing_missing() -> None:
    assert missing_descriptions(_manifest()) == []


def test_each_missing_description_is_listed_with_the_file_it_belongs_in() -> None:
    manifest = copy.deepcopy(_manifest())
    model = manifest["nodes"]["model.sluice.daily_kpis"]
    model["description"] = "  "
    model["columns"]["clicks"]["description"] = ""
    manifest["nodes"]["snapshot.sluice.users_snapshot"]["description"] = ""
    source = manifest["sources"]["source.sluice.app.events"]
    source["source_description"] = ""
    source["description"] = None
    source["columns"]["dt"]["description"] = ""
    macro = manifest["macros"]["macro.sluice.in_window"]
    macro["description"] = ""
    macro["arguments"][0]["description"] = ""
    exposure = manifest["exposures"]["exposure.sluice.daily_kpi_dashboard"]
    exposure["description"] = ""
    exposure["owner"] = {"name": "", "email": None}

    kpis, sources = "models/marts/kpi/_kpi__models.yml", "models/staging/app/_app__sources.yml"
    exposures = "models/marts/kpi/_kpi__exposures.yml"
    assert missing_descriptions(manifest) == [
        Missing(kpis, "model daily_kpis"),
        Missing(kpis, "model daily_kpis column clicks"),
        Missing("snapshots/_snapshots.yml", "snapshot users_snapshot"),
        Missing(sources, "source app"),
        Missing(sources, "source table app.events"),
        Missing(sources, "source table app.events column dt"),
        Missing("macros/_macros.yml", "macro in_window"),
        Missing("macros/_macros.yml", "macro in_window argument column"),
        Missing(exposures, "exposure daily_kpi_dashboard"),
        Missing(exposures, "exposure daily_kpi_dashboard owner"),
    ]
    assert str(Missing(kpis, "model daily_kpis")) == f"{kpis}: model daily_kpis has no description"


def test_a_model_without_yaml_points_at_its_sql_file() -> None:
    manifest = copy.deepcopy(_manifest())
    model = manifest["nodes"]["model.sluice.daily_kpis"]
    model.update(patch_path=None, description="", columns={})
    assert missing_descriptions(manifest) == [
        Missing("models/marts/kpi/daily_kpis.sql", "model daily_kpis (no YAML entry)")
    ]


def test_a_macro_without_yaml_is_missing_but_other_packages_and_tests_are_not_checked() -> None:
    manifest = copy.deepcopy(_manifest())
    manifest["macros"]["macro.sluice.in_window"].update(patch_path=None, description="")
    assert missing_descriptions(manifest) == [Missing("macros/in_window.sql", "macro in_window")]


def test_warehouse_columns_that_no_yaml_declares_are_missing() -> None:
    catalog = {
        "nodes": {
            "model.sluice.daily_kpis": {
                "columns": {"event_date": {}, "clicks": {}, "apply_rate": {}},
            }
        },
        "sources": {"source.sluice.app.events": {"columns": {"DT": {}, "payload": {}}}},
    }
    assert missing_descriptions(_manifest(), catalog) == [
        Missing(
            "models/marts/kpi/_kpi__models.yml",
            "model daily_kpis column apply_rate (in the warehouse, not in YAML)",
        ),
        Missing(
            "models/staging/app/_app__sources.yml",
            "source table app.events column payload (in the warehouse, not in YAML)",
        ),
    ]


def test_the_command_lists_each_missing_description_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = copy.deepcopy(_manifest())
    manifest["nodes"]["model.sluice.daily_kpis"]["columns"]["clicks"]["description"] = ""
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    assert main(["--manifest", str(path)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        "models/marts/kpi/_kpi__models.yml: model daily_kpis column clicks has no description"
    ]
    assert "1 descriptions missing" in out.err

    path.write_text(json.dumps(_manifest()))
    assert main(["--manifest", str(path)]) == 0
    assert (
        "every resource is described (1 models, 1 snapshots, 2 columns" in capsys.readouterr().out
    )


def test_a_missing_manifest_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--manifest", str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "nope.json does not exist: run `dbt parse` first" in err


def _sqlfluff(path: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(path)
    return config


def test_sqlfluff_is_configured_for_the_house_style() -> None:
    config = _sqlfluff(PROJECT_DIR / ".sqlfluff")
    core = config["sqlfluff"]
    assert (core["templater"], core["dialect"], core["rules"]) == ("dbt", "duckdb", "all")
    assert int(core["max_line_length"]) == 100
    assert dict(config["sqlfluff:templater:dbt"]) == {
        "project_dir": ".",
        "profiles_dir": ".",
        "profile": "sluice",
        "target": "dev",
    }
    for rule in ("keywords", "literals"):
        assert config[f"sqlfluff:rules:capitalisation.{rule}"]["capitalisation_policy"] == "lower"
    for rule in ("functions", "identifiers", "types"):
        section = config[f"sqlfluff:rules:capitalisation.{rule}"]
        assert section["extended_capitalisation_policy"] == "lower"
    assert config["sqlfluff:rules:aliasing.table"]["aliasing"] == "explicit"
    assert config["sqlfluff:rules:aliasing.column"]["aliasing"] == "explicit"
    assert config["sqlfluff:layout:type:comma"]["line_position"] == "trailing"
    assert config["sqlfluff:indentation"]["tab_space_size"] == "4"
    # select * is allowed in staging only: the rule is excluded there and nowhere else.
    assert "ambiguous.column_count" not in core.get("exclude_rules", "")
    staging = _sqlfluff(PROJECT_DIR / "models" / "staging" / ".sqlfluff")["sqlfluff"]
    assert "ambiguous.column_count" in staging["exclude_rules"]
    rendered = _sqlfluff(PROJECT_DIR / ".sqlfluff-rendered")["sqlfluff"]
    assert rendered["ignore_templated_areas"] == "False"
