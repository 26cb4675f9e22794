"""One step of lake days: landing or a dbt layer built in its audit copy, gated, published per
relation, with one ledger row per day."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.errors import is_transient
from flows.gates.checks import GateResult
from flows.lake.layout import fingerprint
from flows.pipeline.blocking import Block
from flows.pipeline.turns import earlier_work
from flows.pipeline.workspace import Workspace
from flows.project.manifest import AUDIT_SUFFIX, RAW_LAYER, RAW_SCHEMA
from flows.state.ledger import Attempt, Outcome, Reason, Status
from flows.warehouse.records import PartitionLanding

# How often a step's task runs again after a transient failure.
STEP_RETRIES = 2


@dataclass(frozen=True)
class _Checked:
    """A step built for contiguous lake days, gated per day, and published per relation."""

    gates: dict[date, GateResult]
    blocks: dict[str, Block]  # models not built: they would read a refused relation
    withheld: dict[str, str]  # relations not published, and why
    details: dict[str, Any]
    landed: PartitionLanding | None = None
    failed_on: dict[str, date] = field(default_factory=dict)  # relation -> day it failed


def _build(
    ws: Workspace, days: list[date], layer: str, run_id: str, exclude: tuple[str, ...]
) -> tuple[int, PartitionLanding | None]:
    """Land a lake day (raw) or build a dbt layer for contiguous days, into the audit schemas."""
    first, last = days[0], days[-1]
    if layer == RAW_LAYER:  # a lake day is landed on its own
        landed = ws.warehouse.land(
            ws.lake,
            ws.project.lake_tables,
            first,
            lateness_days=ws.project.lateness_days,
            load_id=run_id,
            schema=RAW_SCHEMA + AUDIT_SUFFIX,
        )
        return 0, landed
    return len(ws.dbt.run_layer(layer, first, last, exclude=exclude).nodes), None


def _withheld(
    ws: Workspace, layer: str, gates: dict[date, GateResult], blocks: dict[str, Block]
) -> tuple[dict[str, str], dict[str, date]]:
    """The relations of the step not to publish, why, and the day each failed its checks.

    A relation whose checks failed on any day of the step, one that was not built (blocked),
    and, within the layer, one that reads a withheld one. Raw is one delivery: any failure
    withholds the whole lake day.
    """
    failed_on: dict[str, date] = {}
    withheld: dict[str, str] = {}
    for name, why in ws.gates.unsuited.items():  # no suite and no key: never published
        if name in {t.name for t in ws.project.tables(layer)} and name not in blocks:
            failed_on[name] = min(gates)
            withheld[name] = f"{Reason.GATE_FAILED}: {why}"
    for dt, gate in gates.items():
        if (dt, layer) in ws.accepted:
            continue  # an operator accepted this day's failures: they are recorded, not enforced
        for table, why in gate.refused().items():
            failed_on.setdefault(table, dt)
            withheld.setdefault(table, f"{Reason.GATE_FAILED} on {dt}: {why}")
    withheld.update(
        {name: f"{Reason.WINDOW_BLOCKED}: {b.describe()}" for name, b in blocks.items()}
    )
    names = [table.name for table in ws.project.tables(layer)]
    if layer == RAW_LAYER:
        first = next(iter(withheld.values()), "")
        return ({name: first for name in names} if withheld else {}), failed_on
    changed = True
    while changed:  # within the layer, what reads a withheld model is not published either
        changed = False
        for name in ws.project.models_in(layer):
            parent = next((u.name for u in ws.project.upstreams(name) if u.name in withheld), None)
            if parent and name not in withheld:
                withheld[name] = f"reads {parent}, not published: {withheld[parent]}"
                changed = True
    return {name: why for name, why in withheld.items() if name in names}, failed_on


def _build_gate_publish(
    ws: Workspace, days: list[date], layer: str, run_id: str, blocks: dict[str, Block]
) -> _Checked:
    """Build a step for contiguous days in its audit copy (blocked models left out), gate each
    day, publish every relation whose checks (and those of what it reads) passed, and restore
    the others from the published copy, so the audit copy never keeps rows nobody accepted.
    On any failure (build error, check error, a killed process: see runs.recover) every
    relation of the step is restored.

    In a batch, the first day's gate checks the dates before the batch and the last day's
    those after it, so each rewritten date is checked once (Gates.run_days).

    Where runs may overlap (BigQuery), their dbt steps take turns (the warehouse's
    build_lock_key), since they share the audit copies, in lake-day order (turns.py); landing
    does not wait.
    """
    key = None if layer == RAW_LAYER else ws.warehouse.build_lock_key
    before = partial(
        earlier_work, ws.locks, ws.ledger, ws.project.steps, layer, days, run_id,
        retries=STEP_RETRIES,
    )  # fmt: skip
    say = get_run_logger().info  # the run's log: a wait shows where the run's progress does
    with ws.locks.waiting(key, run_id, patience=ws.settings.lease_seconds, behind=before, say=say):
        return _build_gate_publish_in_turn(ws, days, layer, run_id, blocks)


def _build_gate_publish_in_turn(
    ws: Workspace, days: list[date], layer: str, run_id: str, blocks: dict[str, Block]
) -> _Checked:
    first, last = days[0], days[-1]
    tables = ws.project.tables(layer)
    built = frozenset(t.alias for t in tables if t.name not in blocks)
    startup = ws.gates.start() if ws.gates.layer_suites(layer) else 0.0
    began = time.perf_counter()
    try:
        if built or layer == RAW_LAYER:
            models, landed = _build(ws, days, layer, run_id, exclude=tuple(sorted(blocks)))
        else:
            models, landed = 0, None
        checked = time.perf_counter()
        gates = ws.gates.run_days(layer, days, run_id, schema_suffix=AUDIT_SUFFIX, tables=built)
    except BaseException:
        ws.publish(layer, first, last, restore=True)
        raise
    gated = time.perf_counter()
    withheld, failed_on = _withheld(ws, layer, gates, blocks)
    ws.fence(run_id)
    ws.publish(layer, first, last, only=[t for t in tables if t.name not in withheld])
    ws.publish(layer, first, last, restore=True, only=[t for t in tables if t.name in withheld])
    share = len(days)
    details: dict[str, Any] = {
        "build_seconds": round((checked - began) / share, 3),
        "gate_seconds": round((gated - checked) / share, 3),
        "publish_seconds": round((time.perf_counter() - gated) / share, 3),
        "published": sorted(t.name for t in tables if t.name not in withheld),
    }
    if startup:
        details["gx_startup_seconds"] = round(startup, 3)
    if models:
        details["models"] = models
    if share > 1:
        details["batch"] = f"{first}..{last}"
    return _Checked(gates, blocks, withheld, details, landed, failed_on)


def _outcome(
    ws: Workspace, dt: date, checked: _Checked, layer: str, near: dict[str, Block] | None = None
) -> Outcome:
    """One day's ledger outcome: its own checks first, then blocks (its own, or, in a batch,
    `near`: what a day of the batch refused that this day reads), then its batch's days."""
    gate = checked.gates.get(dt)
    details = dict(checked.details)
    if gate is not None:
        details["gate"] = gate.as_details()
    if (dt, layer) in ws.accepted:
        details["accepted"] = ws.accepted[(dt, layer)]
    landed = checked.landed
    if landed is not None and landed.quarantined_by_table():
        details["quarantined"] = landed.quarantined_by_table()
    counts: dict[str, Any] = (
        {"rows_in": landed.lines, "rows_out": landed.landed, "quarantined": landed.quarantined}
        if landed is not None
        else {}
    )
    own = sorted(name for name, day in checked.failed_on.items() if day == dt)
    if own:
        details["refused"] = checked.withheld
        reasons = [check.describe() for check in gate.blocking] if gate is not None else []
        reasons += [checked.withheld[n] for n in own if n in ws.gates.unsuited]
        message = "; ".join(reasons)
        return Outcome(
            Status.BLOCKED, error_class=Reason.GATE_FAILED, error_message=message,
            details=details, **counts,
        )  # fmt: skip
    blocks = checked.blocks or near or {}
    if blocks:
        details["refused"] = checked.withheld
        message = "; ".join(block.describe() for block in blocks.values())
        return Outcome(
            Status.BLOCKED, error_class=Reason.WINDOW_BLOCKED, error_message=message,
            details=details, **counts,
        )  # fmt: skip
    if checked.withheld:
        day = min(checked.failed_on.values())
        message = f"checked, but not published: {day} of its batch was blocked"
        return Outcome(
            Status.FAILED, error_class=Reason.NOT_PUBLISHED, error_message=message,
            details=details,
        )  # fmt: skip
    return Outcome(Status.SUCCEEDED, details=details, **counts)


