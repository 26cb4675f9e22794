"""The BigQuery parts that need no emulator: gaps list, type names, staged files, target switch,
the gates' inline dialect."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.errors import ProjectError, StepFailed
from flows.project.identifiers import project_id
from flows.settings import PROJECT_DIR
from flows.warehouse.bigquery_landing import _csv
from tools.bq_check.gaps import known_gap, load_gaps
from tools.bq_check.semantic import bigquery_type


def test_the_committed_gaps_list_loads_and_matches_emulator_errors() -> None:
    gaps = load_gaps(PROJECT_DIR)
    ids = {gap.id for gap in gaps}
    assert {"require_partition_filter", "parameterized_numeric", "ledger_on_bigquery"} <= ids
    message = "Not supported by Crucible: result type DECIMAL(28, 6) (not NUMERIC)"
    hit = known_gap(gaps, message)
    assert hit is not None and hit.id == "parameterized_numeric"
    assert known_gap(gaps, "Not supported by Crucible: function FOO") is None


def test_the_emulators_refusal_of_dry_runs_is_a_gap_probed_by_a_dry_run() -> None:
    gaps = {gap.id: gap for gap in load_gaps(PROJECT_DIR)}
    dry_run = gaps["dry_run"]
    assert dry_run.probe_dry_run and dry_run.probe == "select 1 as x"
    assert not gaps["information_schema"].probe_dry_run
    refusal = "400 POST http://127.0.0.1:1/jobs: Not supported by Crucible: dry-run jobs"
    hit = known_gap(tuple(gaps.values()), refusal)
    assert hit is not None and hit.id == "dry_run"


def test_a_gap_without_a_reason_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bq_gaps.yml").write_text("gaps:\n  - id: half_done\n")
    with pytest.raises(ProjectError, match="gap #1 needs an id and a reason"):
        load_gaps(tmp_path)


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("numeric(28,6)", "numeric"),
        ("VARCHAR", "string"),
        ("bigint", "int64"),
        ("int64", "int64"),
        ("boolean", "bool"),
        ("json", "json"),
    ],
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
    assert project_id("sluice-check") == "sluice-check"
    with pytest.raises(ProjectError, match="not a BigQuery project id"):
        project_id("x`; drop")


def test_one_warehouse_object_is_chosen_by_the_target(tmp_path: Path) -> None:
    from flows.settings import Settings
    from flows.warehouse.bigquery_warehouse import BigQueryWarehouse
    from flows.warehouse.choose import warehouse_for
    from flows.warehouse.duckdb_warehouse import DuckDBWarehouse

    dev = warehouse_for(Settings(target="dev", duckdb=tmp_path / "w.duckdb").resolved())
    assert isinstance(dev, DuckDBWarehouse)
    assert (dev.path, dev.lock_key) == (tmp_path / "w.duckdb", f"warehouse:{tmp_path / 'w.duckdb'}")
    assert (dev.concurrent_writers, dev.aware_timestamps, dev.quote("dt")) == (False, False, '"dt"')
    emulator = warehouse_for(
        Settings(
            target="bq_emulator", bq_endpoint="http://127.0.0.1:9", bq_project="sluice-check"
        ).resolved()
    )
    assert isinstance(emulator, BigQueryWarehouse)
    assert (emulator.project, emulator.client.project) == ("sluice-check", "sluice-check")
    assert (emulator.lock_key, emulator.concurrent_writers) == (None, True)
    # runs overlap on BigQuery, but their dbt steps take turns; a DuckDB run holds it all
    assert (emulator.build_lock_key, dev.build_lock_key) == ("build:bigquery:sluice-check", None)
    assert (emulator.aware_timestamps, emulator.quote("dt")) == (True, "`dt`")
    with pytest.raises(ProjectError, match="SLUICE_BQ_ENDPOINT"):
        _ = warehouse_for(Settings(target="bq_emulator").resolved()).client


# ---- the gates on BigQuery --------------------------------------------------------------------


def _gx_like_statement() -> object:
    import sqlalchemy as sa

    table = sa.table("fct_events", sa.column("event_type"), sa.column("n"), sa.column("d"))
    return sa.select(sa.func.count()).where(
        table.c.event_type.not_in(["click", "it's"]),
        table.c.n >= sa.literal(2),
        table.c.d == sa.literal(date(2026, 11, 1)),
    )


def test_the_inline_dialect_renders_every_value_into_the_sql() -> None:
    from sqlalchemy_bigquery.base import BigQueryDialect

    from flows.warehouse.bigquery_inline import InlineBigQueryDialect

    bound = _gx_like_statement().compile(dialect=BigQueryDialect())  # type: ignore[attr-defined]
    assert bound.params == {  # what BigQuery's DB-API would send as query parameters
        "event_type_1": ["click", "it's"],
        "param_1": 2,
        "param_2": date(2026, 11, 1),
    }
    inline = _gx_like_statement().compile(dialect=InlineBigQueryDialect())  # type: ignore[attr-defined]
    assert inline.params == {}
    assert str(inline).split("WHERE ", 1)[1] == (
        "(`fct_events`.`event_type` NOT IN ('click', \"it's\"))"
        " AND `fct_events`.`n` >= 2 AND `fct_events`.`d` = DATE '2026-11-01'"
    )
    assert InlineBigQueryDialect.supports_statement_cache is False  # values are in the SQL


def test_staged_failing_rows_keep_nulls_dates_and_json_text() -> None:
    from flows.warehouse.bigquery_warehouse import _staged

    row = [
        "r1",
        datetime(2026, 11, 1, 6, 30),
        date(2026, 11, 1),
        "dwh",
        "dwh.fct_events",
        "expect_column_values_to_not_be_null",
        "critical",
        None,
        '{"event_id": null, "x": "a\\nb"}',
    ]
    text = _staged([row]).getvalue().decode()
    assert "\n" not in text.rstrip("\n")  # one line per row: JSON escapes line breaks
    values = [json.loads(v) for v in next(csv.reader(io.StringIO(text)))]
    assert values == [
        "r1",
        "2026-11-01 06:30:00",
        "2026-11-01",
        "dwh",
        "dwh.fct_events",
        "expect_column_values_to_not_be_null",
        "critical",
        None,
        row[-1],
    ]


def test_the_pipeline_parses_dbt_with_the_warehouses_vars(tmp_path: Path) -> None:
    from flows.settings import Settings
    from flows.warehouse.choose import warehouse_for

    emulator = Settings(target="bq_emulator", state=tmp_path / "s.sqlite")
    assert warehouse_for(emulator).dbt_vars == {"rate_type": "numeric"}  # parameterized_numeric
    for target in ("dev", "bigquery"):  # production keeps dbt_project.yml's numeric(28,6)
        settings = Settings(target=target, state=tmp_path / "s.sqlite")  # type: ignore[arg-type]
        assert warehouse_for(settings).dbt_vars == {}


def test_mart_cells_compare_across_duckdb_and_bigquery() -> None:
    from decimal import Decimal

    from tools.bq_check.flow_data import _normalized

    duck = [(date(2026, 11, 1), Decimal("0.123457"), 3, datetime(2026, 11, 1, 10, 0), None)]
    utc = datetime.fromisoformat("2026-11-01T10:00:00+00:00")
    bigquery = [(date(2026, 11, 1), Decimal("0.123456789"), 3, utc, None)]
    columns = ["d", "rate", "n", "at", "missing"]
    assert _normalized(columns, duck) == _normalized(columns, bigquery)
    other = [(date(2026, 11, 1), Decimal("0.123458"), 3, utc, None)]
    assert _normalized(columns, duck) != _normalized(columns, other)


def test_the_first_publish_of_a_windowed_table_never_replaces_what_a_concurrent_one_wrote(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Runs land and publish raw days side by side on BigQuery: two first publishes of one raw
    table can both find it missing. Each must create it only if it is still missing and merge
    its own window: `create or replace ... as select` of one day's rows dropped the other day's
    (a concurrent backfill's stg_app__events then had no rows for that day)."""
    from google.cloud import bigquery

    from flows.project.manifest import ModelTable
    from flows.project.windows import Window
    from flows.settings import Settings
    from flows.warehouse.bigquery_warehouse import BigQueryWarehouse

    warehouse = BigQueryWarehouse(
        Settings(target="bq_emulator", bq_endpoint="http://127.0.0.1:9", bq_project="sluice-check"),
        emulator=True,
    )
    built = bigquery.Table(
        "sluice-check.raw_audit.events",
        schema=[bigquery.SchemaField("dt", "DATE"), bigquery.SchemaField("payload", "JSON")],
    )
    tables = {"raw_audit": built, "raw": None}
    monkeypatch.setattr(warehouse, "_table", lambda dataset, _table: tables[dataset])
    monkeypatch.setattr(warehouse, "_ensure_dataset", lambda _dataset: None)
    events = ModelTable(
        "events",
        "raw",
        "sluice-check",
        "raw_audit",
        "events",
        "table",
        "dt",
        Window(),
        published_schema="raw",
        moves=True,
    )
    day = date(2026, 11, 1)
    statements = warehouse._copy_statements(events, "raw_audit", "raw", (day, day), None)
    assert not [s for s in statements if "create or replace" in s], statements
    create, merge = statements
    assert create.startswith("create table if not exists `sluice-check.raw.events`")
    assert "where false" in create
    assert merge.startswith("merge `sluice-check.raw.events`")
    assert "dest.dt between date '2026-11-01' and date '2026-11-01'" in merge


