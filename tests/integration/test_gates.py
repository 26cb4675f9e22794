"""Quality gates on real dbt, DuckDB and Great Expectations: a clean partition passes, a bad one
is blocked at the right layer and keeps the published marts, every failing row lands in
audit.gate_failures, and a retry publishes the repaired partition."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

import duckdb
import pytest

from flows.errors import PartitionsFailed
from flows.pipeline.plan import PlannedDay, plan
from flows.pipeline.run_report import page_path
from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import Workspace
from flows.project.manifest import RAW_LAYER
from flows.settings import PROJECT_DIR
from flows.state.ledger import Attempt, Ledger, Status
from flows.state.store import StateStore
from tests.support import (
    Build,
    copy_build,
    copy_project,
    lake_days,
    settings_at,
    table_checksums,
    truth,
)

pytestmark = pytest.mark.usefixtures("prefect_server")

DAYS = lake_days()
LAYERS = ("raw", "dwh", "marts")
VOLUME = "expect_table_row_count_to_be_between"
VOLUME_SUITES = ("raw.events", "dwh.fct_events")
MIN_HISTORY = 3  # checked partitions the volume bounds need before they block

CTR = "{{ ratio('clicks', 'impressions') }}"
# The CTR of one event date, made 10 x + 1 (still the contract's numeric(28,6)).
BAD_CTR = (
    "case when event_date = date '{day}'"
    f" then cast({CTR} * 10 + 1 as {{{{ type_rate() }}}}) else {CTR} end"
)
# Every fifth event of one event date twice, on that lake day's run only (the model's own
# first copies, selected again).
DUPLICATES = """
union all
select *
from (
    select
        event_id, event_type, event_at, event_date, user_id, session_id, platform, job_id,
        algorithm, slot, ab_test_id, pattern_id, app_version, landed_date, source_file, line_number
    from valid_copies
    where
        event_date between {{{{ add_days('landed_date', -lateness_days) }}}} and landed_date
        and event_id is not null
    qualify
        row_number() over (
            partition by event_id order by landed_date asc, source_file asc, line_number asc
        ) = 1
) as first_copies
where
    event_date = date '{day}'
    and line_number % 5 = 0
    and '{{{{ var("run_start") }}}}' = '{day}'
"""


@dataclass(frozen=True)
class GateRow:
    """One row of the state store's gate_checks."""

    dt: date
    layer: str
    suite: str
    run_id: str
    success: int
    row_count: int | None
    details: list[dict[str, Any]]


def query(warehouse: Path, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse))  # same configuration as dbt's and GX's connections
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def gate_rows(state: Path) -> list[GateRow]:
    with closing(sqlite3.connect(state)) as con:
        rows = con.execute(
            """select dt, layer, suite, run_id, success, row_count, details
            from gate_checks order by checked_at"""
        ).fetchall()
    return [
        GateRow(date.fromisoformat(dt), layer, suite, run_id, ok, count, json.loads(details))
        for dt, layer, suite, run_id, ok, count, details in rows
    ]


def suite_files(project_dir: Path) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """suite -> (layer, expectations), read from the JSON files (the schema folder is the layer)."""
    found = {}
    for path in sorted((project_dir / "expectations" / "expectations").glob("*/*.json")):
        found[f"{path.parent.name}.{path.stem}"] = (
            path.parent.name,
            json.loads(path.read_text())["expectations"],
        )
    return found


def audit_failures(warehouse: Path) -> list[tuple[Any, ...]]:
    """audit.gate_failures (run_id, dt, layer, suite, expectation, severity, column, row)."""
    exists = query(
        warehouse,
        """select count(*) from information_schema.tables
        where table_schema = 'audit' and table_name = 'gate_failures'""",
    )
    if exists == [(0,)]:
        return []
    return [
        (*row[:-1], json.loads(row[-1]))
        for row in query(
            warehouse,
            """select run_id, dt, layer, suite, expectation, severity, column_name, failing_row
            from audit.gate_failures""",
        )
    ]


def schema_checksums(warehouse: Path, schema: str) -> dict[str, tuple[int, int]]:
    """Checksums of a schema's tables by table name (to compare marts with marts_audit; dbt's
    views are built in the audit schemas only)."""
    sums = table_checksums(warehouse, (schema,), views=False)
    return {name.split(".", 1)[1]: sums for name, sums in sums.items()}


def trim_events(lake: Path, day: date, keep_every: int = 10) -> int:
    """Keep one line in `keep_every` of a lake day's event files (_SUCCESS stays); lines kept."""
    kept = 0
    for part in sorted((lake / "events" / f"dt={day.isoformat()}").glob("*.jsonl.gz")):
        lines = gzip.decompress(part.read_bytes()).splitlines(keepends=True)
        part.write_bytes(gzip.compress(b"".join(lines[::keep_every])))
        kept += len(lines[::keep_every])
    assert (lake / "events" / f"dt={day.isoformat()}" / "_SUCCESS").exists()
    return kept


