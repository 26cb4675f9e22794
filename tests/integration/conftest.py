"""Fixtures shared by the integration tests: a snapshot of the project and its clean build."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import Workspace
from tests.support import Build, copy_project, lake_days, settings_at, table_checksums


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real dbt project as it is when this module starts (others may edit it meanwhile)."""
    return copy_project(tmp_path_factory.mktemp("project") / "sluice")


@pytest.fixture(scope="module")
def clean(snapshot: Path, lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The unmodified project run over every lake day in order (read-only for tests)."""
    warehouse = tmp_path_factory.mktemp("clean") / "warehouse.duckdb"
    ws = Workspace.open(settings_at(snapshot, lake, warehouse))
    report = run_partitions(ws, [(day, None) for day in lake_days()])
    return Build(ws.settings, report.run_id, table_checksums(warehouse))
