"""The two promises on every path: what a gate refused reaches no reader, and the ledger tells the
truth about its own warehouse. Real dbt builds, real DuckDB files, real Great Expectations."""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing, suppress
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.errors import LockLost, PartitionsFailed, StateMismatch
from flows.pipeline.plan import plan, step_states
from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import BINDING_LOCK, Workspace
from flows.project.dbt_runner import DbtProject
from flows.sample.lake import generate_lake
from flows.sample.spec import LakeSpec
from flows.settings import Settings
from flows.state.ledger import Reason, Status
from tests.support import copy_project, settings_at

pytestmark = pytest.mark.usefixtures("prefect_server")

MONDAY = date(2026, 11, 2)


def days_from(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def make_lake(root: Path, days: int, events: int = 300, seed: int = 17) -> Path:
    generate_lake(root, LakeSpec(start=MONDAY, days=days, events_per_day=events, seed=seed))
    return root


def query(warehouse: Path, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    con = duckdb.connect(str(warehouse))
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def count(warehouse: Path, relation: str, where: str, day: date) -> int:
    return int(query(warehouse, f"select count(*) from {relation} where {where}", {"d": day})[0][0])


def run(ws: Workspace, days: list[date]) -> None:
    """Run lake days as one run (a backfill); days that fail are the ledger's business."""
    with suppress(PartitionsFailed):
        run_partitions(ws, [(day, None) for day in days])


def latest(ws: Workspace, day: date, layer: str) -> Any:
    return ws.ledger.latest(day, day)[(day, layer)]


def add_expectation(project: Path, suite: str, expectation: dict[str, Any]) -> None:
    path = project / "expectations" / "expectations" / f"{suite.replace('.', '/')}.json"
    doc = json.loads(path.read_text())
    doc["expectations"].append(expectation)
    path.write_text(json.dumps(doc, indent=2))


def refuse_lake_day(project: Path, suite: str, column: str, day: date) -> None:
    """A critical check of one suite that fails on one lake day's partition only."""
    add_expectation(
        project,
        suite,
        {
            "type": "unexpected_rows_expectation",
            "kwargs": {
                "unexpected_rows_query": f"select * from {{batch}} where {column} = date '{day}'"
            },
            "meta": {"why": "test: refuse one lake day", "sluice": {"scope": "partition"}},
            "severity": "critical",
        },
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


# ---- 1, 2: a day refused at landing reaches no public table, on a first build too -------------


def test_a_day_refused_at_landing_reaches_no_public_table_on_a_first_build(
    tmp_path: Path,
) -> None:
    days = days_from(MONDAY, 6)
    lake = make_lake(tmp_path / "lake", len(days))
    cut = days[-1]  # the last day delivered with 5 % of its event lines
    for part in (lake / "events" / f"dt={cut}").glob("part-*.jsonl.gz"):
        lines = gzip.decompress(part.read_bytes()).splitlines(keepends=True)
        part.write_bytes(gzip.compress(b"".join(lines[: max(1, len(lines) // 20)])))
    ws = Workspace.open(settings_at(copy_project(tmp_path / "p"), lake, tmp_path / "w.duckdb"))
    run(ws, days)  # a backfill into a new warehouse: every model's first build

    raw = latest(ws, cut, "raw")
    assert (raw.status, raw.error_class) == (Status.BLOCKED, Reason.GATE_FAILED)
    assert "expected" in (raw.error_message or "")  # the volume gate names its range
    wh = ws.settings.duckdb
    assert count(wh, "raw.events", "dt = $d", cut) == 0
    assert count(wh, "raw_audit.events", "dt = $d", cut) > 0  # kept for the operator to see
    assert count(wh, "dwh.fct_events", "landed_date = $d", cut) == 0
    assert count(wh, "dwh.fct_events", "event_date = $d", cut) == 0
    assert count(wh, "marts.daily_kpis", "event_date = $d", cut) == 0
    assert count(wh, "dwh.fct_events", "event_date = $d", days[0]) > 0  # the rest published

    # An analytics engineer's plain `dbt run` (no vars) reads the published raw and writes the
    # _dev schemas: the published ones stay as the pipeline left them.
    published = {schema: checksums(wh, schema) for schema in ("staging", "dwh", "marts")}
    plain = DbtProject(ws.settings, variant="analytics-engineer")
    assert plain.invoke(["run", "--select", "+daily_kpis"]).success
    assert {schema: checksums(wh, schema) for schema in published} == published
    assert count(wh, "marts_dev.daily_kpis", "event_date = $d", days[0]) > 0
    assert count(wh, "dwh_dev.fct_events", "landed_date = $d", cut) == 0  # raw never had it


# ---- 2, 3: refused by a DWH gate, invisible, and blocking exactly what reads it -----------------


@pytest.fixture(scope="module")
def refused_dwh_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, list[date]]:
    """Six lake days run one by one; fct_events' checks refuse lake day 2's partition."""
    root = tmp_path_factory.mktemp("refused")
    days = days_from(MONDAY, 6)
    lake = make_lake(root / "lake", len(days))
    project = copy_project(root / "project")
    refuse_lake_day(project, "dwh.fct_events", "landed_date", days[1])
    ws = Workspace.open(settings_at(project, lake, root / "w.duckdb"))
    for day in days:
        run(ws, [day])
    return ws, days


def test_rows_a_dwh_gate_refused_are_in_no_public_table(
    refused_dwh_day: tuple[Workspace, list[date]],
) -> None:
    ws, days = refused_dwh_day
    bad = days[1]
    assert (latest(ws, bad, "dwh").status, latest(ws, bad, "dwh").error_class) == (
        Status.BLOCKED,
        Reason.GATE_FAILED,
    )
    wh = ws.settings.duckdb
    assert count(wh, "dwh.fct_events", "event_date = $d", bad) == 0
    assert count(wh, "dwh_audit.fct_events", "event_date = $d", bad) == 0  # restored
    assert count(wh, "marts.daily_kpis", "event_date = $d", bad) == 0
    # the days whose fct_events window holds the refused date wait for it
    for later in days[2:5]:
        dwh = latest(ws, later, "dwh")
        assert dwh.error_class == Reason.WINDOW_BLOCKED, later
        assert "would rewrite dates of fct_events" in (dwh.error_message or "")
        assert "fct_events" in dwh.details["refused"] and "dim_users" in dwh.details["published"]


def test_a_blocked_day_blocks_the_models_that_read_it_and_no_others(
    refused_dwh_day: tuple[Workspace, list[date]],
) -> None:
    ws, days = refused_dwh_day
    last = days[-1]  # 5 days after the refused one: out of fct_events' reach, in bandit's
    marts = latest(ws, last, "marts")
    assert (marts.status, marts.error_class) == (Status.BLOCKED, Reason.WINDOW_BLOCKED)
    assert set(marts.details["refused"]) == {"bandit_weights"}
    assert {"daily_kpis", "ab_pattern_results"} <= set(marts.details["published"])
    wh = ws.settings.duckdb
    assert count(wh, "marts.daily_kpis", "event_date = $d", last) > 0
    assert count(wh, "marts.bandit_weights", "weights_date = $d", last) == 0


def test_an_accepted_day_publishes_and_stops_blocking_its_neighbours(
    refused_dwh_day: tuple[Workspace, list[date]],
) -> None:
    ws, days = refused_dwh_day
    bad = days[1]
    ws.ledger.accept(bad, "dwh", "known partial delivery, confirmed with the app team")
    planned = plan(ws, days[0], days[-1], only_failed=True)
    assert [p.dt for p in planned] == days[1:]
    run_partitions(ws, [(p.dt, p.from_layer) for p in planned])
    for day in days:
        for layer in ("raw", "dwh", "marts"):
            assert latest(ws, day, layer).status == Status.SUCCEEDED, (day, layer)
    assert "known partial delivery" in latest(ws, bad, "dwh").details["accepted"]
    wh = ws.settings.duckdb
    assert count(wh, "dwh.fct_events", "event_date = $d", bad) > 0
    assert count(wh, "marts.bandit_weights", "weights_date = $d", days[-1]) > 0


# ---- 4: the ledger belongs to its warehouse ----------------------------------------------------


def test_the_ledger_never_calls_done_what_its_warehouse_does_not_hold(
    lake: Path, tmp_path: Path
) -> None:
    from tests.support import START

    project = copy_project(tmp_path / "p")
    first = Settings(project_dir=project, lake=lake, duckdb=tmp_path / "a.duckdb").resolved()
    second = Settings(project_dir=project, lake=lake, duckdb=tmp_path / "b.duckdb").resolved()
    assert first.state != second.state  # each warehouse has its own state by default
    ws = Workspace.open(first)
    run_partitions(ws, [(START, None)])
    assert plan(ws, START, START) == []

    # the same state store, pointed at a new warehouse: not "up to date"
    swapped = Workspace.open(second.model_copy(update={"state": first.state}))
    [day] = plan(swapped, START, START)
    assert (day.from_layer, day.reason) == ("raw", "stale")
    with pytest.raises(StateMismatch, match="describes warehouse"):
        run_partitions(swapped, [(START, None)])

    # a dropped table is noticed too; status itself reads only the ledger (never the warehouse)
    query(first.duckdb, "drop table marts.daily_kpis")
    [day] = plan(ws, START, START)
    assert (day.from_layer, day.reason) == ("marts", "stale")
    assert {s.state for s in step_states(ws, START, START)} == {"succeeded"}


def test_runs_starting_together_on_a_new_warehouse_agree_on_its_identity(
    lake: Path, tmp_path: Path
) -> None:
    """Two runs start at once on a new warehouse and a new state store (BigQuery lets writers
    overlap: bq-check's concurrent backfills met this). The second read the warehouse before
    the first wrote its identity and the store after the first bound it, and stopped with
    StateMismatch ("a new warehouse"). Here the first run's whole check happens right after the
    second's first read, whichever it is: both must end bound to the one identity written."""
    project = copy_project(tmp_path / "p")
    settings = Settings(project_dir=project, lake=lake, duckdb=tmp_path / "w.duckdb").resolved()
    first, second = Workspace.open(settings), Workspace.open(settings)

    class FirstRunsMeanwhile:
        """Forwards to a warehouse or store; its first read of the identity or the binding
        lets the first run check the warehouse before the answer comes back."""

        def __init__(self, inner: Any, read: str) -> None:
            self._inner, self._read = inner, read

        def __getattr__(self, name: str) -> Any:
            found = getattr(self._inner, name)
            if name != self._read:
                return found

            def read(*args: Any, **kwargs: Any) -> Any:
                answer = found(*args, **kwargs)
                if not meanwhile:
                    meanwhile.append(first.check_warehouse("first-run"))
                return answer

            return read

    meanwhile: list[None] = []
    second.warehouse = FirstRunsMeanwhile(second.warehouse, "identity")  # type: ignore[assignment]
    second.__dict__["store"] = FirstRunsMeanwhile(second.store, "binding")
    second.check_warehouse("second-run")

    assert meanwhile  # the first run did check in between
    written = query(settings.duckdb, "select id from sluice_meta.identity")
    assert len(written) == 1
    binding = first.store.binding()
    assert binding is not None and binding.id == written[0][0]
    first.check_warehouse("first-run")  # the store is bound to what the warehouse holds
    assert first.locks.holder(BINDING_LOCK) is None  # and the binding's lock is free again


# ---- 5: a new model is published only through a gate -----------------------------------------

WEEKLY_SQL = """with
events as (
    select event_date, user_id
    from {{ ref('fct_events') }}
    where {{ in_window('event_date') }}
)

select
    event_date,
    cast(count(distinct user_id) as {{ dbt.type_bigint() }}) as active_users
from events
group by event_date
"""
WEEKLY_YML = """version: 2
models:
  - name: weekly_kpis
    description: Active users per event date (a new mart).
    config:
      event_time: event_date
      meta: {{window: {{lag_days: 3, lead_days: 0}}}}
    {tests}
    columns:
      - name: event_date
        description: The event date.
        data_type: date
      - name: active_users
        description: Users with any event that date.
        data_type: bigint
        data_tests: [not_null]
"""


def test_a_new_mart_gets_a_default_gate_and_one_without_a_key_is_never_published(
    lake: Path, tmp_path: Path
) -> None:
    from tests.support import START

    project = copy_project(tmp_path / "p")
    kpi = project / "models" / "marts" / "kpi"
    (kpi / "weekly_kpis.sql").write_text(WEEKLY_SQL)
    keyed = (
        "data_tests:\n      - unique_combination:\n          arguments:\n"
        "            columns: [event_date]"
    )
    (kpi / "_weekly.yml").write_text(WEEKLY_YML.format(tests=keyed))
    ws = Workspace.open(settings_at(project, lake, tmp_path / "keyed.duckdb"))
    run(ws, [START])
    assert latest(ws, START, "marts").status == Status.SUCCEEDED
    with closing(sqlite3.connect(ws.settings.state)) as con:
        checked = con.execute("select suite from gate_checks where layer = 'marts'").fetchall()
    assert ("marts.weekly_kpis",) in checked
    assert count(ws.settings.duckdb, "marts.weekly_kpis", "event_date = $d", START) == 1

    (kpi / "_weekly.yml").write_text(WEEKLY_YML.format(tests=""))
    ws = Workspace.open(settings_at(project, lake, tmp_path / "keyless.duckdb"))
    run(ws, [START])
    marts = latest(ws, START, "marts")
    assert (marts.status, marts.error_class) == (Status.BLOCKED, Reason.GATE_FAILED)
    assert "weekly_kpis has no suite and declares no key" in (marts.error_message or "")
    assert "daily_kpis" in marts.details["published"]
    tables = query(
        ws.settings.duckdb,
        "select table_name from information_schema.tables where table_schema = 'marts'",
    )
    assert ("weekly_kpis",) not in tables


# ---- 6, 7: restore on any failure, publish by column name, all or nothing ----------------------


def checksums(warehouse: Path, schema: str) -> dict[str, tuple[int, int]]:
    from tests.support import table_checksums

    return {k.split(".", 1)[1]: v for k, v in table_checksums(warehouse, (schema,)).items()}


def test_failures_restore_the_audit_copy_and_publishing_matches_columns_by_name(
    lake: Path, tmp_path: Path
) -> None:
    from tests.support import lake_days

    day1, day2, day3, day4 = lake_days()[:4]
    project = copy_project(tmp_path / "p")
    settings = settings_at(project, lake, tmp_path / "w.duckdb")
    run(Workspace.open(settings), [day1])

    # columns reordered in a mart whose audit copy is rebuilt: values travel by name
    kpis = project / "models" / "marts" / "kpi" / "daily_kpis.sql"
    searches = "    cast(searches as {{ dbt.type_bigint() }}) as searches,\n"
    impressions = "    cast(impressions as {{ dbt.type_bigint() }}) as impressions,\n"
    edit(kpis, searches + impressions, impressions + searches)
    wh = settings.duckdb
    query(wh, "drop table marts_audit.daily_kpis")  # rebuilt in the new column order
    ws = Workspace.open(settings)
    run(ws, [day2])
    assert latest(ws, day2, "marts").status == Status.SUCCEEDED
    select = "select platform, searches, impressions from {} where event_date = $d order by 1"
    published = query(wh, select.format("marts.daily_kpis"), {"d": day2})
    assert published and published == query(
        wh, select.format("marts_audit.daily_kpis"), {"d": day2}
    )

    # a mart that fails to build on one day: the audit copy keeps none of that day's new rows
    bandit = project / "models" / "marts" / "experiments" / "bandit_weights.sql"
    edit(
        bandit,
        "cast(exposures_28d as {{ dbt.type_bigint() }}) as exposures_28d,",
        f"cast({{{{ 'no_such_column' if var('run_start') == '{day3}' else 'exposures_28d' }}}}"
        " as {{ dbt.type_bigint() }}) as exposures_28d,",
    )
    ws = Workspace.open(settings)
    run(ws, [day3])
    assert latest(ws, day3, "marts").status == Status.FAILED
    assert checksums(wh, "marts_audit") == checksums(wh, "marts")

    # a DWH model that fails on one day: no model of the layer publishes that day
    before = checksums(wh, "dwh")
    apps = project / "models" / "dwh" / "fct_applications.sql"
    broken = f"{{{{ 'no_such_column' if var('run_start') == '{day4}' else 'previous_status' }}}}"
    edit(
        apps,
        "    previous_status,\n    status_date,",
        f"    {broken} as previous_status,\n    status_date,",
    )
    ws = Workspace.open(settings)
    run(ws, [day4])
    assert latest(ws, day4, "dwh").status == Status.FAILED
    assert checksums(wh, "dwh") == before
    assert checksums(wh, "dwh_audit").keys() >= before.keys()


# ---- 8: a run that lost its lock stops before it publishes ------------------------------------


def test_a_run_that_lost_its_lock_stops_before_publishing(lake: Path, tmp_path: Path) -> None:
    from tests.support import START

    ws = Workspace.open(settings_at(copy_project(tmp_path / "p"), lake, tmp_path / "w.duckdb"))
    checks: Callable[..., Any] = ws.gates.run

    def steal_then_check(*args: Any, **kwargs: Any) -> Any:
        with ws.store.transaction() as con:  # another run takes the day's lock meanwhile
            con.execute(
                "update partition_locks set run_id = 'intruder' where lock_key = :k",
                {"k": f"partition:{START.isoformat()}"},
            )
        return checks(*args, **kwargs)

    ws.gates.run = steal_then_check  # type: ignore[method-assign]
    with pytest.raises(PartitionsFailed):
        run_partitions(ws, [(START, None)])
    raw = latest(ws, START, "raw")
    assert (raw.status, raw.error_class) == (Status.FAILED, LockLost.__name__)
    assert "lost its lock" in (raw.error_message or "")
    assert query(ws.settings.duckdb, "select count(*) from raw.events") == [(0,)]  # unpublished