def valid_lines(lake: Path, day: date) -> int:
    """The event lines landing keeps for a lake day, from the generator's truth file."""
    return int(truth(lake, day)["lake"]["events"]["valid_lines"])


def built_through(attempt: Attempt) -> date:
    """The last lake day whose events a dbt step read (its batch's last day, if batched)."""
    batch = attempt.details.get("batch")
    return date.fromisoformat(batch.split("..")[1]) if batch else attempt.dt


def this_run(ws: Workspace, run_id: str) -> list[tuple[date, str, int, str, str | None]]:
    return [
        (a.dt, a.layer, a.attempt, a.status, a.error_class)
        for a in ws.ledger.attempts()
        if a.run_id == run_id
    ]


def failed_run(ws: Workspace, planned: list[tuple[date, str | None]]) -> Any:
    """Run lake days that must fail; the run's report."""
    with pytest.raises(PartitionsFailed) as raised:
        run_partitions(ws, planned)
    return raised.value.report


# ---- a clean partition ----------------------------------------------------------------------


def test_a_clean_partition_passes_every_gate(clean: Build, lake: Path) -> None:
    gates = Workspace.open(clean.settings).gates  # the suite files and the default suites
    assert gates.unsuited == {}
    suites = {suite.name: (suite.layer, list(suite.expectations)) for suite in gates.suites}
    assert "dwh.stg_app__events" not in suites and "staging.stg_app__events" in suites  # default

    def expected(suite: str, day: date) -> list[str]:
        """The checks of a suite on a day: in the first weeks, a volume rule warns too."""
        expectations = suites[suite][1]
        kinds = [e["type"] for e in expectations]
        ruled = any("volume" in ((e.get("meta") or {}).get("sluice") or {}) for e in expectations)
        return kinds + [VOLUME] * (ruled and DAYS.index(day) >= 1)

    checks = Counter[tuple[str, date]]()
    for name, (layer, _) in suites.items():
        for day in DAYS:
            checks[layer, day] += len(expected(name, day))
    assert {layer for layer, _ in checks} == set(LAYERS)

    attempts = Ledger(StateStore(clean.settings.state)).attempts()
    assert sorted((a.dt, a.layer, a.attempt, a.status) for a in attempts) == sorted(
        (day, layer, 1, Status.SUCCEEDED) for day in DAYS for layer in LAYERS
    )
    for attempt in attempts:
        gate = {"checks": checks[attempt.layer, attempt.dt], "blocking": [], "warnings": []}
        assert attempt.details["gate"] == gate, (attempt.dt, attempt.layer)
    dwh = {a.dt: a for a in attempts if a.layer == "dwh"}

    rows = gate_rows(clean.settings.state)
    assert sorted((r.dt, r.suite) for r in rows) == sorted(
        (day, suite) for day in DAYS for suite in suites
    )
    for row in rows:
        layer = suites[row.suite][0]
        assert (row.layer, row.run_id, row.success) == (layer, clean.run_id, 1), row
        assert sorted(c["expectation"] for c in row.details) == sorted(expected(row.suite, row.dt))
        assert all(c["success"] and c["suite"] == row.suite for c in row.details), row
        assert any(c["severity"] == "critical" for c in row.details), row
        ruled = any(
            "volume" in ((e.get("meta") or {}).get("sluice") or {}) for e in suites[row.suite][1]
        )
        volumes = [c for c in row.details if c["expectation"] == VOLUME]
        if ruled:  # a volume rule says the range it held the day to, and stops with one band
            for volume in volumes:
                assert volume["observed"] == row.row_count and "rows (" in volume["expected"]
                low, high = volume["bounds"]  # the range as numbers too (sluice report)
                assert low <= volume["observed"] <= high, row
                assert f"expected {low:,}.." in volume["expected"], row
            stop = [v for v in volumes if v["severity"] == "critical"]
            assert len(stop) == 1, row
            enough = DAYS.index(row.dt) >= MIN_HISTORY  # a coarse band then stops an outage
            assert ("first weeks" in stop[0]["expected"]) == enough, row

    # row counts are the partitions' sizes when they were checked
    counts = {(r.dt, r.suite): r.row_count for r in rows}
    for day in DAYS:
        assert counts[day, "raw.events"] == valid_lines(lake, day)
        assert counts[day, "marts.daily_kpis"] == len(truth(lake, day)["daily_kpis"])
        [(fct_events,)] = query(
            clean.settings.duckdb,
            "select count(*) from dwh.fct_events where event_date = $d and landed_date <= $last",
            {"d": day, "last": built_through(dwh[day])},
        )
        assert counts[day, "dwh.fct_events"] == fct_events > 0
    assert audit_failures(clean.settings.duckdb) == []
    for schema in ("staging", "dwh", "marts"):  # what was checked is what was published
        assert schema_checksums(clean.settings.duckdb, f"{schema}_audit") == schema_checksums(
            clean.settings.duckdb, schema
        ), schema


