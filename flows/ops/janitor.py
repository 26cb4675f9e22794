"""The janitor: deletes operational records past their retention (settings.retention).

Dry-run by default: it counts what it would delete. It never touches published data, nor
anything Sluice did not create: only the state store's superseded attempts and gate rows and
resolved incidents, audit.gate_failures, raw.quarantine, relations of Sluice's audit schemas (from
the manifest) that the project no longer builds, runs of Sluice's flows on the Prefect server
(when a Prefect API is configured) and old run reports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from prefect import flow, get_run_logger

from flows.ops.watchdog import watchdog
from flows.pipeline import prefect_flows as pipeline
from flows.pipeline.hooks import HOOKS, current_run_id
from flows.pipeline.workspace import Workspace
from flows.project.manifest import AUDIT_SUFFIX, RAW_LAYER
from flows.project.nodes import models
from flows.state.retention import sweep_state
from flows.warehouse.records import Sweep


def _state(ws: Workspace, now: datetime, apply: bool) -> list[Sweep]:
    return sweep_state(ws.store, ws.settings.retention, now, apply)


def _warehouse(ws: Workspace, now: datetime, apply: bool) -> list[Sweep]:
    """Audit and quarantine rows past retention, unused audit relations (holds the writer lock).

    Sluice's audit schemas are the schemas its write-audit-publish parse builds into with the
    audit suffix (e.g. marts_audit, raw_audit): another `*_audit` schema in the warehouse is not
    Sluice's.
    """
    built = {(node.schema, node.alias) for node in models(ws.dbt.manifest)}
    built |= {(table.schema, table.alias) for table in ws.project.tables(RAW_LAYER)}
    audited = frozenset(schema for schema, _ in built if schema.endswith(AUDIT_SUFFIX))
    with ws.locks.holding(ws.warehouse.lock_key, current_run_id()):
        return ws.warehouse.sweep(
            ws.settings.retention, now, apply=apply, audit_schemas=audited, built=built
        )


def _reports(ws: Workspace, now: datetime, apply: bool) -> list[Sweep]:
    days = ws.settings.retention.report_days
    cutoff = (now - timedelta(days=days)).timestamp()
    folder = ws.settings.reports_dir
    old = (
        [p for p in folder.glob("run-*.html") if p.stat().st_mtime < cutoff]
        if folder.is_dir()
        else []
    )
    if apply:
        for path in old:
            path.unlink()
    return [Sweep("run reports", str(folder), f"older than {days} days", len(old))]


def sluice_flows() -> list[str]:
    """The names of Sluice's flows (those of prefect.yaml's deployments; a unit test checks)."""
    flows = (pipeline.daily, pipeline.backfill, pipeline.retry_failed, watchdog, janitor)
    return [flow.name for flow in flows]


def _flow_runs(before: datetime, apply: bool) -> int:
    """Finished runs of Sluice's flows that started before a moment: counted, or deleted."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    finished = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]
    old = FlowRunFilter(
        start_time=FlowRunFilterStartTime(before_=before),  # type: ignore[arg-type]
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=finished)),
    )
    count = 0
    ours = FlowFilter(name=FlowFilterName(any_=sluice_flows()))
    with get_client(sync_client=True) as client:
        while runs := client.read_flow_runs(
            flow_filter=ours, flow_run_filter=old, limit=200, offset=0 if apply else count
        ):
            count += len(runs)
            for run in runs if apply else ():
                client.delete_flow_run(run.id)
    return count


def _prefect(ws: Workspace, now: datetime, apply: bool) -> list[Sweep]:
    from prefect.settings import get_current_settings

    api = get_current_settings().api.url
    if not api:
        return []  # no server configured: nothing to clean (and no temporary server to start)
    days = ws.settings.retention.flow_run_days
    count = _flow_runs(now - timedelta(days=days), apply)
    rule = f"runs of Sluice's flows, finished, started over {days} days ago"
    return [Sweep("Prefect flow runs", api, rule, count)]


SWEEPERS: tuple[Callable[[Workspace, datetime, bool], list[Sweep]], ...] = (
    _state,
    _warehouse,
    _reports,
    _prefect,
)


def sweep(ws: Workspace, *, apply: bool = False) -> list[Sweep]:
    """Count (dry run) or delete everything past retention; what was found."""
    now = ws.ledger.clock()
    return [found for sweeper in SWEEPERS for found in sweeper(ws, now, apply)]


@flow(name="janitor", flow_run_name="janitor", **HOOKS)
def janitor(apply: bool = True) -> list[Sweep]:
    """The janitor deployment: apply the retention policy."""
    found = sweep(Workspace.open(), apply=apply)
    for item in found:
        get_run_logger().info(
            "%s %d %s in %s (%s)",
            "deleted" if apply else "would delete",
            item.count,
            item.what,
            item.where,
            item.rule,
        )
    return found
