"""The stakeholder docs in a real headless Chromium: exposure → mart → DWH → raw source, and
where a mart column comes from (its upstream columns, added by `sluice lineage --docs`).

A small warehouse (two lake days through the real pipeline) gives `dbt docs generate` a catalog;
the test opens the single-file static_index.html, walks the pages through their "Depends On"
links, checks the embedded manifest's parent_map, and saves a screenshot of every page and of
the lineage graph (a canvas, so it is looked at, not asserted on).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbt.cli.main import dbtRunner

from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import Workspace
from flows.project.lineage_build import project_lineage
from flows.project.lineage_docs import annotate_docs
from flows.settings import PROJECT_DIR
from tests.e2e.browser import CHROMIUM_ARGS, chromium_path
from tests.support import lake_days, settings_for
from tools.docs_check import missing_descriptions

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

SCREENSHOTS = PROJECT_DIR / "target" / "docs-screenshots"


@pytest.fixture(scope="module")
def docs(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """dbt docs (with --static and column lineage) of a warehouse of the first two lake days."""
    saved = dict(os.environ)
    root = tmp_path_factory.mktemp("docs")
    ws = Workspace.open(settings_for(lake, root / "warehouse.duckdb"))
    report = run_partitions(ws, [(day, None) for day in lake_days()[:2]])
    assert not report.failed
    target = root / "target"
    generated = dbtRunner(manifest=ws.dbt.manifest).invoke(
        [
            "docs",
            "generate",
            "--static",
            "--quiet",
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(target),
        ]
    )
    assert generated.success, generated.exception
    # What `make docs` does next: every model column's description gains its upstream.
    columns = annotate_docs(target, project_lineage(PROJECT_DIR, target))
    assert columns >= 200
    yield target
    os.environ.clear()
    os.environ.update(saved)


def _embedded(static_index: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest and catalog dbt inlined into static_index.html (`{manifest:…,catalog:…}`)."""
    html = static_index.read_text()
    decoder = json.JSONDecoder()
    manifest, end = decoder.raw_decode(html, html.index("{manifest:") + len("{manifest:"))
    assert html.startswith(",catalog:", end)
    catalog, _ = decoder.raw_decode(html, end + len(",catalog:"))
    return manifest, catalog


def test_the_embedded_manifest_links_the_exposure_back_to_the_raw_source(docs: Path) -> None:
    manifest, catalog = _embedded(docs / "static_index.html")
    parents = manifest["parent_map"]
    assert parents["exposure.sluice.bandit_weight_export"] == ["model.sluice.bandit_weights"]
    assert "model.sluice.fct_events" in parents["model.sluice.bandit_weights"]
    assert parents["model.sluice.fct_events"] == ["model.sluice.stg_app__events"]
    assert parents["model.sluice.stg_app__events"] == ["source.sluice.app.events"]
    # Operators find the ledger and the landing audit table among the sources.
    assert {"source.sluice.ops.partition_attempts", "source.sluice.app.quarantine"} <= set(
        manifest["sources"]
    )
    # Every warehouse column the catalog saw is described too, not only the YAML ones.
    assert catalog["nodes"]["model.sluice.bandit_weights"]["columns"]
    assert missing_descriptions(manifest, catalog) == []