def _batch_blocks(
    ws: Workspace, layer: str, checked: _Checked, days: list[date]
) -> dict[date, dict[str, Block]]:
    """For each day of a batch, the models a day-by-day run would have blocked because of what
    another day of the batch refused (the others are merely not published)."""
    if not checked.failed_on:
        return {}
    refused: dict[date, dict[str, str]] = {}
    for name, day in checked.failed_on.items():
        refused.setdefault(day, {})[name] = checked.withheld[name]
    blocker = ws.blocker().including(layer, refused, ws.ledger.clock())
    found = {}
    for dt in days:
        if dt in refused:
            continue
        blocks = {n: b for n, b in blocker.blocked(layer, [dt]).items() if n in checked.withheld}
        if blocks:
            found[dt] = blocks
    return found


def _retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except Exception as exc:  # the task's own exception, re-raised by Prefect
        return is_transient(exc)
    return False


# Both step tasks: no result caching, and retries with backoff for transient errors only.
_STEP_TASK: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": STEP_RETRIES,
    "retry_delay_seconds": [2, 10],
    "retry_condition_fn": _retry_if_transient,
}


def _start(ws: Workspace, dt: date, layer: str, run_id: str) -> Attempt:
    return ws.ledger.start(
        dt,
        layer,
        run_id,
        code_version=ws.code_versions()[layer],
        input_fingerprint=fingerprint(ws.lake, ws.project.lake_tables, dt),
        git_sha=ws.git_sha,
    )


