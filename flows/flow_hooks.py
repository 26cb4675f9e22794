"""Prefect state hooks of every Sluice flow: a flow that fails outside its steps is an incident.

A flow run that fails or crashes before or around its steps (a bad parameter, no complete lake
day, a held lock, a killed process) opens a `step_failed` incident named `flow <name>`; a run
that failed in its steps (PartitionsFailed) opens none, its steps' incidents are open already.
The flow's next completed run resolves it. Last, on the BigQuery targets, every run ends by
publishing the state store to the ops dataset (flows/ops_mirror.py; a failure is only logged).
"""

from __future__ import annotations

from typing import Any

from flows.errors import PartitionsFailed
from flows.incidents import Incidents, Kind, Problem, Severity
from flows.settings import get_settings
from flows.state_store import StateStore
from flows.workspace import open_incidents


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
    else:
        error_class, message = state.type.value.title(), state.message or ""
    params = ", ".join(f"{k}={v}" for k, v in sorted((flow_run.parameters or {}).items()))
    _incidents().open(
        Problem(
            Kind.STEP_FAILED,
            Severity.CRITICAL,
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


def publish_ops(flow: Any, flow_run: Any, state: Any) -> None:
    """Every outcome, after the incident hooks: mirror the state store to BigQuery's ops dataset."""
    from flows.ops_mirror import publish_after_run

    publish_after_run(get_settings(), str(flow_run.id))


# Pass to @flow(...): every Sluice flow reports failures outside its steps and clears them,
# then publishes the state store on BigQuery targets.
HOOKS: dict[str, Any] = {
    "on_failure": [flow_failed, publish_ops],
    "on_crashed": [flow_failed, publish_ops],
    "on_completion": [flow_completed, publish_ops],
}