class Walk:
    """One browser page walking the docs, a screenshot per step."""

    def __init__(self, page: Any, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self.step = 0

    def arrive(self, title: str, *texts: str) -> str:
        """Wait for a page whose heading names `title`; check its text; screenshot it."""
        self.page.wait_for_selector(f"h1:has-text('{title}')")
        body = str(self.page.inner_text("body"))
        for text in texts:
            assert text in body, f"{text!r} not on the page of {title}"
        self.step += 1
        self.page.screenshot(path=str(self.shots / f"{self.step:02d}-{title}.png"))
        return body

    def references(self, heading: str, tab: str) -> str:
        """The text of one resource-type tab of a "Depends On" / "Referenced By" section."""
        section = self.page.locator(f"section:has(h6:text-is('{heading}'))")
        section.locator("ul.nav-tabs a", has_text=tab).first.click()
        return str(section.locator("ul.list-unstyled").inner_text())

    def follow(self, heading: str, tab: str, link: str) -> None:
        """Open a page listed in a "Depends On" / "Referenced By" section."""
        assert link in self.references(heading, tab).split()
        section = self.page.locator(f"section:has(h6:text-is('{heading}'))")
        section.locator("ul.list-unstyled a", has_text=link).first.click()


def test_a_stakeholder_walks_from_the_bandit_export_to_the_raw_events(
    docs: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    url = (docs / "static_index.html").as_uri()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            walk = Walk(page, tmp_path)
            page.goto(f"{url}#!/exposure/exposure.sluice.bandit_weight_export")
            walk.arrive(
                "Bandit weight export",
                "Experimentation Platform",
                "The experiment service reads the weights of the day",
            )
            walk.follow("Depends On", "Models", "bandit_weights")

            walk.arrive("bandit_weights", "Traffic weights for the A/B test bandit", "weights_date")
            assert page.url.endswith("#!/model/model.sluice.bandit_weights")
            parents = walk.references("Depends On", "Models").split()
            assert {"fct_events", "ab_pattern_results", "dim_ab_patterns"} <= set(parents)
            assert "bandit_weight_export" in walk.references("Referenced By", "Exposures")
            walk.follow("Depends On", "Models", "fct_events")

            walk.arrive("fct_events", "Every app event once", "landed_date")
            walk.follow("Depends On", "Models", "stg_app__events")

            walk.arrive("stg_app__events", "App events as landed")
            walk.follow("Depends On", "Nodes", "events")  # a source: listed with "Nodes"

            body = walk.arrive("events", "One row per app event line that passed landing checks")
            assert page.url.endswith("#!/source/source.sluice.app.events")
            assert "stg_app__events" in walk.references("Referenced By", "Models")
            assert "payload" in body

            page.goto(f"{url}#!/source/source.sluice.ops.partition_attempts")
            walk.arrive("partition_attempts", "The ledger", "input_fingerprint")
            page.goto(f"{url}#!/source/source.sluice.app.quarantine")
            walk.arrive("quarantine", "Lake lines of any raw table that landing rejected")

            # The mart's lineage graph, full screen: drawn on canvases, so only looked at.
            page.goto(f"{url}#!/model/model.sluice.bandit_weights")
            page.wait_for_selector("h1:has-text('bandit_weights')")
            page.locator(".launcher-btn a").first.click()
            page.locator("[ng-click='showExpanded()']").first.click()
            page.mouse.move(700, 120)  # no tooltip over the graph
            page.wait_for_timeout(2500)
            assert page.locator("#cy canvas").count() > 0
            lineage = tmp_path / "lineage-bandit_weights.png"
            page.screenshot(path=str(lineage))
        finally:
            browser.close()

    assert len(list(tmp_path.glob("*.png"))) == 8
    assert lineage.stat().st_size > 10_000
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(lineage, SCREENSHOTS / lineage.name)


def test_the_embedded_manifest_describes_each_columns_upstream(docs: Path) -> None:
    manifest, _ = _embedded(docs / "static_index.html")
    ctr = manifest["nodes"]["model.sluice.daily_kpis"]["columns"]["ctr"]["description"]
    assert ctr.startswith("Click-through rate, clicks / impressions")
    assert (
        "Upstream (column lineage): value ← [fct_events](#!/model/model.sluice.fct_events)"
        ".event_type · filter ← " in ctr
    )
    assert "lake fields: app.events.event_type (value)" in ctr
    users = manifest["nodes"]["model.sluice.daily_kpis"]["columns"]["active_users"]
    assert "value ← [fct_events](#!/model/model.sluice.fct_events).user_id" in users["description"]
    assert "lake fields: app.events.user_id (value)" in users["description"]


def test_a_stakeholder_sees_where_a_kpi_column_comes_from(docs: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    url = (docs / "static_index.html").as_uri()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            walk = Walk(page, tmp_path)
            page.goto(f"{url}#!/model/model.sluice.daily_kpis")
            walk.arrive("daily_kpis", "Daily product KPIs per platform")
            page.locator("tr.column-row", has_text="ctr").first.click()
            details = page.locator("tr.column-row-selected + tr").first
            text = str(details.inner_text())
            assert "Click-through rate" in text
            assert "Upstream (column lineage): value ← fct_events.event_type" in text
            assert "filter ← fct_events.event_date, fct_events.platform" in text
            assert "lake fields: app.events.event_type (value)" in text
            details.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "ctr-upstream.png"))

            # The upstream column's model is one click away, with its own upstream.
            details.locator("a", has_text="fct_events").first.click()
            walk.arrive("fct_events", "Every app event once")
            page.locator("tr.column-row", has_text="event_type").first.click()
            upstream = str(page.locator("tr.column-row-selected + tr").first.inner_text())
            assert "value ← stg_app__events.event_type" in upstream
        finally:
            browser.close()
    assert (tmp_path / "ctr-upstream.png").stat().st_size > 10_000
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(tmp_path / "ctr-upstream.png", SCREENSHOTS / "ctr-upstream.png")
