"""Where every (lake day, step) stands, from the ledger, the current code and the lake."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from flows.dates import iter_days
from flows.errors import WarehouseBusy
from flows.lake.layout import fingerprint
from flows.pipeline.workspace import Workspace
from flows.project.manifest import QUARANTINE, RAW_LAYER
from flows.state.ledger import Attempt, Status


class State(StrEnum):
    """Where a step of a lake day stands: its latest attempt, judged against code and lake."""

    NEVER_RUN = "never run"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    STALE = "stale"


log = logging.getLogger(__name__)
NEEDS_RUN = (State.NEVER_RUN, State.FAILED, State.BLOCKED, State.STALE)


@dataclass(frozen=True)
class StepState:
    """Where one step of one lake day stands."""

    dt: date
    layer: str
    state: State
    attempts: int
    latest: Attempt | None
    why: str = ""

    def as_json(self) -> dict[str, object]:
        latest = self.latest
        return {
            "date": self.dt.isoformat(),
            "layer": self.layer,
            "state": self.state,
            "attempts": self.attempts,
            "why": self.why,
            "run_id": latest.run_id if latest else None,
            "started_at": latest.started_at.isoformat() if latest else None,
            "finished_at": latest.finished_at.isoformat()
            if latest and latest.finished_at
            else None,
            "seconds": round(latest.seconds, 3) if latest and latest.seconds is not None else None,
            "rows_in": latest.rows_in if latest else None,
            "rows_out": latest.rows_out if latest else None,
            "quarantined": latest.quarantined if latest else None,
            "error_class": latest.error_class if latest else None,
            "error_message": latest.error_message if latest else None,
        }


def _state(latest: Attempt | None, code: str, inputs: str, live: bool) -> tuple[State, str]:
    if latest is None:
        return State.NEVER_RUN, ""
    if latest.status in (Status.FAILED, Status.BLOCKED):
        return State(latest.status), f"{latest.error_class}: {latest.error_message}"
    if latest.status == Status.RUNNING and live:
        return State.RUNNING, f"run {latest.run_id}"
    if latest.status == Status.RUNNING:
        return State.FAILED, f"abandoned: run {latest.run_id} ended before the step finished"
    if latest.code_version != code:
        return State.STALE, "the code changed since it succeeded"
    if latest.input_fingerprint != inputs:
        return State.STALE, "the lake partition changed since it succeeded"
    return State.SUCCEEDED, ""


def step_states(ws: Workspace, start: date, end: date) -> list[StepState]:
    """Every step of every lake day in [start, end], in order."""
    attempts = ws.ledger.attempts(start, end)
    counts: dict[tuple[date, str], int] = {}
    latest: dict[tuple[date, str], Attempt] = {}
    for each in attempts:
        key = (each.dt, each.layer)
        counts[key] = counts.get(key, 0) + 1
        latest[key] = each
    codes = {layer: ws.project.code_version(layer) for layer in ws.project.steps}
    accepted = ws.ledger.accepted()
    states = []
    for dt in iter_days(start, end):
        inputs = fingerprint(ws.lake, ws.project.lake_tables, dt)
        holder = ws.locks.holder(f"partition:{dt.isoformat()}")
        live_run = holder.run_id if holder is not None and ws.locks.is_live(holder) else None
        upstream_ok = True
        for layer in ws.project.steps:
            attempt = latest.get((dt, layer))
            running = attempt is not None and attempt.run_id == live_run
            state, why = _state(attempt, codes[layer], inputs, running)
            if (dt, layer) in accepted:
                why = f"accepted: {accepted[(dt, layer)]}; {why}".rstrip("; ")
            if upstream_ok is False and state == State.SUCCEEDED:
                state, why = State.STALE, "an upstream step of this day must run again"
            upstream_ok = upstream_ok and state == State.SUCCEEDED
            states.append(
                StepState(
                    dt, layer, state, counts.get((dt, layer), 0), latest.get((dt, layer)), why
                )
            )
    return states


@dataclass(frozen=True)
class PlannedDay:
    """A lake day a run will process, from which step, and why."""

    dt: date
    from_layer: str
    reason: str


def absent(ws: Workspace, states: list[StepState]) -> dict[tuple[date, str], str]:
    """Steps the ledger calls done whose output the warehouse does not hold, and why: a day's
    raw rows that are not all there, a published table that is missing (a cheap check: one
    count per raw table and day range, one table listing). An unreachable warehouse (a run
    holds it) is logged and checked next time."""
    done = [s for s in states if s.state == State.SUCCEEDED and s.latest is not None]
    if not done:
        return {}
    wanted = {
        layer: [t for t in ws.project.tables(layer) if t.name != QUARANTINE]
        for layer in ws.project.steps
    }
    relations = [
        (*t.published, "dt" if layer == RAW_LAYER else "")
        for layer, tables in wanted.items()
        for t in tables
    ]
    try:
        found = ws.warehouse.rows_per_day(
            relations, min(s.dt for s in done), max(s.dt for s in done)
        )
    except WarehouseBusy as exc:
        log.warning("could not check that the warehouse holds what the ledger says: %s", exc)
        return {}
    missing = {
        layer: [".".join(t.published) for t in tables if found.get(t.published) is None]
        for layer, tables in wanted.items()
    }
    gaps: dict[tuple[date, str], str] = {}
    for state in done:
        if missing[state.layer]:
            gaps[(state.dt, state.layer)] = f"{', '.join(missing[state.layer])} missing"
        elif state.layer == RAW_LAYER and state.latest is not None:
            held = sum((found.get(t.published) or {}).get(state.dt, 0) for t in wanted[RAW_LAYER])
            recorded = state.latest.rows_out or 0
            if held != recorded:
                gaps[(state.dt, state.layer)] = (
                    f"the warehouse holds {held:,} raw rows of the day, the ledger recorded "
                    f"{recorded:,}"
                )
    return gaps


def _verified(ws: Workspace, states: list[StepState]) -> list[StepState]:
    """States with the steps whose output is absent from the warehouse (and what follows
    them on the same day) made stale."""
    gaps = absent(ws, states)
    if not gaps:
        return states
    verified, broken = [], set()
    for state in states:
        why = gaps.get((state.dt, state.layer))
        if why is None and state.dt in broken and state.state == State.SUCCEEDED:
            why = "an upstream step of this day must run again"
        if why is not None:
            broken.add(state.dt)
            state = replace(state, state=State.STALE, why=why)
        verified.append(state)
    return verified


def plan(
    ws: Workspace, start: date, end: date, *, force: bool = False, only_failed: bool = False
) -> list[PlannedDay]:
    """The lake days in [start, end] that need work, each from its first step that does;
    steps the ledger calls done are checked against the warehouse first."""
    first_layer = ws.project.steps[0]
    planned = []
    by_day: dict[date, list[StepState]] = {}
    states = step_states(ws, start, end)
    for state in states if force else _verified(ws, states):
        by_day.setdefault(state.dt, []).append(state)
    for dt, states in by_day.items():
        if force:
            planned.append(PlannedDay(dt, first_layer, "forced"))
            continue
        todo = next((s for s in states if s.state != State.SUCCEEDED), None)
        if todo is None or todo.state == State.RUNNING:
            continue  # up to date, or a live run is processing it
        if only_failed and todo.state not in (State.FAILED, State.BLOCKED):
            continue
        planned.append(PlannedDay(dt, todo.layer, todo.state))
    return planned
