"""One step of one lake day: landing or a dbt layer, its gate, publishing, and its ledger row."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.errors import is_transient
from flows.gates.checks import GateResult
from flows.lake.layout import fingerprint
from flows.pipeline.workspace import AUDIT_SUFFIX, Workspace
from flows.project.manifest import RAW_LAYER
from flows.state.ledger import Attempt, Outcome, Reason, Status
from flows.warehouse.records import PartitionLanding


@dataclass(frozen=True)
class _Checked:
    """A step built for contiguous lake days, gated, and (for a published layer) published."""

    gates: dict[date, GateResult]
    published: bool
    details: dict[str, Any]
    landed: PartitionLanding | None = None

    @property
    def blocked(self) -> list[date]:
        return [dt for dt, gate in self.gates.items() if not gate.passed]


def _build_gate_publish(ws: Workspace, days: list[date], layer: str, run_id: str) -> _Checked:
    """Build a step for contiguous days, gate each day, publish if every gate passed.

    A published layer is built and gated in its audit copy; a refused (or unchecked) window
    is restored there from the published one, so the copy never keeps rows nobody accepted.
    In a batch, the first day's gate checks the dates before the batch and the last day's
    those after it, so each rewritten date is checked once.
    """
    first, last = days[0], days[-1]
    suffix = AUDIT_SUFFIX if layer in ws.publish_layers else ""
    landed = None
    startup = ws.gates.start() if ws.gates.layer_suites(layer) else 0.0
    began = time.perf_counter()
    if layer == RAW_LAYER:  # a lake day is landed on its own
        landed = ws.warehouse.land(
            ws.lake,
            ws.project.lake_tables,
            first,
            lateness_days=ws.project.lateness_days,
            load_id=run_id,
        )
        models = 0
    else:
        models = len((ws.publishing if suffix else ws.dbt).run_layer(layer, first, last).nodes)
    built = time.perf_counter()
    try:
        gates = {
            dt: ws.gates.run(
                layer, dt, run_id, schema_suffix=suffix, lag=dt == first, lead=dt == last
            )
            for dt in days
        }
    except Exception:
        if suffix:
            ws.publish(layer, first, last, restore=True)
        raise
    gated = time.perf_counter()
    passed = all(gate.passed for gate in gates.values())
    if suffix:
        ws.publish(layer, first, last, restore=not passed)
    share = len(days)
    details: dict[str, Any] = {
        "build_seconds": round((built - began) / share, 3),
        "gate_seconds": round((gated - built) / share, 3),
        "publish_seconds": round((time.perf_counter() - gated) / share, 3),
    }
    if startup:
        details["gx_startup_seconds"] = round(startup, 3)
    if models:
        details["models"] = models
    if share > 1:
        details["batch"] = f"{first}..{last}"
    if suffix:
        details["published"] = passed
    return _Checked(gates, passed or not suffix, details, landed)


def _outcome(ws: Workspace, dt: date, checked: _Checked) -> Outcome:
    """One day's ledger outcome: its own gate first, then its batch's neighbours."""
    gate = checked.gates[dt]
    details = {**checked.details, "gate": gate.as_details()}
    landed = checked.landed
    if landed is not None and landed.quarantined_by_table():
        details["quarantined"] = landed.quarantined_by_table()
    rows_in, rows_out, quarantined = (
        (landed.lines, landed.landed, landed.quarantined) if landed else (None, None, None)
    )
    if not gate.passed:
        message = "; ".join(check.describe() for check in gate.blocking)
        return Outcome(
            Status.BLOCKED,
            error_class=Reason.GATE_FAILED,
            error_message=message,
            details=details,
            rows_in=rows_in,
            rows_out=rows_out,
            quarantined=quarantined,
        )
    near = [b for b in checked.blocked if abs((dt - b).days) <= ws.project.lateness_days]
    if near:
        message = f"the window of {dt} includes {near[0]}, blocked by its gate"
        return Outcome(
            Status.BLOCKED,
            error_class=Reason.WINDOW_BLOCKED,
            error_message=message,
            details=details,
        )
    if not checked.published:
        message = f"checked, but not published: {checked.blocked[0]} of its batch was blocked"
        return Outcome(
            Status.FAILED,
            error_class=Reason.NOT_PUBLISHED,
            error_message=message,
            details=details,
        )
    return Outcome(
        Status.SUCCEEDED,
        details=details,
        rows_in=rows_in,
        rows_out=rows_out,
        quarantined=quarantined,
    )


def window_blocker(ws: Workspace, dt: date, layer: str) -> str | None:
    """A neighbouring day whose blocked step this day's dbt layers would read, if any."""
    steps = ws.project.steps
    position = steps.index(layer)
    if position == 0:
        return None  # landing reads only its own lake day
    reach = timedelta(days=ws.project.lateness_days)
    for (day, step), attempt in sorted(ws.ledger.latest(dt - reach, dt + reach).items()):
        upstream = step in steps and steps.index(step) <= position
        gated = attempt.status == Status.BLOCKED and attempt.error_class == Reason.GATE_FAILED
        if day != dt and upstream and gated:
            return f"{day} ({step})"
    return None