@task(name="step", task_run_name="{layer} {dt}", **_STEP_TASK)
def run_step(ws: Workspace, dt: date, layer: str, run_id: str) -> Attempt:
    """One step of one lake day, recorded in the ledger (each retry is a new attempt)."""
    attempt = _start(ws, dt, layer, run_id)
    try:
        blocks = ws.blocker().blocked(layer, [dt])
        outcome = _outcome(ws, dt, _build_gate_publish(ws, [dt], layer, run_id, blocks), layer)
    except Exception as exc:
        ws.ledger.finish(attempt, Outcome.failure(exc))
        raise
    done = ws.ledger.finish(attempt, outcome)
    get_run_logger().info("%s %s: %s in %.1f s", layer, dt, done.status, done.seconds or 0.0)
    return done


@task(name="batch-step", task_run_name="{layer} {first}..{last}", **_STEP_TASK)
def run_batch_step(
    ws: Workspace, days: list[date], layer: str, run_id: str, first: date, last: date
) -> list[Attempt]:
    """One dbt layer for contiguous lake days in one invocation, then each day's gate.

    The caller batches only days where no model is blocked."""
    attempts = {dt: _start(ws, dt, layer, run_id) for dt in days}
    began = time.perf_counter()
    try:
        checked = _build_gate_publish(ws, days, layer, run_id, {})
    except Exception as exc:  # its days are run one by one next (runs._step_days)
        failed = Outcome.failure(exc)
        failed = replace(failed, details={**failed.details, "batch": f"{first}..{last}"})
        for attempt in attempts.values():
            ws.ledger.finish(attempt, failed)
        raise
    near = _batch_blocks(ws, layer, checked, days)
    done = [
        ws.ledger.finish(attempt, _outcome(ws, dt, checked, layer, near.get(dt)))
        for dt, attempt in attempts.items()
    ]
    get_run_logger().info(
        "%s %s..%s: %d days in %.1f s", layer, first, last, len(days), time.perf_counter() - began
    )
    return done
