"""`sluice report`: what the page shows, read from a real state store, and that it escapes data."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from flows.cli import tables
from flows.cli.main import main
from flows.errors import one_line
from flows.gates.history import latest
from flows.pipeline import report_page
from flows.pipeline.report_data import NEVER_RUN, Band, GateDay, Overview, Volume, gather
from flows.pipeline.run_records import RunReport
from flows.pipeline.run_report import overview_path, write_html
from flows.settings import get_settings
from flows.state.store import StateStore
from tests.report_state import BLOCKS, DAYS, HOSTILE, ROWS, STEPS, fill, seconds

BUILT = datetime(2026, 11, 9, 7, 30, tzinfo=UTC)
NOV_3, NOV_4, NOV_5, NOV_6 = DAYS[2:]


def printed_run(run: RunReport, folder: Path) -> str:
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    tables.print_run(run, folder, console)
    return console.export_text()


@pytest.fixture()
def store(tmp_path: Path) -> StateStore:
    return fill(tmp_path / "state.sqlite")


@pytest.fixture()
def overview(store: StateStore) -> Overview:
    return gather(store, 30, BUILT)


def test_the_grid_holds_the_latest_attempt_of_every_lake_day_and_step(overview: Overview) -> None:
    assert overview.days == tuple(DAYS)
    assert overview.steps == STEPS  # in the order they first ran
    states = {(dt, step): overview.cell(dt, step).state for dt in DAYS for step in STEPS}
    expected = {(dt, step): "succeeded" for dt in DAYS for step in STEPS}
    expected |= {(NOV_4, "raw"): "blocked", (NOV_4, "dwh"): "blocked"}
    expected |= {(NOV_4, "marts"): "blocked", (NOV_5, "dwh"): "failed"}
    expected |= {(NOV_5, "marts"): "running", (NOV_6, "dwh"): NEVER_RUN}
    expected |= {(NOV_6, "marts"): NEVER_RUN}
    assert states == expected
    retried = overview.cell(NOV_3, "dwh")  # failed once in 99 s, then succeeded
    assert (retried.attempt, retried.seconds, retried.error) == (2, seconds(NOV_3, "dwh"), "")
    failed = overview.cell(NOV_5, "dwh")
    assert (failed.attempt, failed.error) == (1, one_line(f"StepFailed: {HOSTILE}"))
    assert overview.cell(NOV_4, "raw").error == "GateFailed: raw.events volume 900"
    assert overview.cell(NOV_4, "raw").accepted.startswith("outage, confirmed (accepted 2026-")
    assert overview.cell(NOV_5, "marts").seconds is None
    assert [c.step for c in overview.cells if c.accepted] == ["raw"]


def test_days_keeps_the_last_lake_days_the_ledger_knows(store: StateStore) -> None:
    overview = gather(store, 2, BUILT)
    assert overview.days == (NOV_5, NOV_6)
    assert {c.dt for c in overview.cells} == {NOV_5, NOV_6}
    assert [v.dt for v in overview.volumes] == [NOV_5, NOV_6]
    assert [g.dt for g in overview.gate_days] == [NOV_5, NOV_6]


def test_each_days_volume_comes_with_the_ranges_its_checks_held_it_to(overview: Overview) -> None:
    rule = [f"expected {BLOCKS[day][0]:,}.. rows" for day in DAYS]
    unbounded = [Band(1, None, rule[0]), Band(1, None, rule[1])]  # the floor alone
    bands = unbounded + [Band(8_000, 14_001, rule[i]) for i in range(2, 6)]
    warns = {DAYS[1]: Band(5_000, 10_500, "first weeks, warns")}
    assert list(overview.volumes) == [
        Volume("raw.events", day, ROWS[day], bands[i], warns.get(day)) for i, day in enumerate(DAYS)
    ]


def test_gate_checks_per_day_count_those_that_passed_warned_and_blocked(
    overview: Overview,
) -> None:
    assert list(overview.gate_days) == [
        GateDay(DAYS[0], 2, 0, 0),
        GateDay(DAYS[1], 2, 1, 0),  # 11,000 rows, above the warning band's 10,500
        GateDay(NOV_3, 2, 0, 0),
        GateDay(NOV_4, 1, 0, 1),  # the outage: 900 rows
        GateDay(NOV_5, 2, 0, 0),
        GateDay(NOV_6, 2, 0, 0),
    ]


def test_the_gate_history_keeps_a_volume_checks_range(store: StateStore) -> None:
    (run,) = latest(store, NOV_4, NOV_4)
    volume = next(c for c in run.checks if c.bounds is not None)
    assert (run.row_count, run.success, volume.bounds, volume.success) == (
        900,
        False,
        (8_000, 14_001),
        False,
    )


def test_only_open_incidents_are_listed_most_recently_seen_first(overview: Overview) -> None:
    assert [(i.partition, i.layer, i.what) for i in overview.incidents] == [
        (NOV_5, "dwh", HOSTILE),
        (NOV_4, "raw", "raw.events volume"),
    ]


def test_the_page_escapes_every_string_from_the_state_store(
    overview: Overview, tmp_path: Path
) -> None:
    page = report_page.render(overview, tmp_path / "state.sqlite")
    assert HOSTILE not in page and "<img src=x" not in page
    escaped = report_page.esc(one_line(f"StepFailed: {HOSTILE}"))
    assert escaped.startswith("StepFailed: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;")
    title = f"{escaped} (attempt 1, {seconds(NOV_5, 'dwh')} s)"
    assert f'<td class="cell state-failed" title="{title}">failed</td>' in page
    assert f"<b>2026-11-05 dwh</b> (attempt 1, failed): {escaped}</li>" in page
    assert f"<td>{report_page.esc(HOSTILE)}</td>" in page  # the incident's what
    cells = re.findall(r'<td class="cell state-([a-z-]+)( accepted)?"', page)
    assert len(cells) == len(DAYS) * len(STEPS)
    assert cells.count(("never-run", "")) == 2 and cells.count(("blocked", " accepted")) == 1
    assert page.count("<script") == 4  # plotly.js once, then one script per chart
    for chart in ("volume", "durations", "gates"):
        assert f'<section class="chart" id="chart-{chart}">' in page


def test_an_empty_state_store_gives_a_page_with_nothing_to_draw(tmp_path: Path) -> None:
    overview = gather(StateStore(tmp_path / "empty.sqlite"), 30, BUILT)
    assert (overview.days, overview.steps, overview.cells) == ((), (), ())
    page = report_page.render(overview, tmp_path / "empty.sqlite")
    assert "no partition has run yet" in page and "no open incident" in page
    assert page.count("nothing to draw in these days") == 3


def test_sluice_report_writes_the_page_that_each_run_links_to(
    store: StateStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reports = tmp_path / "reports"
    monkeypatch.setenv("SLUICE_STATE", str(store.path))
    monkeypatch.setenv("SLUICE_REPORTS", str(reports))
    get_settings.cache_clear()
    try:
        run = RunReport("run-2", [], [], 1.0)
        assert "Report page" not in printed_run(run, reports)
        assert main(["report", "--days", "3"]) == 0
    finally:
        get_settings.cache_clear()
    page = overview_path(reports)
    assert capsys.readouterr().out == (
        f"wrote the report of 3 lake days (2026-11-04..2026-11-06) to {page.as_uri()}\n"
    )
    assert page.stat().st_size > 1_000_000  # plotly.js is inlined
    text = page.read_text()
    assert "lake days 2026-11-04..2026-11-06 (3 days)" in text
    assert len(re.findall(r'<td class="cell ', text)) == 3 * len(STEPS)
    assert f"Report page (as sluice report last built it): {page.as_uri()}" in printed_run(
        run, reports
    )
    run_page = write_html(reports, "run-2", [], [], 1.0, BUILT).read_text()
    assert f'<a href="{page.as_uri()}">Report of the last lake days</a>' in run_page


def test_report_refuses_a_days_that_is_not_a_positive_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--days", "0"])
    assert exit_.value.code == 2
    assert "expected a positive integer, got '0'" in capsys.readouterr().err