def _retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except Exception as exc:  # the task's own exception, re-raised by Prefect
        return is_transient(exc)
    return False


# Both step tasks: no result caching, and retries with backoff for transient errors only.
_STEP_TASK: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": [2, 10],
    "retry_condition_fn": _retry_if_transient,
}


@task(name="step", task_run_name="{layer} {dt}", **_STEP_TASK)
def run_step(ws: Workspace, dt: date, layer: str, run_id: str) -> Attempt:
    """One step of one lake day, recorded in the ledger (each retry is a new attempt)."""
    attempt = _start(ws, dt, layer, run_id)
    try:
        blocker = window_blocker(ws, dt, layer)
        if blocker:
            message = f"the window of {dt} includes {blocker}, blocked by its gate"
            outcome = Outcome(
                Status.BLOCKED, error_class=Reason.WINDOW_BLOCKED, error_message=message
            )
        else:
            outcome = _outcome(ws, dt, _build_gate_publish(ws, [dt], layer, run_id))
    except Exception as exc:
        ws.ledger.finish(
            attempt, Outcome(Status.FAILED, error_class=type(exc).__name__, error_message=str(exc))
        )
        raise
    done = ws.ledger.finish(attempt, outcome)
    get_run_logger().info("%s %s: %s in %.1f s", layer, dt, done.status, done.seconds or 0.0)
    return done


def _start(ws: Workspace, dt: date, layer: str, run_id: str) -> Attempt:
    return ws.ledger.start(
        dt,
        layer,
        run_id,
        code_version=ws.project.code_version(layer),
        input_fingerprint=fingerprint(ws.lake, ws.project.lake_tables, dt),
        git_sha=ws.git_sha,
    )


@task(name="batch-step", task_run_name="{layer} {first}..{last}", **_STEP_TASK)
def run_batch_step(
    ws: Workspace, days: list[date], layer: str, run_id: str, first: date, last: date
) -> list[Attempt]:
    """One dbt layer for contiguous lake days in one invocation, then each day's gate."""
    attempts = {dt: _start(ws, dt, layer, run_id) for dt in days}
    began = time.perf_counter()
    try:
        checked = _build_gate_publish(ws, days, layer, run_id)
    except Exception as exc:
        for attempt in attempts.values():
            ws.ledger.finish(
                attempt,
                Outcome(Status.FAILED, error_class=type(exc).__name__, error_message=str(exc)),
            )
        raise
    done = [
        ws.ledger.finish(attempt, _outcome(ws, dt, checked)) for dt, attempt in attempts.items()
    ]
    get_run_logger().info(
        "%s %s..%s: %d days in %.1f s", layer, first, last, len(days), time.perf_counter() - began
    )
    return done
