"""The Prefect flows of the pipeline: daily, backfill and retry-failed (thin: they plan and run)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import flow, get_run_logger

from flows.dates import check_order, date_range, parse_date
from flows.lake.layout import last_complete_day
from flows.pipeline.hooks import HOOKS
from flows.pipeline.plan import PlannedDay, plan
from flows.pipeline.plan_bytes import check_budget
from flows.pipeline.plan_scan import plan_bytes
from flows.pipeline.run_records import RunReport
from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import Workspace


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
def backfill(
    start: date | str,
    end: date | str,
    force: bool = False,
    max_concurrency: int = 1,
    max_bytes: int | None = None,
) -> RunReport:
    """Run every lake day in the range that is missing, failed, blocked or stale (all if force),
    landing up to max_concurrency days at once where the warehouse takes several writers; a
    plan reading more than max_bytes (default: setting max_bytes) is refused before any step."""
    ws = Workspace.open()
    first, last = parse_date(start, "start"), parse_date(end, "end")
    today = datetime.now(UTC).date()
    date_range(first, last, max_days=ws.settings.max_backfill_days, latest=today)
    planned = plan(ws, first, last, force=force)
    _log_plan(planned)
    budget = max_bytes if max_bytes is not None else ws.settings.max_bytes
    if budget is not None and planned:
        scanned = plan_bytes(ws, planned)
        get_run_logger().info(
            "plan reads %s (%s)", scanned.describe(scanned.billed), scanned.method
        )
        check_budget(scanned, budget)
    plan_days: list[tuple[date, str | None]] = [(p.dt, p.from_layer) for p in planned]
    return run_partitions(ws, plan_days, max_concurrency=max_concurrency)


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
