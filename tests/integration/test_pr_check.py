"""`make pr-check` selects what a change touches, builds only what its columns reach, and reviews
what it does to the data.

The tests copy the dbt project (with its suites and SQL style) into one git repository (branch
main, one commit), change it like a pull request would (uncommitted) and compare with main; each
test puts the tree back. They share the base build, which the check caches by base commit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.settings import PROJECT_DIR
from tests.support import copy_project
from tools.pr_check import Layout, build_state, run_check, selected
from tools.pr_review.changes import Kind

EXTRA = ("tests/dbt", ".sqlfluff", ".sqlfluffignore")  # besides the project: singular tests, style
KPIS = "models/marts/kpi/daily_kpis.sql"
AB_RESULTS = "models/marts/experiments/ab_pattern_results.sql"
AB_YAML = "models/marts/experiments/_experiments__models.yml"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@sluice.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The dbt project committed on main in a new repository; the process env is restored."""
    saved = dict(os.environ)
    root = copy_project(tmp_path_factory.mktemp("pr") / "repo")
    for name in EXTRA:
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy2(source, root / name)
    (root / ".gitignore").write_text("target/\nlogs/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    yield root
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture()
def repo(project: Path) -> Iterator[Path]:
    """The repository as committed; whatever a test changed is put back after it."""
    yield project
    _git(project, "checkout", "--", ".")
    _git(project, "clean", "-fdq", "--exclude=target")


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


def test_a_changed_mart_expression_is_breaking_with_changed_rows_per_date_and_its_exposure(
    repo: Path,
) -> None:
    # ctr over impressions and clicks instead of impressions alone: one column's expression.
    _edit(repo / KPIS, "ratio('clicks', 'impressions')", "ratio('clicks', 'impressions + clicks')")
    layout = Layout(repo)

    result = run_check(layout, "main")

    review = result.review
    assert review is not None
    assert result.built == ["model.sluice.daily_kpis"]
    (change,) = review.changes
    assert (change.name, change.kind, change.changed) == (
        "marts.daily_kpis",
        Kind.BREAKING,
        ("ctr",),
    )
    assert review.impact.reached == {"model.sluice.daily_kpis": {}}
    (diff,) = review.diffs
    assert diff.table.key == ("event_date", "platform")
    per_date = {p.date: (p.base_rows, p.pr_rows, p.added, p.removed) for p in diff.parts}
    assert per_date == {d: (3, 3, 0, 0) for d in ("2026-11-01", "2026-11-02", "2026-11-03")}
    assert all(p.changed and p.changed == p.columns["ctr"] for p in diff.parts)
    assert all(count == 0 for p in diff.parts for c, count in p.columns.items() if c != "ctr")
    assert diff.examples and set(diff.examples[0]) == {
        "event_date",
        "platform",
        "base__ctr",
        "pr__ctr",
    }
    assert review.gates is not None and review.gates.suites == ("marts.daily_kpis",)
    assert not review.gates.failed
    assert review.linted == (KPIS,)

    text = (repo / "target" / "pr-review.md").read_text()
    assert "| `marts.daily_kpis` | **breaking** | `ctr` | none | Daily KPI dashboard |" in text
    assert "the expression of existing column `ctr` changed" in text
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        assert f"| {day} | 3 | 3 | 0 | 0 | 3 | 3 |" in text
    assert "Daily KPI dashboard (`daily_kpi_dashboard`, Product Analytics)" in text


def test_an_added_column_is_non_breaking_and_its_downstream_is_not_built(repo: Path) -> None:
    _edit(
        repo / AB_RESULTS,
        "    ) as conversion_rate_high\n",
        "    ) as conversion_rate_high,\n"
        "    cast(exposed_users - converted_users as bigint) as unconverted_users\n",
    )
    _edit(
        repo / AB_YAML,
        "\n  - name: bandit_weights\n",
        "      - name: unconverted_users\n        data_type: int64\n"
        "        description: Exposed users who did not apply that day.\n"
        "\n  - name: bandit_weights\n",
    )
    layout = Layout(repo)

    result = run_check(layout, "main")

    assert "model.sluice.bandit_weights" in result.changed  # dbt's state:modified+ has it
    assert result.built == ["model.sluice.ab_pattern_results"]  # the lineage narrows it
    review = result.review
    assert review is not None
    (change,) = review.changes
    assert (change.kind, change.added, change.changed) == (
        Kind.NON_BREAKING,
        ("unconverted_users",),
        (),
    )
    assert review.impact.reached == {"model.sluice.ab_pattern_results": {}}
    assert review.skipped == ("bandit_weights",)
    (diff,) = review.diffs
    assert diff.added_columns == ("unconverted_users",)
    assert diff.parts and all(p.changed == p.added == p.removed == 0 for p in diff.parts)
    assert "on_schema_change: fail" in review.deploy["model.sluice.ab_pattern_results"]


def test_a_comment_only_change_shows_no_data_change_and_builds_nothing_downstream(
    repo: Path,
) -> None:
    _edit(
        repo / "models/dwh/fct_events.sql",
        "select\n    event_id,",
        "-- The columns of the contract, in its order.\nselect\n    event_id,",
    )
    layout = Layout(repo)

    result = run_check(layout, "main")

    downstream = {"model.sluice.daily_kpis", "model.sluice.bandit_weights"}
    assert downstream <= set(result.changed)  # dbt's state:modified+ lists every mart
    assert result.built == []
    review = result.review
    assert review is not None
    (change,) = review.changes
    assert (change.name, change.kind) == ("dwh.fct_events", Kind.NO_DATA_CHANGE)
    assert review.diffs == () and review.gates is None
    text = (repo / "target" / "pr-review.md").read_text()
    assert "| `dwh.fct_events` | no data change | none | none |" in text