# ---- the DuckDB shim ------------------------------------------------------------------------

SHIM_PROBE = """
import json, sys
import duckdb
import great_expectations as gx
from duckdb_engine import ConnectionWrapper
from flows.warehouse.duckdb_warehouse import apply_duckdb_shim

path = sys.argv[1]


def validate(name):
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_sql(
        name="warehouse",
        connection_string=f"duckdb:///{path}",
        kwargs={"creator": lambda: ConnectionWrapper(duckdb.connect(path))},
    )
    batch = source.add_query_asset(
        name="partition", query="select * from t where d = cast('2026-11-01' as date)"
    ).add_batch_definition_whole_table("partition")
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=[
        gx.expectations.ExpectColumnValuesToBeBetween(column="x", min_value=0, max_value=10),
        gx.expectations.ExpectColumnValuesToBeBetween(column="x", min_value=0, max_value=2),
        gx.expectations.ExpectTableRowCountToBeBetween(min_value=3, max_value=3),
    ]))
    run = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    ).run(result_format={"result_format": "COMPLETE"})
    found = []
    for item in run.results:
        info = item.exception_info or {}
        nested = [v for v in info.values() if isinstance(v, dict)]
        raised = bool(info.get("raised_exception")) or any(
            v.get("raised_exception") for v in nested
        )
        result = item.result or {}
        found.append({
            "success": item.success,
            "raised": raised,
            "element_count": result.get("element_count"),
            "unexpected_count": result.get("unexpected_count"),
            "observed_value": result.get("observed_value"),
        })
    return found


without = validate("without")
apply_duckdb_shim()
print(json.dumps({"without": without, "with": validate("with")}))
"""


def test_the_duckdb_shim_is_what_makes_gx_see_data(tmp_path: Path) -> None:
    warehouse = tmp_path / "tiny.duckdb"
    query(
        warehouse,
        """create table t as select * from (values
            (date '2026-11-01', 1), (date '2026-11-01', 2), (date '2026-11-01', 3),
            (date '2026-11-02', 99)
        ) as v(d, x)""",
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "GX_ANALYTICS_ENABLED": "false"}
    done = subprocess.run(  # a fresh process: nothing applied the shim before
        [sys.executable, "-c", SHIM_PROBE, str(warehouse)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])

    # without the shim GX gets nothing back from DuckDB: every expectation fails on no data
    for result in found["without"]:
        assert result["success"] is False, found["without"]
        assert result["raised"] or result["element_count"] is None, found["without"]
        assert result["observed_value"] is None and not result["unexpected_count"]
    # with it the same expectations see the partition's 3 rows and count the bad one
    assert found["with"] == [
        {"success": True, "raised": False, "element_count": 3, "unexpected_count": 0,
         "observed_value": None},
        {"success": False, "raised": False, "element_count": 3, "unexpected_count": 1,
         "observed_value": None},
        {"success": True, "raised": False, "element_count": None, "unexpected_count": None,
         "observed_value": 3},
    ]  # fmt: skip


