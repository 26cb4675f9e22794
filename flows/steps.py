"""One step of one lake day: landing or a dbt layer, its gate, publishing, and its ledger row."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.errors import is_transient
from flows.gates import GateResult
from flows.lake import fingerprint
from flows.ledger import BLOCKED, FAILED, SUCCEEDED, Attempt, Outcome
from flows.project import RAW_LAYER
from flows.warehouse_landing import landing_for
from flows.workspace import AUDIT_SUFFIX, Workspace


def _land(ws: Workspace, dt: date, run_id: str) -> dict[str, Any]:
    landed = landing_for(ws.settings).land(
        ws.lake,
        ws.project.lake_tables,
        dt,
        lateness_days=ws.project.lateness_days,
        load_id=run_id,
    )
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
    try:
        gate = ws.gates.run(layer, dt, run_id, schema_suffix=suffix)
    except Exception:
        if suffix:  # the audit copy must not keep rows nobody checked
            ws.publishing.run_operation(
                "publish_window", dt, dt, {"from_suffix": "", "to_suffix": suffix, "layer": layer}
            )
        raise
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
    blocker = window_blocker(ws, dt, layer)
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


def window_blocker(ws: Workspace, dt: date, layer: str) -> str | None:
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
        outcome = _execute(ws, dt, layer, run_id)
    except Exception as exc:
        ws.ledger.finish(
            attempt, Outcome(FAILED, error_class=type(exc).__name__, error_message=str(exc))
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


def _batch_outcome(
    ws: Workspace,
    dt: date,
    gate: GateResult,
    blocked: list[date],
    published: bool,
    details: dict[str, Any],
) -> Outcome:
    if not gate.passed:
        message = "; ".join(check.describe() for check in gate.blocking)
        return Outcome(BLOCKED, error_class="GateFailed", error_message=message, details=details)
    near = [b for b in blocked if abs((dt - b).days) <= ws.project.lateness_days]
    if near:
        return Outcome(
            BLOCKED,
            error_class="WindowBlocked",
            details=details,
            error_message=f"the window of {dt} includes {near[0]}, blocked by its gate",
        )
    if not published:
        return Outcome(
            FAILED,
            error_class="NotPublished",
            details=details,
            error_message=f"checked, but not published: {blocked[0]} of its batch was blocked",
        )
    return Outcome(SUCCEEDED, details=details)


@task(name="batch-step", task_run_name="{layer} {first}..{last}", **_STEP_TASK)
def run_batch_step(
    ws: Workspace, days: list[date], layer: str, run_id: str, first: date, last: date
) -> list[Attempt]:
    """One dbt layer for contiguous lake days in one invocation, then each day's gate."""
    attempts = {dt: _start(ws, dt, layer, run_id) for dt in days}
    try:
        began = time.perf_counter()
        suffix = AUDIT_SUFFIX if layer in ws.publish_layers else ""
        built = (ws.publishing if suffix else ws.dbt).run_layer(layer, first, last)
        build_seconds = time.perf_counter() - began
        gates = {dt: ws.gates.run(layer, dt, run_id, schema_suffix=suffix) for dt in days}
        blocked = [dt for dt, gate in gates.items() if not gate.passed]
        if suffix:
            direction = ("", suffix) if blocked else (suffix, "")
            ws.publishing.run_operation(
                "publish_window",
                first,
                last,
                {"from_suffix": direction[0], "to_suffix": direction[1], "layer": layer},
            )
    except Exception as exc:
        for attempt in attempts.values():
            ws.ledger.finish(
                attempt, Outcome(FAILED, error_class=type(exc).__name__, error_message=str(exc))
            )
        raise
    done = []
    for dt, attempt in attempts.items():
        details = {
            "batch": f"{first}..{last}",
            "models": len(built.nodes),
            "build_seconds": round(build_seconds / len(days), 3),
            "gate": gates[dt].as_details(),
        }
        outcome = _batch_outcome(ws, dt, gates[dt], blocked, not (suffix and blocked), details)
        done.append(ws.ledger.finish(attempt, outcome))
    get_run_logger().info(
        "%s %s..%s: %d days in %.1f s", layer, first, last, len(days), time.perf_counter() - began
    )
    return done