class _RacedClient:
    """A stand-in for BigQuery's client (it cannot run here): its create answers as the
    emulator did when two backfills created one dataset at once."""

    location = "US"

    def __init__(self, *, created_by_the_other: bool) -> None:
        self.created_by_the_other = created_by_the_other
        self.looked_up: list[str] = []

    def create_dataset(self, dataset: Any, exists_ok: bool) -> None:
        from google.api_core.exceptions import InternalServerError

        assert exists_ok
        raise InternalServerError('Catalog write-write conflict on create with "sluice_meta"')

    def get_dataset(self, reference: Any) -> None:
        from google.api_core.exceptions import NotFound

        self.looked_up.append(f"{reference.project}.{reference.dataset_id}")
        if not self.created_by_the_other:
            raise NotFound("no such dataset")


def test_a_dataset_another_run_created_meanwhile_is_there_and_any_other_failure_raises() -> None:
    from google.api_core.exceptions import InternalServerError

    from flows.warehouse.bigquery_client import ensure_dataset

    raced = _RacedClient(created_by_the_other=True)
    ensure_dataset(raced, "sluice-concurrent", "sluice_meta")  # lost the race: it exists
    assert raced.looked_up == ["sluice-concurrent.sluice_meta"]
    failed = _RacedClient(created_by_the_other=False)
    with pytest.raises(InternalServerError, match="write-write conflict"):
        ensure_dataset(failed, "sluice-concurrent", "sluice_meta")
    with pytest.raises(ProjectError, match="dataset"):
        ensure_dataset(raced, "sluice-concurrent", "meta; drop")
