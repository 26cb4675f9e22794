"""The BigQuery parts that need no emulator: gaps list, type names, staged file, target switch."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from flows.bigquery_landing import _csv, bigquery_project
from flows.bq_check.gaps import known_gap, load_gaps
from flows.bq_check.semantic import bigquery_type
from flows.errors import ProjectError, StepFailed
from flows.settings import PROJECT_DIR


def test_the_committed_gaps_list_loads_and_matches_emulator_errors() -> None:
    gaps = load_gaps(PROJECT_DIR)
    ids = {gap.id for gap in gaps}
    assert {"require_partition_filter", "parameterized_numeric", "ledger_on_bigquery"} <= ids
    message = "Not supported by Crucible: result type DECIMAL(28, 6) (not NUMERIC)"
    hit = known_gap(gaps, message)
    assert hit is not None and hit.id == "parameterized_numeric"
    assert known_gap(gaps, "Not supported by Crucible: function FOO") is None


def test_a_gap_without_a_reason_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bq_gaps.yml").write_text("gaps:\n  - id: half_done\n")
    with pytest.raises(ProjectError, match="gap #1 needs an id and a reason"):
        load_gaps(tmp_path)


@pytest.mark.parametrize(
    ("declared", "expected"),
    [("numeric(28,6)", "numeric"), ("VARCHAR", "string"), ("bigint", "int64"),
     ("int64", "int64"), ("boolean", "bool"), ("json", "json")],
)
def test_declared_types_are_named_as_the_analyzer_names_them(declared: str, expected: str) -> None:
    assert bigquery_type(declared) == expected


def test_the_staged_csv_round_trips_commas_quotes_and_unicode() -> None:
    rows = [("events/part-1.jsonl.gz", "7", '{"a":"x, \\"y\\"","b":"é"}', "run-1")]
    text = _csv(rows).getvalue().decode("utf-8")
    assert text.count("\n") == 1
    assert list(csv.reader(io.StringIO(text))) == [list(rows[0])]


def test_a_line_break_in_a_staged_value_is_refused() -> None:
    with pytest.raises(StepFailed, match="line break"):
        _csv([("f", "1", "a\rb", "run-1")])


def test_project_ids_are_validated() -> None:
    assert bigquery_project("sluice-check") == "sluice-check"
    with pytest.raises(ProjectError, match="not a GCP project id"):
        bigquery_project("x`; drop")


def test_the_landing_is_chosen_by_the_target(tmp_path: Path) -> None:
    from flows.bigquery_landing import BigQueryLanding
    from flows.settings import Settings
    from flows.warehouse_landing import DuckDBLanding, landing_for

    dev = Settings(target="dev", duckdb=tmp_path / "w.duckdb").resolved()
    assert landing_for(dev) == DuckDBLanding(tmp_path / "w.duckdb")
    emulator = Settings(
        target="bq_emulator", bq_endpoint="http://127.0.0.1:9", bq_project="sluice-check"
    ).resolved()
    landing = landing_for(emulator)
    assert isinstance(landing, BigQueryLanding)
    assert landing.project == "sluice-check"
    assert landing.client.project == "sluice-check"
    with pytest.raises(ProjectError, match="SLUICE_BQ_ENDPOINT"):
        landing_for(Settings(target="bq_emulator").resolved())
