"""Running lake days: each step of each day in order, batched where days are contiguous, under
the locks, then the run's Data Docs, summary and report."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from contextvars import copy_context
from datetime import date
from functools import partial
from itertools import pairwise
from pathlib import Path

from flows.errors import InvalidParameter, PartitionsFailed, one_line
from flows.pipeline import run_report
from flows.pipeline.hooks import current_run_id
from flows.pipeline.plan import batches
from flows.pipeline.progress import Ended, Estimator, RunProgress, ended
from flows.pipeline.progress_display import Reporter, showing
from flows.pipeline.run_records import PartitionRun, RunReport
from flows.pipeline.steps import run_batch_step, run_step
from flows.pipeline.summary import summarize
from flows.pipeline.workspace import Workspace
from flows.project.manifest import RAW_LAYER
from flows.state.ledger import Attempt

log = logging.getLogger(__name__)


def _contiguous(days: list[date]) -> bool:
    return all((b - a).days == 1 for a, b in pairwise(days))


def _record(
    runs: dict[date, PartitionRun],
    dt: date,
    layer: str,
    reporter: Reporter,
    step: Callable[[], Attempt],
) -> None:
    """Record a day's step: its attempt, or what it raised (the day stops)."""
    try:
        attempt = step()
    except Exception as exc:
        runs[dt].fail(layer, exc)
        reporter.finished(layer, [dt], Ended.FAILED)
        return
    runs[dt].record(attempt)
    reporter.finished(layer, [dt], ended([attempt.status]))


def _land_side_by_side(
    ws: Workspace,
    runs: dict[date, PartitionRun],
    live: list[date],
    run_id: str,
    reporter: Reporter,
    workers: int,
) -> None:
    """Land lake days `workers` at a time, each its own step (a warehouse that takes several
    writers: every load stages in a table of its own); the dbt steps after it take turns."""
    reporter.started(RAW_LAYER, live)
    with ThreadPoolExecutor(workers, thread_name_prefix="sluice-land") as pool:
        # each day's step runs in a copy of this flow run's context, as a task of the flow
        steps = {
            pool.submit(copy_context().run, run_step, ws, dt, RAW_LAYER, run_id): dt for dt in live
        }
        for done in as_completed(steps):
            _record(runs, steps[done], RAW_LAYER, reporter, done.result)


def _step_days(
    ws: Workspace,
    runs: dict[date, PartitionRun],
    layer: str,
    run_id: str,
    reporter: Reporter,
    max_concurrency: int = 1,
) -> None:
    """Run one step for every live day: dbt layers of contiguous days in one invocation,
    landing up to `max_concurrency` days at once."""
    live = [dt for dt, run in runs.items() if not run.stopped]
    for days, _ in batches([(dt, None) for dt, run in runs.items() if run.stopped]):
        reporter.skipped(layer, days)
    batchable = len(live) > 1 and layer != RAW_LAYER and _contiguous(live)
    if batchable and not ws.blocker().blocked(layer, live):
        reporter.started(layer, live)
        try:
            attempts = run_batch_step(ws, live, layer, run_id, live[0], live[-1])
        except Exception:
            attempts = []  # the batch failed: run the days one by one to isolate the failure
        if attempts:
            for attempt in attempts:
                runs[attempt.dt].record(attempt)
            reporter.finished(layer, live, ended([a.status for a in attempts]))
            return
    if layer == RAW_LAYER and max_concurrency > 1 and len(live) > 1:
        _land_side_by_side(ws, runs, live, run_id, reporter, max_concurrency)
        return
    for dt in live:
        reporter.started(layer, [dt])
        _record(runs, dt, layer, reporter, partial(run_step, ws, dt, layer, run_id))


def _layers(ws: Workspace, from_layer: str | None) -> tuple[str, ...]:
    steps = ws.project.steps
    return steps[steps.index(from_layer) :] if from_layer else steps