def test_gx_holds_no_transaction_open_after_a_validation(tmp_path: Path) -> None:
    """The gates' GX connection stays open for the whole run; a read transaction left open on
    it kept DuckDB from writing a step's publish into the file (a replaced table made every
    checkpoint fail with "other write transactions active" until a later gate)."""
    import great_expectations as gx

    from flows.warehouse.duckdb_warehouse import DuckDBWarehouse

    path = tmp_path / "warehouse.duckdb"
    query(path, "create table t as select range as x from range(3)")
    warehouse = DuckDBWarehouse(path)
    context = gx.get_context(mode="ephemeral")
    warehouse.add_gx_datasource(context, "warehouse")
    source = context.data_sources.get("warehouse")

    def rows_gx_counts(name: str) -> int:
        batch = source.add_query_asset(name=name, query="select * from t")
        suite = context.suites.add(
            gx.ExpectationSuite(
                name=name,
                expectations=[gx.expectations.ExpectTableRowCountToBeBetween(min_value=0)],
            )
        )
        run = context.validation_definitions.add(
            gx.ValidationDefinition(
                name=name, data=batch.add_batch_definition_whole_table(name), suite=suite
            )
        ).run()
        return int(run.results[0].result["observed_value"])

    assert rows_gx_counts("before") == 3
    with warehouse.connection() as con:  # publishing a whole table replaces it
        con.execute("create or replace table t as select range as x from range(5)")
        con.execute("checkpoint")
    wal = path.with_name(path.name + ".wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the replaced table stayed in the WAL"
    assert rows_gx_counts("after") == 5  # the next validation reads what is committed now


# ---- a CTR above 1 in the marts -------------------------------------------------------------


def marts_schemas(warehouse: Path) -> list[str]:
    found = query(
        warehouse,
        """select distinct table_schema from information_schema.tables
        where table_schema like 'marts%' order by 1""",
    )
    return [schema for (schema,) in found]


def kpis_up_to(warehouse: Path, last: date) -> list[tuple[Any, ...]]:
    return query(
        warehouse,
        "select * from marts.daily_kpis where event_date <= $d order by event_date, platform",
        {"d": last},
    )


def test_a_ctr_above_one_is_blocked_at_marts_and_keeps_the_published_values(
    clean: Build, lake: Path, tmp_path: Path
) -> None:
    bad_day, later = DAYS[1], DAYS[2:]
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    kpis = project / "models" / "marts" / "kpi" / "daily_kpis.sql"
    original = kpis.read_text()
    assert original.count(f"{CTR} as ctr") == 1
    kpis.write_text(
        original.replace(CTR + " as ctr", BAD_CTR.replace("{day}", str(bad_day)) + " as ctr")
    )
    settings = settings_at(project, lake, tmp_path / "warehouse.duckdb")
    warehouse = settings.duckdb
    ws = Workspace.open(settings)

    run_partitions(ws, [(DAYS[0], None)])
    published = schema_checksums(warehouse, "marts")
    published_kpis = kpis_up_to(warehouse, bad_day)
    # DAYS[0]'s KPIs, which bad_day's run would change (late events) if it were published
    assert published_kpis
    final = [row for row in kpis_up_to(clean.settings.duckdb, bad_day) if row[0] < bad_day]
    assert len(final) == len(published_kpis) and final != published_kpis

    report = failed_run(ws, [(day, None) for day in DAYS[1:]])
    assert [(r.dt, r.succeeded) for r in report.runs] == [(day, False) for day in DAYS[1:]]
    latest = ws.ledger.latest()
    expected: dict[tuple[date, str], tuple[str, str | None]] = {
        (day, layer): (Status.SUCCEEDED, None) for day in DAYS for layer in LAYERS
    }
    expected[bad_day, "marts"] = (Status.BLOCKED, "GateFailed")
    for day in later:  # their windows [D-3, D+3] include bad_day
        expected[day, "marts"] = (Status.BLOCKED, "WindowBlocked")
    assert {key: (a.status, a.error_class) for key, a in latest.items()} == expected
    for day in later:  # daily_kpis of these days would rewrite the refused dates
        message = latest[day, "marts"].error_message or ""
        assert message.startswith(
            f"daily_kpis would rewrite dates of daily_kpis refused on {bad_day}"
        )
        assert set(latest[day, "marts"].details["refused"]) == {"daily_kpis"}, day

    # the failing rows are every platform's KPIs of bad_day, computed here from the DWH
    blocked = latest[bad_day, "marts"]
    bad_rows = query(
        warehouse,
        """select platform, cast(round(1.0 * count(*) filter (event_type = 'click')
                / count(*) filter (event_type = 'impression'), 6) * 10 + 1 as decimal(28, 6))
        from dwh.fct_events
        where event_date = $d and landed_date <= $last
        group by platform order by platform""",
        {"d": bad_day, "last": built_through(blocked)},
    )
    assert len(bad_rows) == 3
    assert blocked.error_message == (
        "marts.daily_kpis.ctr expect_column_values_to_be_between"
        f" (observed None, {len(bad_rows)} bad rows)"
    )
    assert blocked.details["gate"]["blocking"] == [blocked.error_message]
    failures = audit_failures(warehouse)
    assert {f[:-1] for f in failures} == {
        (
            report.run_id,
            bad_day,
            "marts",
            "marts.daily_kpis",
            "expect_column_values_to_be_between",
            "critical",
            "ctr",
        )
    }
    assert sorted((f[-1]["platform"], Decimal(f[-1]["ctr"])) for f in failures) == bad_rows
    assert all(f[-1]["event_date"] == bad_day.isoformat() for f in failures)

    # stakeholders still see the daily KPIs DAYS[0] published, and the other marts, which
    # passed, of every day; the audit copy was put back
    now = schema_checksums(warehouse, "marts")
    assert now["daily_kpis"] == published["daily_kpis"]
    assert kpis_up_to(warehouse, bad_day) == published_kpis
    final = schema_checksums(clean.settings.duckdb, "marts")
    assert {k: v for k, v in now.items() if k != "daily_kpis"} == {
        k: v for k, v in final.items() if k != "daily_kpis"
    }
    assert schema_checksums(warehouse, "marts_audit") == now
    assert marts_schemas(warehouse) == ["marts", "marts_audit"]
    for schema in ("raw", "dwh"):
        assert schema_checksums(warehouse, schema) == schema_checksums(
            clean.settings.duckdb, schema
        )

    kpis.write_text(original)  # the repair
    ws = Workspace.open(settings)
    planned = plan(ws, DAYS[0], DAYS[-1], only_failed=True)
    assert planned == [PlannedDay(day, "marts", Status.BLOCKED) for day in DAYS[1:]]
    retry = run_partitions(ws, [(p.dt, p.from_layer) for p in planned])
    assert retry.failed == []
    assert this_run(ws, retry.run_id) == [
        (day, "marts", 2, Status.SUCCEEDED, None) for day in DAYS[1:]
    ]
    assert table_checksums(warehouse) == clean.checksums
    assert schema_checksums(warehouse, "marts_audit") == schema_checksums(warehouse, "marts")
    assert len(audit_failures(warehouse)) == 3  # the retry's gates passed


def test_the_marts_gate_checks_every_date_the_run_rewrites(
    clean: Build, lake: Path, tmp_path: Path
) -> None:
    """Lake day D's marts rewrite event dates [D-3, D]: a bad earlier date is caught too."""
    earlier, day = DAYS[0], DAYS[1]
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    kpis = project / "models" / "marts" / "kpi" / "daily_kpis.sql"
    original = kpis.read_text()
    # the CTR of `earlier` goes wrong only when lake day `day` rebuilds it
    bad = BAD_CTR.replace("{day}", str(earlier)).replace(
        "case when ", f"case when '{{{{ var(\"run_start\") }}}}' = '{day}' and ", 1
    )
    kpis.write_text(original.replace(CTR + " as ctr", bad + " as ctr"))
    settings = settings_at(project, lake, tmp_path / "warehouse.duckdb")
    warehouse = settings.duckdb
    ws = Workspace.open(settings)

    first = run_partitions(ws, [(earlier, None)])
    assert first.data_docs is None  # data_docs "on_failure": every check passed, no pages
    published = schema_checksums(warehouse, "marts")

    report = failed_run(ws, [(day, None)])
    blocked = ws.ledger.latest()[day, "marts"]
    assert (blocked.status, blocked.error_class) == (Status.BLOCKED, "GateFailed")
    failures = audit_failures(warehouse)
    assert len(failures) == 3  # one per platform, all of the earlier date
    assert {(f[0], f[1], f[3], f[-1]["event_date"]) for f in failures} == {
        (report.run_id, day, "marts.daily_kpis", earlier.isoformat())
    }
    assert all(Decimal(f[-1]["ctr"]) > 1 for f in failures)
    assert schema_checksums(warehouse, "marts")["daily_kpis"] == published["daily_kpis"]
    assert report.data_docs is not None and report.data_docs.name == "index.html"
    assert report.data_docs.parent.name == report.run_id
    pages = {p.read_text() for p in report.data_docs.parent.rglob("*.html")}
    for suite in ("raw.events", "dwh.fct_events", "marts.daily_kpis"):
        assert any(suite in page for page in pages), suite
    page = page_path(settings.reports_dir, report.run_id).read_text()
    assert f'href="{report.data_docs.as_uri()}"' in page  # the run report links them
    # the other policies, on a passing raw gate
    ws.gates.run(RAW_LAYER, day, "again")
    assert ws.gates.build_docs(tmp_path / "never", "never") is None
    assert not (tmp_path / "never").exists()
    ws.gates.run(RAW_LAYER, day, "again")
    assert ws.gates.build_docs(tmp_path / "always", "always") == tmp_path / "always" / "index.html"
    assert any("raw.events" in p.read_text() for p in (tmp_path / "always").rglob("*.html"))

    kpis.write_text(original)  # the repair
    ws = Workspace.open(settings)
    retry = run_partitions(ws, [(day, "marts")])
    assert this_run(ws, retry.run_id) == [(day, "marts", 2, Status.SUCCEEDED, None)]
    assert schema_checksums(warehouse, "marts_audit") == schema_checksums(warehouse, "marts")
    assert schema_checksums(warehouse, "marts") != published  # day's KPIs are published now


def test_a_batchs_gates_run_each_distinct_validation_once_with_each_days_results(
    clean: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole table (a dimension) reads the same rows on every day of a batch, and a day's
    one-day window the same rows as its partition: validated once, each day's gate gets the
    same checks as validating every day alone."""
    warehouse, state = copy_build(clean, tmp_path)
    ws = Workspace.open(
        settings_at(clean.settings.project_dir, clean.settings.lake, warehouse, state)
    )
    ran: list[str] = []
    validate = ws.gates._run_validation

    def counted(suite: Any, *args: Any) -> Any:
        ran.append(suite.name)
        return validate(suite, *args)

    monkeypatch.setattr(ws.gates, "_run_validation", counted)
    alone = {
        dt: ws.gates.run("dwh", dt, "alone", lag=dt == DAYS[0], lead=dt == DAYS[-1]) for dt in DAYS
    }
    one_by_one, ran = Counter(ran), []
    batched = ws.gates.run_days("dwh", DAYS, "batched")

    assert batched == alone
    assert all(result.checks and not result.blocking for result in batched.values())
    whole = [s.name for s in ws.gates.layer_suites("dwh") if not s.partition_column]
    assert len(whole) == 4  # the SCD2 dimensions
    assert Counter(ran) == {**one_by_one, **dict.fromkeys(whole, 1)}
    assert one_by_one["dwh.fct_events"] == len(DAYS) + 1  # its D-3..D window: first day only
    assert sum(Counter(ran).values()) == sum(one_by_one.values()) - len(whole) * (len(DAYS) - 1)
    by_day = Counter((r.dt, r.suite) for r in gate_rows(state) if r.run_id == "batched")
    assert by_day == {(dt, s.name): 1 for dt in DAYS for s in ws.gates.layer_suites("dwh")}
    # and no validation leaves its query asset behind: GX rebuilds every asset of the data
    # source whenever one is added, so a long backfill's gates would slow down day after day
    assert ws.gates._context.data_sources.get("warehouse").assets == []


def _unread_statements(sent: list[tuple[str, Any]]) -> dict[str, list[str]]:
    """The statements GX sent that read rows nobody reads: samples (any LIMIT but the column
    probe's), batch queries run whole, and column probes without rows."""
    found: dict[str, list[str]] = {"samples": [], "whole_batches": [], "column_probes": []}
    for statement, _ in sent:
        text = " ".join(statement.split())
        if text.endswith(" as columns_of_batch limit 0"):
            found["column_probes"].append(text)
        elif re.search(r"\bLIMIT\b", text, re.IGNORECASE):
            found["samples"].append(text)
        elif re.fullmatch(r'select \* from "[^"]+"\."[^"]+"\."[^"]+"( where .*)?', text, re.I):
            found["whole_batches"].append(text)
    return found


def test_a_gate_fetches_no_sample_of_failing_values_yet_counts_and_keeps_every_failing_row(
    clean: Build, tmp_path: Path
) -> None:
    """GX fetched a sample of 20 failing values for every map check, passing or not, which
    nothing here reads: a full second scan for a uniqueness check. Asked for a sample of none,
    GX still sent the statement with LIMIT 0, and it ran each validation's batch query whole to
    learn its column names: query jobs on BigQuery, billed for what they read. No sample is sent
    now and the names come from a statement without rows, for a passing gate or a failing one,
    and a failing gate still counts its rows and keeps every one (the relationship check too,
    an anti-join now)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    warehouse, state = copy_build(clean, tmp_path)
    ws = Workspace.open(
        settings_at(clean.settings.project_dir, clean.settings.lake, warehouse, state)
    )
    day = DAYS[-1]
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        sent.append((sql, params))

    event.listen(Engine, "before_cursor_execute", record)  # every engine GX makes
    try:
        passed = ws.gates.run("dwh", day, "clean")
        passed_unread = _unread_statements(sent)
        [(event_id,)] = query(
            warehouse, "select min(event_id) from dwh.fct_events where event_date = $d", {"d": day}
        )
        for copy in (  # an event of a user nobody knows, and a second copy of an event
            "select * replace ('orphan-event' as event_id, 'no-such-user' as user_id)",
            "select * replace ('no-such-user' as user_id)",
        ):
            query(
                warehouse,
                f"insert into dwh.fct_events {copy} from dwh.fct_events where event_id = $e",
                {"e": event_id},
            )
        sent.clear()
        failed = ws.gates.run("dwh", day, "damaged")
        failed_unread = _unread_statements(sent)
    finally:
        event.remove(Engine, "before_cursor_execute", record)

    assert passed.checks and not passed.blocking and not passed.warnings
    for unread in (passed_unread, failed_unread):
        assert unread["samples"] == [] and unread["whole_batches"] == [], unread
        assert unread["column_probes"], unread  # one statement without rows per validation
    failing = {(c.suite, c.expectation, c.column): c for c in failed.checks if not c.success}
    unique = failing["dwh.fct_events", "expect_column_values_to_be_unique", "event_id"]
    assert (unique.severity, unique.unexpected_count) == ("critical", 2)
    orphans = failing["dwh.fct_events", "unexpected_rows_expectation", None]
    assert (orphans.severity, orphans.observed) == ("warning", 2)
    kept: dict[str, list[str]] = {}
    for row in audit_failures(warehouse):
        if row[0] == "damaged" and row[3] == "dwh.fct_events":
            kept.setdefault(row[4], []).append(row[-1]["event_id"])
    assert sorted(kept["expect_column_values_to_be_unique"]) == [event_id, event_id]
    assert sorted(kept["unexpected_rows_expectation"]) == sorted([event_id, "orphan-event"])


# ---- a duplicate key in the DWH -------------------------------------------------------------


def test_a_duplicate_key_in_the_dwh_is_blocked_and_stops_the_marts(
    clean: Build, tmp_path: Path
) -> None:
    bad_day = DAYS[2]
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    model = project / "models" / "dwh" / "fct_events.sql"
    model.write_text(model.read_text().rstrip() + "\n" + DUPLICATES.format(day=bad_day))
    warehouse, state = copy_build(clean, tmp_path / "build")
    ws = Workspace.open(settings_at(project, clean.settings.lake, warehouse, state))

    report = failed_run(ws, [(bad_day, "dwh")])
    assert this_run(ws, report.run_id) == [
        (bad_day, "dwh", 2, Status.BLOCKED, "GateFailed"),
        (bad_day, "marts", 2, Status.BLOCKED, "WindowBlocked"),  # what reads fct_events waits
    ]

    failures = audit_failures(warehouse)  # every failing row is kept, whole
    duplicated = Counter(f[-1]["event_id"] for f in failures)
    assert set(duplicated.values()) == {2}
    bad_rows = sum(duplicated.values())
    assert bad_rows > 200  # beyond GX's capped lists
    for schema in ("dwh", "dwh_audit"):  # no reader ever saw them; the audit copy was restored
        assert (
            query(
                warehouse,
                f"""select event_id from {schema}.fct_events where event_date = $d
            group by event_id having count(*) > 1""",
                {"d": bad_day},
            )
            == []
        )
    (blocked,) = [a for a in ws.ledger.attempts() if a.run_id == report.run_id and a.layer == "dwh"]
    assert blocked.error_message == (
        "dwh.fct_events.event_id expect_column_values_to_be_unique "
        f"(observed None, {bad_rows} bad rows)"
    )
    failures = audit_failures(warehouse)
    assert {f[:-1] for f in failures} == {
        (
            report.run_id,
            bad_day,
            "dwh",
            "dwh.fct_events",
            "expect_column_values_to_be_unique",
            "critical",
            "event_id",
        )
    }
    assert Counter(f[-1]["event_id"] for f in failures) == duplicated
    assert schema_checksums(warehouse, "marts") == schema_checksums(clean.settings.duckdb, "marts")

    again = failed_run(ws, [(bad_day, "dwh")])  # history is kept, not overwritten
    assert this_run(ws, again.run_id) == [
        (bad_day, "dwh", 3, Status.BLOCKED, "GateFailed"),
        (bad_day, "marts", 3, Status.BLOCKED, "WindowBlocked"),
    ]
    kept = audit_failures(warehouse)
    assert Counter(f[0] for f in kept) == {report.run_id: bad_rows, again.run_id: bad_rows}
    assert sorted(map(str, [f for f in kept if f[0] == report.run_id])) == sorted(
        map(str, failures)
    )


# ---- a volume drop at landing ---------------------------------------------------------------


def test_a_volume_drop_of_90_percent_is_blocked_at_raw(clean: Build, tmp_path: Path) -> None:
    bad_day = DAYS[-1]
    lake = tmp_path / "lake"
    shutil.copytree(clean.settings.lake, lake)  # keeps mtimes: only the trimmed day changes
    kept = trim_events(lake, bad_day)
    warehouse, state = copy_build(clean, tmp_path / "build")
    ws = Workspace.open(settings_at(clean.settings.project_dir, lake, warehouse, state))
    assert plan(ws, DAYS[0], DAYS[-1]) == [PlannedDay(bad_day, "raw", "stale")]

    report = failed_run(ws, [(bad_day, "raw")])
    assert this_run(ws, report.run_id) == [
        (bad_day, "dwh", 2, Status.BLOCKED, "WindowBlocked"),  # everything reads the lake day
        (bad_day, "marts", 2, Status.BLOCKED, "WindowBlocked"),
        (bad_day, "raw", 2, Status.BLOCKED, "GateFailed"),
    ]
    [(landed,)] = query(
        warehouse, "select count(*) from raw_audit.events where dt = $d", {"d": bad_day}
    )
    [(published,)] = query(
        warehouse, "select count(*) from raw.events where dt = $d", {"d": bad_day}
    )
    assert published == valid_lines(clean.settings.lake, bad_day)  # the last good delivery
    history = [
        int(r.row_count or 0)
        for r in gate_rows(state)
        if r.suite == "raw.events" and r.dt < bad_day
    ]
    assert history == [valid_lines(clean.settings.lake, day) for day in DAYS[:-1]]
    assert len(history) >= MIN_HISTORY
    assert 0 < landed <= kept < 0.5 * median(history)
    (blocked,) = [a for a in ws.ledger.attempts() if a.run_id == report.run_id and a.layer == "raw"]
    assert (blocked.error_message or "").startswith(
        f"raw.events {VOLUME} (observed {landed}, 0 bad rows; expected "
    )
    assert "first weeks" in (blocked.error_message or "")
    (row,) = [r for r in gate_rows(state) if r.run_id == report.run_id and r.suite == "raw.events"]
    (volume,) = [
        c for c in row.details if c["expectation"] == VOLUME and c["severity"] == "critical"
    ]
    assert (row.success, row.row_count) == (0, landed)
    assert (volume["severity"], volume["success"], volume["observed"]) == (
        "critical",
        False,
        landed,
    )
    low, high = volume["bounds"]
    assert landed < low < high and f"expected {low:,}..{high:,} rows" in volume["expected"]
    failures = audit_failures(warehouse)
    assert {f[:-2] for f in failures} == {
        (report.run_id, bad_day, "raw", "raw.events", VOLUME, severity)
        for severity in ("critical", "warning")  # outside both bands of the first weeks
    }
    for schema in ("dwh", "marts"):  # nothing downstream ran
        assert schema_checksums(warehouse, schema) == schema_checksums(
            clean.settings.duckdb, schema
        )


def test_with_too_little_history_a_volume_drop_only_warns(clean: Build, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(clean.settings.lake, lake)
    small_day = DAYS[1]  # one checked partition before it
    trim_events(lake, small_day)
    ws = Workspace.open(settings_at(clean.settings.project_dir, lake, tmp_path / "w.duckdb"))

    report = run_partitions(ws, [(DAYS[0], None), (small_day, None)])
    assert report.failed == []
    warehouse = ws.settings.duckdb
    [(landed,)] = query(
        warehouse, "select count(*) from raw.events where dt = $d", {"d": small_day}
    )
    [(events,)] = query(
        warehouse,
        "select count(*) from dwh.fct_events where event_date = $d and landed_date <= $d",
        {"d": small_day},
    )
    latest = ws.ledger.latest()
    assert {key: a.status for key, a in latest.items()} == {
        (day, layer): Status.SUCCEEDED for day in (DAYS[0], small_day) for layer in LAYERS
    }
    for layer, suite, observed in (
        ("raw", "raw.events", landed),
        ("dwh", "dwh.fct_events", events),
    ):
        (warning,) = [
            w for w in latest[small_day, layer].details["gate"]["warnings"] if w.startswith(suite)
        ]
        assert warning.startswith(f"{suite} {VOLUME} (observed {observed}, 0 bad rows; expected ")
        assert "first weeks, warns" in warning
    rows = {(r.dt, r.suite): r for r in gate_rows(ws.settings.state)}
    for suite, observed in (("raw.events", landed), ("dwh.fct_events", events)):
        row = rows[small_day, suite]
        volumes = {c["severity"]: c for c in row.details if c["expectation"] == VOLUME}
        assert (row.success, row.row_count) == (0, observed)
        assert (volumes["warning"]["success"], volumes["critical"]["success"]) == (False, True)
        assert rows[DAYS[0], suite].success == 1
        assert observed < 0.5 * int(rows[DAYS[0], suite].row_count or 0)
    failures = audit_failures(warehouse)
    assert {f[1:-2] for f in failures} == {
        (small_day, "raw", "raw.events", VOLUME, "warning"),
        (small_day, "dwh", "dwh.fct_events", VOLUME, "warning"),
        # the staging table's default suite (its YAML's key and a volume rule) sees it too
        (small_day, "dwh", "staging.stg_app__events", VOLUME, "warning"),
    }
    assert table_checksums(warehouse, ("marts",))["marts.daily_kpis"][0] > 0


def test_gates_of_days_landed_side_by_side_give_the_results_of_one_at_a_time(
    clean: Build, tmp_path: Path
) -> None:
    """Landing runs days side by side where the warehouse takes several writers (BigQuery), and
    each day's raw gate runs in its own thread on the one GX context: an asset another thread
    added or deleted meanwhile made a validation fail with `LookupError: ... not found`."""
    from concurrent.futures import ThreadPoolExecutor

    from flows.warehouse.duckdb_warehouse import _AUDIT_DDL

    warehouse, state = copy_build(clean, tmp_path / "build")
    # where failing rows go exists, as after any failed check: DuckDB itself takes one writer,
    # so its catalog is not what this test is about
    query(warehouse, f"create schema if not exists audit; {_AUDIT_DDL}")
    ws = Workspace.open(
        settings_at(clean.settings.project_dir, clean.settings.lake, warehouse, state)
    )

    def outcome(day: date) -> list[tuple[str, str, bool, Any]]:
        result = ws.gates.run(RAW_LAYER, day, f"side-by-side-{day}")
        return sorted((c.suite, c.expectation, c.success, c.observed) for c in result.checks)

    one_at_a_time = {day: outcome(day) for day in DAYS}
    with ThreadPoolExecutor(len(DAYS)) as pool:
        for _ in range(3):  # the race needs threads inside GX at the same moment
            side_by_side = dict(zip(DAYS, pool.map(outcome, DAYS), strict=True))
            assert side_by_side == one_at_a_time
    assert all(one_at_a_time.values())
