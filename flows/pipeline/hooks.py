"""What every Sluice flow carries: its run id, and Prefect state hooks for trouble outside steps.

A flow run that fails or crashes before or around its steps (a bad parameter, no complete lake
day, a held lock, a killed process) opens a `step_failed` incident named `flow <name>`, a
warning when a live run's lock refused it or a retry may cure the error, else critical; a run
that failed in its steps (PartitionsFailed) opens none, its steps' incidents are open already.
The flow's next completed run resolves it. Last, where the warehouse has an ops mirror
(BigQuery), every run ends by publishing the state store there (a failure is only logged).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from prefect.context import FlowRunContext

from flows.alerts.incidents import Incidents, Kind, Problem, Severity
from flows.errors import LockHeld, PartitionsFailed, is_transient
from flows.pipeline.workspace import open_incidents
from flows.settings import Settings, get_settings
from flows.state.store import StateStore
from flows.warehouse.choose import warehouse_for
from flows.warehouse.interface import OpsMirror
from flows.warehouse.records import Published

log = logging.getLogger("sluice.ops")


def current_run_id() -> str:
    """The Prefect flow run id, or a fresh id outside Prefect."""
    context = FlowRunContext.get()
    if context and context.flow_run:
        return str(context.flow_run.id)
    return uuid.uuid4().hex


def _incidents() -> Incidents:
    settings = get_settings()
    return open_incidents(settings, StateStore(settings.state))


def flow_failed(flow: Any, flow_run: Any, state: Any) -> None:
    """on_failure / on_crashed: open (or count) the flow's incident."""
    try:
        state.result()
    except PartitionsFailed:
        return
    except BaseException as exc:
        error_class, message = type(exc).__name__, str(exc) or state.message or ""
        # refused by a live run's lock (overlapping schedules), or a retry may cure it
        passing = isinstance(exc, LockHeld) or is_transient(exc)
    else:
        error_class, message, passing = state.type.value.title(), state.message or "", False
    params = ", ".join(f"{k}={v}" for k, v in sorted((flow_run.parameters or {}).items()))
    _incidents().open(
        Problem(
            Kind.STEP_FAILED,
            Severity.WARNING if passing else Severity.CRITICAL,
            None,
            None,
            f"flow {flow.name}",
            error_class,
            f"{flow_run.name} ({params}): {message}",
            str(flow_run.id),
        )
    )


def flow_completed(flow: Any, flow_run: Any, state: Any) -> None:
    """on_completion: resolve the flow's incident, if one is open."""
    _incidents().resolve(None, None, kinds=(Kind.STEP_FAILED,), what=f"flow {flow.name}")


def publish_quietly(mirror: OpsMirror | None, run_id: str) -> Published | None:
    """Publish the state store through an ops mirror (none: nothing to do), never raising.

    It logs what failed. A table whose rows changed since its last successful publish is sent
    whole, so a failed publish is made good by the next run's.
    """
    if mirror is None:
        return None
    try:
        published = mirror.publish(run_id)
    except LockHeld as exc:
        log.info("ops publish skipped, another one runs: %s; the next one catches up", exc)
        return None
    except Exception as exc:  # a failed mirror must never fail the run's data steps
        log.warning(
            "ops publish failed (%s: %s); the next run's publish sends the table again",
            type(exc).__name__,
            exc,
        )
        return None
    log.info("%s", published.describe())
    return published


def publish_after_run(settings: Settings, run_id: str) -> Published | None:
    """The end-of-run publish, where the warehouse of the settings has an ops mirror."""
    try:
        mirror = warehouse_for(settings).ops_mirror(StateStore(settings.state))
    except Exception as exc:  # e.g. no credentials: the run's data steps are done already
        log.warning("ops publish failed (%s: %s)", type(exc).__name__, exc)
        return None
    return publish_quietly(mirror, run_id)


def publish_ops(flow: Any, flow_run: Any, state: Any) -> None:
    """Every outcome, after the incident hooks: mirror the state store (BigQuery's ops dataset)."""
    publish_after_run(get_settings(), str(flow_run.id))


# Pass to @flow(...): every Sluice flow reports failures outside its steps and clears them,
# then publishes the state store where the warehouse has an ops mirror.
HOOKS: dict[str, Any] = {
    "on_failure": [flow_failed, publish_ops],
    "on_crashed": [flow_failed, publish_ops],
    "on_completion": [flow_completed, publish_ops],
}
