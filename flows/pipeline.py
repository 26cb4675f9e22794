"""The Prefect flows: lake days through landing and every dbt layer, each step in the ledger."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from flows.dates import date_range, parse_date
from flows.errors import PartitionsFailed, is_transient
from flows.gates import GateResult
from flows.lake import fingerprint, last_complete_day
from flows.landing import connect, land_partition
from flows.ledger import BLOCKED, FAILED, SUCCEEDED, Attempt, Outcome
from flows.partition_state import PlannedDay, plan
from flows.project import RAW_LAYER
from flows.report import LayerSummary, summarize
from flows.workspace import AUDIT_SUFFIX, Workspace


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

    @property
    def failed(self) -> list[PartitionRun]:
        return [r for r in self.runs if not r.succeeded]


def current_run_id() -> str:
    """The Prefect flow run id, or a fresh id outside Prefect."""
    context = FlowRunContext.get()
    if context and context.flow_run:
        return str(context.flow_run.id)
    return uuid.uuid4().hex


def _land(ws: Workspace, dt: date, run_id: str) -> dict[str, Any]:
    con = connect(ws.settings.duckdb)
    try:
        landed = land_partition(
            con,
            ws.lake,
            ws.project.lake_tables,
            dt,
            lateness_days=ws.project.lateness_days,
            load_id=run_id,
        )
    finally:
        con.close()
    return {
        "rows_in": landed.lines,
        "rows_out": landed.landed,
        "quarantined": landed.quarantined,
        "details": {
            "quarantined": {t.table: t.quarantined for t in landed.tables if t.quarantined}
        },
    }


def _build_and_gate(
    ws: Workspace, dt: date, layer: str, run_id: str
) -> tuple[dict[str, Any], GateResult]:
    """Build a layer, then gate it; a published layer is built and gated in its audit copy."""
    began = time.perf_counter()
    suffix = AUDIT_SUFFIX if layer in ws.publish_layers else ""
    if layer == RAW_LAYER:
        figures = _land(ws, dt, run_id)
    else:
        dbt = ws.publishing if suffix else ws.dbt
        figures = {"details": {"models": len(dbt.run_layer(layer, dt, dt).nodes)}}
    built = time.perf_counter()
    gate = ws.gates.run(layer, dt, run_id, schema_suffix=suffix)
    gated = time.perf_counter()
    if suffix:  # publish the checked window, or put the published one back into the audit copy
        direction = (suffix, "") if gate.passed else ("", suffix)
        ws.publishing.run_operation(
            "publish_window",
            dt,
            dt,
            {"from_suffix": direction[0], "to_suffix": direction[1], "layer": layer},
        )
        figures["details"]["published"] = gate.passed
    figures["details"].update(
        build_seconds=round(built - began, 3),
        gate_seconds=round(gated - built, 3),
        publish_seconds=round(time.perf_counter() - gated, 3),
    )
    return figures, gate


def _execute(ws: Workspace, dt: date, layer: str, run_id: str) -> Outcome:
    blocker = _window_blocker(ws, dt, layer)
    if blocker:
        return Outcome(
            BLOCKED,
            error_class="WindowBlocked",
            error_message=f"the window of {dt} includes {blocker}, blocked by its gate",
        )
    figures, gate = _build_and_gate(ws, dt, layer, run_id)
    details = {**figures.pop("details"), "gate": gate.as_details()}
    if gate.passed:
        return Outcome(SUCCEEDED, details=details, **figures)
    message = "; ".join(check.describe() for check in gate.blocking)
    return Outcome(
        BLOCKED, error_class="GateFailed", error_message=message, details=details, **figures
    )


def _window_blocker(ws: Workspace, dt: date, layer: str) -> str | None:
    """A neighbouring day whose blocked step this day's dbt layers would read, if any."""
    steps = ws.project.steps
    position = steps.index(layer)
    if position == 0:
        return None  # landing reads only its own lake day
    reach = timedelta(days=ws.project.lateness_days)
    for (day, step), attempt in sorted(ws.ledger.latest(dt - reach, dt + reach).items()):
        upstream = step in steps and steps.index(step) <= position
        gated = attempt.status == BLOCKED and attempt.error_class == "GateFailed"
        if day != dt and upstream and gated:
            return f"{day} ({step})"
    return None