def run_days(
    ws: Workspace,
    days: list[date],
    run_id: str,
    reporter: Reporter,
    *,
    from_layer: str | None = None,
    max_concurrency: int = 1,
) -> list[PartitionRun]:
    """Run lake days' steps in order (from `from_layer` on); a failed day stops alone."""
    began = time.perf_counter()
    runs = {dt: PartitionRun(dt) for dt in days}
    with ExitStack() as stack:
        for dt in days:
            stack.enter_context(ws.locks.holding(f"partition:{dt.isoformat()}", run_id))
        for layer in _layers(ws, from_layer):
            _step_days(ws, runs, layer, run_id, reporter, max_concurrency)
    for run in runs.values():
        run.seconds = time.perf_counter() - began
    return list(runs.values())


def _planned(ws: Workspace, groups: list[tuple[list[date], str | None]]) -> RunProgress:
    """The run's units: each planned day once per step it runs from its first step on."""
    units = Counter(layer for days, first in groups for layer in _layers(ws, first) for _ in days)
    return RunProgress(units, Estimator.from_ledger(ws.ledger, ws.project.steps), (RAW_LAYER,))


def _dead(ws: Workspace, attempt: Attempt) -> bool:
    holder = ws.locks.holder(f"partition:{attempt.dt.isoformat()}")
    # another live run (BigQuery takes several) may be on it
    return holder is None or holder.run_id != attempt.run_id or not ws.locks.is_live(holder)


def recover(ws: Workspace, run_id: str) -> list[tuple[date, str]]:
    """Close the attempts whose process died while they ran, and restore the audit copy of
    their windows from the published one, so no reader sees what no gate checked; the
    (lake day, step) pairs recovered. A run calls it holding the warehouse's lock; where runs
    overlap, it restores in the dbt steps' turn (another run may be building in the copy)."""
    dead = [attempt for attempt in ws.ledger.running() if _dead(ws, attempt)]
    if not dead:
        return []
    with ws.locks.waiting(ws.warehouse.build_lock_key, run_id, patience=ws.settings.lease_seconds):
        for attempt in dead:
            ws.ledger.abandon_running(
                attempt.dt, attempt.layer, "its process ended before the step finished"
            )
            ws.publish(attempt.layer, attempt.dt, attempt.dt, restore=True)
    return [(attempt.dt, attempt.layer) for attempt in dead]


def _build_docs(ws: Workspace, run_id: str) -> Path | None:
    """The run's Data Docs (a failure to render them is logged, never fails the run)."""
    try:
        return ws.gates.build_docs(ws.data_docs / run_id, ws.settings.data_docs)
    except Exception as exc:  # rendering is a convenience; the ledger holds the results
        log.warning("Data Docs were not built: %s", exc)
        return None


def run_partitions(
    ws: Workspace, plan: list[tuple[date, str | None]], *, max_concurrency: int = 1
) -> RunReport:
    """Run planned lake days under the warehouse lock, landing up to `max_concurrency` at
    once where the warehouse takes several writers; raise PartitionsFailed if any failed."""
    if max_concurrency > 1 and not ws.warehouse.concurrent_writers:
        raise InvalidParameter(
            f"max_concurrency {max_concurrency}: {ws.warehouse.name} takes one writer at once"
        )
    began = time.perf_counter()
    run_id = current_run_id()
    with ws.locks.holding(ws.warehouse.lock_key, run_id), ws.locks.keeping(run_id):
        ws.check_warehouse(run_id)
        recover(ws, run_id)
        groups = batches(plan)
        with showing(_planned(ws, groups)) as reporter:
            runs = [
                run
                for days, layer in groups
                for run in run_days(
                    ws, days, run_id, reporter, from_layer=layer, max_concurrency=max_concurrency
                )
            ]
        docs = _build_docs(ws, run_id)
        report = RunReport(run_id, runs, summarize(ws, runs), time.perf_counter() - began, docs)
    run_report.publish(ws.settings.reports_dir, report, ws.ledger.clock())
    if report.failed:
        days = ", ".join(f"{r.dt} ({one_line(r.error or '')})" for r in report.failed)
        raise PartitionsFailed(
            f"{len(report.failed)} of {len(runs)} partitions failed: {days}", report
        )
    return report
