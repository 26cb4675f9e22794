"""The daily pipeline on real DuckDB and dbt: truth-exact marts, any day order, safe re-runs."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import Workspace
from tests.support import Build, copy_build, lake_days, settings_for, table_checksums, truth

pytestmark = pytest.mark.usefixtures("prefect_server")


def _build(lake: Path, warehouse: Path, days: list[Any]) -> Workspace:
    ws = Workspace.open(settings_for(lake, warehouse))
    run_partitions(ws, [(day, None) for day in days])
    return ws


@pytest.fixture(scope="module")
def in_order(clean: Build, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built from the session lake, one day after the other (a copy of the session's
    clean build, its state store where settings_for looks)."""
    warehouse, state = copy_build(clean, tmp_path_factory.mktemp("in-order"))
    state.rename(warehouse.with_suffix(".state.sqlite"))
    return warehouse


def test_daily_kpis_equal_the_generator_truth(in_order: Path, lake: Path) -> None:
    con = duckdb.connect(str(in_order))
    rows = con.execute(
        """select event_date, platform, active_users, searches, impressions, clicks, applies
        from marts.daily_kpis order by 1, 2"""
    ).fetchall()
    con.close()
    actual = {(d.isoformat(), p): list(figures) for d, p, *figures in rows}
    expected = {
        (day.isoformat(), platform): [
            k["active_users"],
            k["searches"],
            k["impressions"],
            k["clicks"],
            k["applies"],
        ]
        for day in lake_days()
        for platform, k in truth(lake, day)["daily_kpis"].items()
    }
    assert actual == expected


def test_events_are_deduplicated_and_late_ones_land_in_their_true_day(
    in_order: Path, lake: Path
) -> None:
    con = duckdb.connect(str(in_order))
    counted = con.execute(
        """select event_date, event_type, count(*), count(distinct event_id)
        from dwh.fct_events where event_type <> 'ab_exposure' group by 1, 2"""
    ).fetchall()
    late_kept = con.execute(
        "select count(*) from dwh.fct_events where landed_date > event_date"
    ).fetchone()[0]
    too_late = con.execute(
        "select count(*) from raw.quarantine where reason = 'out_of_window'"
    ).fetchone()[0]
    con.close()
    plural = {
        "search": "searches",
        "impression": "impressions",
        "click": "clicks",
        "apply": "applies",
    }
    actual = {(d.isoformat(), t): n for d, t, n, _ in counted}
    expected = {
        (day.isoformat(), kind): sum(k[name] for k in truth(lake, day)["daily_kpis"].values())
        for day in lake_days()
        for kind, name in plural.items()
    }
    assert actual == expected
    assert all(n == distinct for _, _, n, distinct in counted)
    assert late_kept > 0
    assert too_late == sum(truth(lake, d)["lake"]["events"]["too_late_lines"] for d in lake_days())


def test_shuffled_order_and_reruns_give_the_same_warehouse(
    in_order: Path, lake: Path, tmp_path: Path
) -> None:
    days = lake_days()
    shuffled = days[:]
    random.Random(3).shuffle(shuffled)
    assert shuffled != days
    warehouse = tmp_path / "shuffled.duckdb"
    ws = _build(lake, warehouse, shuffled)
    expected = table_checksums(in_order)
    assert table_checksums(warehouse) == expected
    run_partitions(ws, [(days[2], None), (days[2], None)])
    assert table_checksums(warehouse) == expected
    assert expected["marts.daily_kpis"][0] > 0


def test_the_run_summary_counts_each_layers_tables_on_duckdb(in_order: Path, lake: Path) -> None:
    from flows.pipeline.summary import summarize

    ws = Workspace.open(settings_for(lake, in_order))
    counted = {line.layer: line.rows for line in summarize(ws, [])}
    sums = table_checksums(in_order, ("raw", "marts"))
    marts = sum(n for table, (n, _) in sums.items() if table.startswith("marts."))
    raw = sum(n for table, (n, _) in sums.items() if table.startswith("raw."))
    assert marts > 0 and counted["marts"] == marts
    assert counted["raw"] == raw - sums["raw.quarantine"][0]  # lake tables, not quarantine


def test_a_run_rewrites_no_row_an_earlier_lake_day_decided(
    clean: Build, lake: Path, tmp_path: Path
) -> None:
    """fct_events' window is event dates [D-L, D], but only its rows landed on D or later are
    rebuilt and published: the earliest copy of an event wins, so an earlier lake day's rows
    are final. Rows of the window an earlier lake day landed are marked in both copies; a re-run
    of the last day must leave the marks and give back every other row as it was."""
    warehouse, state = copy_build(clean, tmp_path)
    state.rename(warehouse.with_suffix(".state.sqlite"))
    last = lake_days()[-1]
    ws = Workspace.open(settings_for(lake, warehouse))
    first_date = ws.project.window("fct_events").bounds(last)[0]
    con = duckdb.connect(str(warehouse))
    for schema in ("dwh", "dwh_audit"):
        con.execute(
            f"""update {schema}.fct_events set line_number = -line_number
            where landed_date < $last and event_date >= $first""",
            {"last": last, "first": first_date},
        )
    marked = con.execute("select count(*) from dwh.fct_events where line_number < 0").fetchone()
    con.close()
    before = table_checksums(warehouse)
    assert marked is not None and marked[0] > 1000  # the window holds many earlier rows

    run_partitions(ws, [(last, None)])

    con = duckdb.connect(str(warehouse))
    still = con.execute("select count(*) from dwh.fct_events where line_number < 0").fetchone()
    con.close()
    assert still == marked
    assert table_checksums(warehouse) == before
