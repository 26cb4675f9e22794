"""Code versions hash each step's files: the same files give the same version anywhere, an edit
changes its step's version only, and the project card survives the state store."""

from __future__ import annotations

import shutil
from pathlib import Path

from flows.project.code import ProjectCard, StepFiles, code_versions, is_current_format
from flows.project.lake_tables import FieldRule, LakeTable
from flows.state.cards import read_card, save_card
from flows.state.store import StateStore

FILES = {
    "dbt_project.yml": "name: probe\nvars:\n  lateness_days: 3\n",
    "models/staging/_app__sources.yml": "version: 2\nsources: []\n",
    "expectations/expectations/raw/events.json": '{"name": "raw.events"}\n',
    "models/dwh/fct_events.sql": "select 1 as event_id\n",
    "models/dwh/_dwh__models.yml": "version: 2\nmodels: []\n",
    "models/marts/daily_kpis.sql": "select 2 as kpi\n",
    "macros/in_window.sql": "{% macro in_window(c) %}true{% endmacro %}\n",
}
EVENTS = LakeTable(
    name="events",
    source="app",
    lake_path="events",
    format="jsonl",
    fields=(
        FieldRule("event_id", "string", ()),
        FieldRule("job_id", "string", ("impression", "click")),
        FieldRule("platform", "string", None, ("ios", "web")),
    ),
    event_date_field="event_time",
)
CARD = ProjectCard(
    steps=(
        StepFiles(
            "raw",
            (
                "dbt_project.yml",
                "expectations/expectations/raw",
                "models/staging/_app__sources.yml",
            ),
        ),
        StepFiles("dwh", ("dbt_project.yml", "expectations/expectations/dwh", "macros",
                          "models/dwh")),
        StepFiles("marts", ("dbt_project.yml", "macros", "models/marts")),
    ),
    lake_tables=(EVENTS,),
)  # fmt: skip


def project(root: Path, files: dict[str, str] = FILES) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_same_files_give_the_same_versions_in_any_folder_and_any_listing_order(
    tmp_path: Path,
) -> None:
    first = code_versions(project(tmp_path / "a"), CARD)
    assert list(first) == ["raw", "dwh", "marts"]
    assert all(is_current_format(v) and v.startswith("files1:") for v in first.values())
    assert len(set(first.values())) == 3
    assert code_versions(tmp_path / "a", CARD) == first
    backwards = dict(reversed(list(FILES.items())))  # files created in the other order
    assert code_versions(project(tmp_path / "b", backwards), CARD) == first
    shuffled = ProjectCard(
        tuple(StepFiles(s.step, tuple(reversed(s.paths))) for s in CARD.steps), CARD.lake_tables
    )
    assert code_versions(tmp_path / "a", shuffled) == first


def test_a_whitespace_edit_of_one_model_changes_only_its_steps_version(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    before = code_versions(root, CARD)
    model = root / "models" / "dwh" / "fct_events.sql"
    model.write_text(model.read_text() + " \n")
    after = code_versions(root, CARD)
    assert after["dwh"] != before["dwh"]
    assert (after["raw"], after["marts"]) == (before["raw"], before["marts"])


def test_a_shared_file_changes_every_step_that_lists_it(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    before = code_versions(root, CARD)
    (root / "macros" / "in_window.sql").write_text("{% macro in_window(c) %}1{% endmacro %}\n")
    after = code_versions(root, CARD)
    assert [step for step in before if after[step] != before[step]] == ["dwh", "marts"]


def test_new_code_files_count_and_other_files_do_not(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    before = code_versions(root, CARD)
    (root / "models" / "marts" / "README.md").write_text("notes\n")
    (root / "models" / "marts" / ".sqlfluff").write_text("[sqlfluff]\n")
    assert code_versions(root, CARD) == before
    suite = root / "expectations" / "expectations" / "dwh" / "fct_events.json"
    suite.parent.mkdir(parents=True)  # a listed folder that did not exist yet
    suite.write_text('{"name": "dwh.fct_events"}\n')
    after = code_versions(root, CARD)
    assert after["dwh"] != before["dwh"]
    assert (after["raw"], after["marts"]) == (before["raw"], before["marts"])
    (root / "models" / "marts" / "ctr.sql").write_text("select 3 as ctr\n")
    assert code_versions(root, CARD)["marts"] != before["marts"]


def test_a_renamed_file_is_a_change(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    before = code_versions(root, CARD)
    shutil.move(root / "models" / "marts" / "daily_kpis.sql", root / "models" / "marts" / "k.sql")
    assert code_versions(root, CARD)["marts"] != before["marts"]


def test_the_manifest_digest_of_earlier_versions_is_not_the_current_format() -> None:
    assert not is_current_format("3f9a0c1d2b4e5f60")
    assert is_current_format("files1:3f9a0c1d2b4e5f60")


def test_the_card_is_kept_in_the_state_store_and_rewritten_only_when_it_changes(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path / "state.sqlite")
    assert read_card(store) is None
    save_card(store, CARD, "2026-11-04T01:00:00+00:00")
    assert read_card(store) == CARD
    save_card(store, CARD, "2026-11-05T01:00:00+00:00")
    written = store.read("select written_at from project_card")
    assert [row["written_at"] for row in written] == ["2026-11-04T01:00:00+00:00"]
    fewer = ProjectCard(CARD.steps[:2], CARD.lake_tables)
    save_card(store, fewer, "2026-11-06T01:00:00+00:00")
    assert read_card(store) == fewer
    assert len(store.read("select * from project_card")) == 1
