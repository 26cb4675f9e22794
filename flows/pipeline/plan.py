"""Where every (lake day, step) stands, from the ledger, the current code and the lake."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from flows.dates import iter_days
from flows.lake.layout import fingerprint
from flows.pipeline.workspace import Workspace
from flows.state.ledger import Attempt, Status


class State(StrEnum):
    """Where a step of a lake day stands: its latest attempt, judged against code and lake."""

    NEVER_RUN = "never run"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    STALE = "stale"


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


def plan(
    ws: Workspace, start: date, end: date, *, force: bool = False, only_failed: bool = False
) -> list[PlannedDay]:
    """The lake days in [start, end] that need work, each from its first step that does."""
    first_layer = ws.project.steps[0]
    planned = []
    by_day: dict[date, list[StepState]] = {}
    for state in step_states(ws, start, end):
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
