"""Fixtures shared by the integration tests: a snapshot of the project and its clean build."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import Workspace
from tests.crash_soak import Baseline
from tests.support import Build, copy_project, lake_days, settings_at, table_checksums


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real dbt project as it is when this module starts (others may edit it meanwhile)."""
    return copy_project(tmp_path_factory.mktemp("project") / "sluice")


@pytest.fixture(scope="session")
def clean(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The unmodified project run over every lake day in order (read-only for tests: copy_build
    gives a test its own copy). Built once a session (per xdist worker), on a project snapshot of
    its own, for the modules that used to build the same warehouse each."""
    snapshot = copy_project(tmp_path_factory.mktemp("project") / "sluice")
    warehouse = tmp_path_factory.mktemp("clean") / "warehouse.duckdb"
    ws = Workspace.open(settings_at(snapshot, lake, warehouse))
    report = run_partitions(ws, [(day, None) for day in lake_days()])
    return Build(ws.settings, report.run_id, table_checksums(warehouse))


@pytest.fixture(scope="session")
def crash_baseline(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """The crash soak's lake, census and clean checksums: built once a session, across workers."""
    from prefect.settings import PREFECT_API_URL

    from tests.crash_soak import baseline

    base = tmp_path_factory.getbasetemp()
    # under xdist, the run's folder above the workers' own
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return baseline(shared / "crash-baseline", str(PREFECT_API_URL.value()))
