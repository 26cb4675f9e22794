"""The Python window helper agrees with macros/window_bounds.sql and window_floor.sql for every
model of the project."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from flows.project.dbt_runner import DbtProject
from flows.project.manifest import build_project
from tests.support import settings_for

# dbt renders window_bounds() and window_floor() of every model's meta.window, as the replace
# strategy, in_window and the tests' where-clause do; the Python helper must give the same.
_PROBE = (
    "{%- for node in graph.nodes.values() if node.resource_type == 'model' -%}"
    "{{ node.name }}={{ window_bounds(node.config.meta.get('window')) | join(',') }}"
    "|{{ window_floor(window=node.config.meta.get('window')) }};"
    "{%- endfor -%}"
)
_FLOOR = re.compile(r"^ and (\w+) >= cast\('([0-9-]+)' as date\)$")


@pytest.fixture(scope="module")
def dbt(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    work = tmp_path_factory.mktemp("windows")
    return DbtProject(settings_for(work / "lake", work / "w.duckdb"))


def _rendered(
    dbt: DbtProject, start: date, end: date
) -> dict[str, tuple[tuple[date, date], tuple[str, date] | None]]:
    result = dbt.invoke(
        [
            "compile",
            "--inline",
            _PROBE,
            "--vars",
            json.dumps({"run_start": start.isoformat(), "run_end": end.isoformat()}),
        ]
    )
    assert result.success, result.exception
    found = {}
    for item in result.result.results[0].node.compiled_code.strip(";").split(";"):
        name, rest = item.split("=", 1)
        bounds, floor = rest.split("|")
        first, last = bounds.split(",")
        match = _FLOOR.match(floor)
        assert match or not floor, floor
        found[name] = (
            (date.fromisoformat(first), date.fromisoformat(last)),
            (match[1], date.fromisoformat(match[2])) if match else None,
        )
    return found


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2026, 11, 3), date(2026, 11, 3)), (date(2026, 11, 1), date(2026, 11, 7))],
)
def test_every_models_window_is_the_same_in_python_and_in_dbt(
    dbt: DbtProject, start: date, end: date, tmp_path: Path
) -> None:
    project = build_project(dbt.manifest, dbt.settings.project_dir)
    rendered = _rendered(dbt, start, end)
    assert len(rendered) >= 20, sorted(rendered)
    python = {
        name: (project.window(name).bounds(start, end), project.window(name).floor(start))
        for name in rendered
    }
    assert python == rendered
    # and the windows that matter differ from the run days, so the check can tell them apart
    assert rendered["fct_events"][0][0] < start and rendered["bandit_weights"][0][1] > end
    assert rendered["fct_events"][1] == ("landed_date", start)