def _retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except Exception as exc:  # the task's own exception, re-raised by Prefect
        return is_transient(exc)
    return False


@task(
    name="step",
    task_run_name="{layer} {dt}",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_if_transient,
)
def run_step(ws: Workspace, dt: date, layer: str, run_id: str) -> Attempt:
    """One step of one lake day, recorded in the ledger (each retry is a new attempt)."""
    attempt = ws.ledger.start(
        dt,
        layer,
        run_id,
        code_version=ws.project.code_version(layer),
        input_fingerprint=fingerprint(ws.lake, ws.project.lake_tables, dt),
        git_sha=ws.git_sha,
    )
    try:
        outcome = _execute(ws, dt, layer, run_id)
    except Exception as exc:
        ws.ledger.finish(
            attempt, Outcome(FAILED, error_class=type(exc).__name__, error_message=str(exc))
        )
        raise
    done = ws.ledger.finish(attempt, outcome)
    get_run_logger().info("%s %s: %s in %.1f s", layer, dt, done.status, done.seconds or 0.0)
    return done


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


def run_partition(
    ws: Workspace, dt: date, run_id: str, *, from_layer: str | None = None
) -> PartitionRun:
    """Run a lake day's steps in order (from `from_layer` on); a failure stops this day only."""
    began = time.perf_counter()
    run = PartitionRun(dt)
    steps = ws.project.steps
    todo = steps[steps.index(from_layer) :] if from_layer else steps
    key = f"partition:{dt.isoformat()}"
    held = [k for k in (key, ws.warehouse_lock) if k]
    with holding(ws, key, run_id):
        for layer in todo:
            ws.ledger.abandon_running(dt, layer, "its process ended before the step finished")
            try:
                attempt = run_step(ws, dt, layer, run_id)
            except Exception as exc:
                run.error = f"{layer}: {exc}"
                break
            finally:
                _renew(ws, held, run_id)
            run.attempts.append(attempt)
            if attempt.status != SUCCEEDED:
                run.error = f"{layer} {attempt.status}: {attempt.error_message}"
                break
    run.seconds = time.perf_counter() - began
    return run


def run_partitions(ws: Workspace, plan: list[tuple[date, str | None]]) -> RunReport:
    """Run planned lake days under the warehouse lock; raise PartitionsFailed if any failed."""
    began = time.perf_counter()
    run_id = current_run_id()
    with holding(ws, ws.warehouse_lock, run_id):
        runs = [run_partition(ws, dt, run_id, from_layer=layer) for dt, layer in plan]
        report = RunReport(run_id, runs, summarize(ws, runs), time.perf_counter() - began)
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


@flow(name="daily", flow_run_name="daily {dt}")
def daily(dt: date | str | None = None) -> RunReport:
    """Process one lake day end to end; without dt, the last complete lake day."""
    ws = Workspace.open()
    day = parse_date(dt, "dt") if dt else last_complete_day(ws.lake, ws.project.lake_tables)
    return run_partitions(ws, [(day, None)])


@flow(name="backfill", flow_run_name="backfill {start}..{end}")
def backfill(start: date | str, end: date | str, force: bool = False) -> RunReport:
    """Run every lake day in the range that is missing, failed, blocked or stale (all if force)."""
    ws = Workspace.open()
    first, last = parse_date(start, "start"), parse_date(end, "end")
    date_range(first, last, max_days=ws.settings.max_backfill_days)
    planned = plan(ws, first, last, force=force)
    _log_plan(planned)
    return run_partitions(ws, [(p.dt, p.from_layer) for p in planned])


@flow(name="retry-failed", flow_run_name="retry-failed {start}..{end}")
def retry_failed(start: date | str | None = None, end: date | str | None = None) -> RunReport:
    """Re-run failed or blocked lake days from the step that failed, and nothing else."""
    ws = Workspace.open()
    first, last = ws.ledger.span()
    first = parse_date(start, "start") if start else first
    last = parse_date(end, "end") if end else last
    planned = plan(ws, first, last, only_failed=True) if first and last else []
    _log_plan(planned)
    return run_partitions(ws, [(p.dt, p.from_layer) for p in planned])
