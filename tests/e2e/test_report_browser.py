"""The page of `sluice report` in a real headless Chromium: the grid's cells, the three charts
drawn by plotly.js from the page itself, nothing fetched from anywhere but the file, no script
from the data run. The state store is written through the real Ledger, gate history and
Incidents APIs (tests/report_state.py); the screenshot is kept in target/report-screenshots/."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from flows.cli.main import main
from flows.errors import one_line
from flows.settings import PROJECT_DIR, get_settings
from tests.e2e.browser import CHROMIUM_ARGS, chromium_path
from tests.report_state import DAYS, HOSTILE, STEPS, fill

pytestmark = pytest.mark.slow

SCREENSHOTS = PROJECT_DIR / "target" / "report-screenshots"
CHARTS = ("volume", "durations", "gates")


@pytest.fixture()
def page_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`sluice report --out` on the filled state store."""
    store = fill(tmp_path / "state.sqlite")
    monkeypatch.setenv("SLUICE_STATE", str(store.path))
    get_settings.cache_clear()
    out = tmp_path / "page" / "report.html"
    try:
        assert main(["report", "--out", str(out)]) == 0
    finally:
        get_settings.cache_clear()
    return out


def expected_classes() -> list[list[str]]:
    """The state class of each grid cell, the newest lake day's row first."""
    states = {(day, step): "succeeded" for day in DAYS for step in STEPS}
    states |= {(DAYS[3], step): "blocked" for step in STEPS}
    states |= {(DAYS[4], "dwh"): "failed", (DAYS[4], "marts"): "running"}
    states |= {(DAYS[5], "dwh"): "never-run", (DAYS[5], "marts"): "never-run"}
    return [[f"state-{states[day, step]}" for step in STEPS] for day in reversed(DAYS)]


def test_the_report_page_draws_offline_in_chromium(page_file: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(page_file.as_uri(), wait_until="load")
            for chart in CHARTS:
                page.wait_for_selector(f"#chart-{chart} svg.main-svg")
            drawn = {chart: _drawn(page, chart) for chart in CHARTS}
            markers = page.eval_on_selector_all(
                "#chart-volume .scatterlayer path.point", "points => points.map(p => p.style.fill)"
            )
            cells = page.eval_on_selector_all(
                "#grid tbody tr",
                "rows => rows.map(r => [...r.querySelectorAll('td.cell')]"
                ".map(c => [...c.classList].filter(k => k.startsWith('state-'))[0]))",
            )
            failed = page.get_attribute("#grid td.state-failed", "title")
            accepted = page.locator("#grid td.accepted").inner_text()
            incidents = page.locator("#incidents tbody tr").count()
            shot = tmp_path / "sluice-report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert cells == expected_classes()
    assert sum(len(row) for row in cells) == len(DAYS) * len(STEPS)
    assert failed == f"{one_line(f'StepFailed: {HOSTILE}')} (attempt 1, 24.0 s)"  # as text
    assert accepted == "blocked" and incidents == 2
    assert dialogs == []  # the hostile message stayed text
    assert all(svg > 0 for svg, _ in drawn.values()), drawn  # plotly.js drew each chart
    assert {chart: points for chart, (_, points) in drawn.items()} == {
        "volume": len(DAYS) + 4 + 1,  # a marker per lake day; 4 bounded ranges, 1 warning band
        "durations": len(DAYS) * len(STEPS) - 3,  # two steps never ran, one still runs
        "gates": len(DAYS) + 1 + 1,  # a bar of passed checks a day; 1 day warned, 1 blocked
    }
    blue, orange, red = "rgb(30, 136, 229)", "rgb(255, 167, 38)", "rgb(229, 57, 53)"
    assert markers == [blue, orange, blue, red, blue, blue]  # Nov 2 warned, Nov 4 blocked
    assert [url for url in requests if not url.startswith("file://")] == []
    assert requests == [page_file.as_uri()]  # plotly.js is in the page: nothing else loads
    assert shot.stat().st_size > 50_000
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shot, SCREENSHOTS / shot.name)


# A bar of height 0 is still a path ("M x,y V y ..."): only the others show.
SHOWN = """paths => paths.filter(path => {
    const bar = /^M[-\\d.]+,([-\\d.]+)V([-\\d.]+)/.exec(path.getAttribute("d") || "");
    return !bar || bar[1] !== bar[2];
}).length"""


def _drawn(page: Any, chart: str) -> tuple[int, int]:
    """The plot svg elements plotly.js made in a chart's container, and the markers and bars
    it drew there."""
    return (
        page.locator(f"#chart-{chart} svg.main-svg").count(),
        page.eval_on_selector_all(f"#chart-{chart} .point path, #chart-{chart} path.point", SHOWN),
    )
