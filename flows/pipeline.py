"""The Prefect flows: lake days through landing and every dbt layer, each step in the ledger."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.context import FlowRunContext

from flows import run_report
from flows.dates import check_order, date_range, parse_date
from flows.errors import PartitionsFailed
from flows.flow_hooks import HOOKS
from flows.lake import last_complete_day
from flows.ledger import SUCCEEDED, Attempt
from flows.partition_state import PlannedDay, plan
from flows.project import RAW_LAYER
from flows.report import LayerSummary, summarize
from flows.steps import run_batch_step, run_step, window_blocker
from flows.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class PartitionRun:
    """What happened to one lake day in this run."""

    dt: date
    attempts: list[Attempt] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RunReport:
    """What a flow run did: each partition and a per-layer summary."""

    run_id: str
    runs: list[PartitionRun]
    summary: list[LayerSummary]
    seconds: float
    data_docs: Path | None = None

    @property
    def failed(self) -> list[PartitionRun]:
        return [r for r in self.runs if not r.succeeded]


def current_run_id() -> str:
    """The Prefect flow run id, or a fresh id outside Prefect."""
    context = FlowRunContext.get()
    if context and context.flow_run:
        return str(context.flow_run.id)
    return uuid.uuid4().hex


@contextmanager
def holding(ws: Workspace, key: str | None, run_id: str) -> Iterator[None]:
    """Hold a lock for the duration of a block (no-op for key None)."""
    if key is None:
        yield
        return
    ws.locks.acquire(key, run_id)
    try:
        yield
    finally:
        ws.locks.release(key, run_id)


def _renew(ws: Workspace, keys: list[str], run_id: str) -> None:
    for key in keys:
        ws.locks.renew(key, run_id)


def _contiguous(days: list[date]) -> bool:
    return all((b - a).days == 1 for a, b in pairwise(days))


def _groups(plan: list[tuple[date, str | None]]) -> list[tuple[list[date], str | None]]:
    """Consecutive lake days starting from the same step run together."""
    groups: list[tuple[list[date], str | None]] = []
    for dt, layer in plan:
        if groups and groups[-1][1] == layer and (dt - groups[-1][0][-1]).days == 1:
            groups[-1][0].append(dt)
        else:
            groups.append(([dt], layer))
    return groups


def _step_days(ws: Workspace, runs: dict[date, PartitionRun], layer: str, run_id: str) -> None:
    """Run one step for every live day: dbt layers of contiguous days in one invocation."""
    live = [dt for dt, run in runs.items() if run.succeeded]
    batchable = len(live) > 1 and layer != RAW_LAYER and _contiguous(live)
    if batchable and not any(window_blocker(ws, dt, layer) for dt in live):
        try:
            attempts = run_batch_step(ws, live, layer, run_id, live[0], live[-1])
        except Exception:
            attempts = []  # the batch failed: run the days one by one to isolate the failure
        if attempts:
            for attempt in attempts:
                _record(runs[attempt.dt], attempt)
            return
    for dt in live:
        try:
            _record(runs[dt], run_step(ws, dt, layer, run_id))
        except Exception as exc:
            runs[dt].error = f"{layer}: {exc}"


def _record(run: PartitionRun, attempt: Attempt) -> None:
    run.attempts.append(attempt)
    if attempt.status != SUCCEEDED:
        run.error = f"{attempt.layer} {attempt.status}: {attempt.error_message}"


def run_days(
    ws: Workspace, days: list[date], run_id: str, *, from_layer: str | None = None
) -> list[PartitionRun]:
    """Run lake days' steps in order (from `from_layer` on); a failed day stops alone."""
    began = time.perf_counter()
    runs = {dt: PartitionRun(dt) for dt in days}
    steps = ws.project.steps
    keys = [f"partition:{dt.isoformat()}" for dt in days]
    held = [*keys, *([ws.warehouse_lock] if ws.warehouse_lock else [])]
    with ExitStack() as stack:
        for key in keys:
            stack.enter_context(holding(ws, key, run_id))
        for layer in steps[steps.index(from_layer) :] if from_layer else steps:
            for dt in days:
                ws.ledger.abandon_running(dt, layer, "its process ended before the step finished")
            _step_days(ws, runs, layer, run_id)
            _renew(ws, held, run_id)
    for run in runs.values():
        run.seconds = time.perf_counter() - began
    return list(runs.values())


def _build_docs(ws: Workspace, run_id: str) -> Path | None:
    """The run's Data Docs (a failure to render them is logged, never fails the run)."""
    try:
        return ws.gates.build_docs(ws.data_docs / run_id, ws.settings.data_docs)
    except Exception as exc:  # rendering is a convenience; the ledger holds the results
        log.warning("Data Docs were not built: %s", exc)
        return None


def run_partitions(ws: Workspace, plan: list[tuple[date, str | None]]) -> RunReport:
    """Run planned lake days under the warehouse lock; raise PartitionsFailed if any failed."""
    began = time.perf_counter()
    run_id = current_run_id()
    with holding(ws, ws.warehouse_lock, run_id):
        runs = [
            run
            for days, layer in _groups(plan)
            for run in run_days(ws, days, run_id, from_layer=layer)
        ]
        docs = _build_docs(ws, run_id)
        report = RunReport(run_id, runs, summarize(ws, runs), time.perf_counter() - began, docs)
    run_report.publish(ws.settings.reports_dir, report, ws.ledger.clock())
    if report.failed:
        days = ", ".join(f"{r.dt} ({r.error})" for r in report.failed)
        raise PartitionsFailed(
            f"{len(report.failed)} of {len(runs)} partitions failed: {days}", report
        )
    return report


def _log_plan(planned: list[PlannedDay]) -> None:
    logger = get_run_logger()
    if not planned:
        logger.info("nothing to do: every lake day in the range is up to date")
    for day in planned:
        logger.info("plan: %s from %s (%s)", day.dt, day.from_layer, day.reason)


@flow(name="daily", flow_run_name="daily {dt}", **HOOKS)
def daily(dt: date | str | None = None) -> RunReport:
    """Process one lake day end to end; without dt, the last complete lake day."""
    ws = Workspace.open()
    day = parse_date(dt, "dt") if dt else last_complete_day(ws.lake, ws.project.lake_tables)
    return run_partitions(ws, [(day, None)])


@flow(name="backfill", flow_run_name="backfill {start}..{end}", **HOOKS)
def backfill(start: date | str, end: date | str, force: bool = False) -> RunReport:
    """Run every lake day in the range that is missing, failed, blocked or stale (all if force)."""
    ws = Workspace.open()
    first, last = parse_date(start, "start"), parse_date(end, "end")
    today = datetime.now(UTC).date()
    date_range(first, last, max_days=ws.settings.max_backfill_days, latest=today)
    planned = plan(ws, first, last, force=force)
    _log_plan(planned)
    return run_partitions(ws, [(p.dt, p.from_layer) for p in planned])


@flow(name="retry-failed", flow_run_name="retry-failed {start}..{end}", **HOOKS)
def retry_failed(start: date | str | None = None, end: date | str | None = None) -> RunReport:
    """Re-run failed or blocked lake days from the step that failed, and nothing else."""
    ws = Workspace.open()
    first, last = ws.ledger.span()
    first = parse_date(start, "start") if start else first
    last = parse_date(end, "end") if end else last
    if first and last:
        check_order(first, last)
    planned = plan(ws, first, last, only_failed=True) if first and last else []
    _log_plan(planned)
    return run_partitions(ws, [(p.dt, p.from_layer) for p in planned])
