"""The Prefect flows: a lake day (or a range) through landing and every dbt layer, in order."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import date

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from flows.dates import date_range, parse_date
from flows.dbt_runner import DbtProject, LayerRun
from flows.lake import Lake
from flows.landing import PartitionLanding, connect, land_partition
from flows.project import Project, build_project
from flows.report import LayerSummary, summarize
from flows.settings import Settings, get_settings


@dataclass
class Workspace:
    """What one pipeline process holds open: settings, the parsed project, the warehouse."""

    settings: Settings
    dbt: DbtProject
    project: Project
    lake: Lake

    @classmethod
    def open(cls, settings: Settings | None = None) -> Workspace:
        settings = settings or get_settings()
        dbt = DbtProject(settings)
        return cls(
            settings, dbt, build_project(dbt.manifest, settings.project_dir), Lake(settings.lake)
        )


@dataclass
class PartitionRun:
    """What happened to one lake day."""

    dt: date
    landing: PartitionLanding | None = None
    layers: list[LayerRun] = field(default_factory=list)
    landing_seconds: float = 0.0
    seconds: float = 0.0


@dataclass(frozen=True)
class RunReport:
    """What a flow run did: each partition and a per-layer summary."""

    runs: list[PartitionRun]
    summary: list[LayerSummary]
    seconds: float


def _report(ws: Workspace, runs: list[PartitionRun], began: float) -> RunReport:
    return RunReport(runs, summarize(ws, runs), time.perf_counter() - began)


def _run_id() -> str:
    context = FlowRunContext.get()
    if context and context.flow_run:
        return str(context.flow_run.id)
    return uuid.uuid4().hex


@task(name="land", task_run_name="land {dt}", cache_policy=NO_CACHE, tags=["land"])
def land(ws: Workspace, dt: date) -> PartitionLanding:
    """Land one lake day into raw and the quarantine."""
    con = connect(ws.settings.duckdb)
    try:
        result = land_partition(
            con,
            ws.lake,
            ws.project.lake_tables,
            dt,
            lateness_days=ws.project.lateness_days,
            load_id=_run_id(),
        )
    finally:
        con.close()
    get_run_logger().info(
        "landed %s: %d lines -> %d raw rows + %d quarantined",
        dt,
        result.lines,
        result.landed,
        result.quarantined,
    )
    return result


@task(name="build-layer", task_run_name="dbt {layer} {dt}", cache_policy=NO_CACHE, tags=["dbt"])
def build_layer(ws: Workspace, layer: str, dt: date) -> LayerRun:
    """Build one dbt layer for the windows of one lake day."""
    result = ws.dbt.run_layer(layer, dt, dt)
    get_run_logger().info(
        "layer %s for %s: %d models in %.1f s", layer, dt, len(result.nodes), result.seconds
    )
    return result


def run_partition(ws: Workspace, dt: date) -> PartitionRun:
    """Land one lake day, then build each layer in dependency order."""
    began = time.perf_counter()
    run = PartitionRun(dt)
    run.landing = land(ws, dt)
    run.landing_seconds = time.perf_counter() - began
    for layer in ws.project.layers:
        run.layers.append(build_layer(ws, layer, dt))
    run.seconds = time.perf_counter() - began
    return run


@flow(name="daily", flow_run_name="daily {dt}", log_prints=True)
def daily(dt: date | str) -> RunReport:
    """Process one lake day end to end."""
    began = time.perf_counter()
    ws = Workspace.open()
    return _report(ws, [run_partition(ws, parse_date(dt, "dt"))], began)


@flow(name="backfill", flow_run_name="backfill {start}..{end}", log_prints=True)
def backfill(start: date | str, end: date | str) -> RunReport:
    """Process every lake day from start to end, oldest first, in one process."""
    began = time.perf_counter()
    ws = Workspace.open()
    days = date_range(
        parse_date(start, "start"), parse_date(end, "end"), max_days=ws.settings.max_backfill_days
    )
    return _report(ws, [run_partition(ws, day) for day in days], began)
