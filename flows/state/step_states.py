"""Where every (lake day, step) stands: its latest attempt judged against code, lake and runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from flows.dates import iter_days
from flows.project.code import CODE_FORMAT, is_current_format
from flows.state.ledger import Attempt, Status


class State(StrEnum):
    """Where a step of a lake day stands: its latest attempt, judged against code and lake."""

    NEVER_RUN = "never run"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    STALE = "stale"


UPSTREAM_AGAIN = "an upstream step of this day must run again"


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


@dataclass(frozen=True)
class Now:
    """What the latest attempts are judged against: each step's code version now, each lake
    day's fingerprint now (None: the lake is not compared), the run that holds each lake day
    while it lives, and the operators' acceptances."""

    codes: dict[str, str]
    lake: Callable[[date], str] | None
    live_run: Callable[[date], str | None]
    accepted: dict[tuple[date, str], str]


def _code_changed(recorded: str) -> str:
    if not is_current_format(recorded):
        return (
            f"the code version format changed ({CODE_FORMAT}: a digest of the step's files) "
            "since it succeeded"
        )
    return "the code changed since it succeeded"


def _state(latest: Attempt | None, code: str, inputs: str | None, live: bool) -> tuple[State, str]:
    if latest is None:
        return State.NEVER_RUN, ""
    if latest.status in (Status.FAILED, Status.BLOCKED):
        return State(latest.status), f"{latest.error_class}: {latest.error_message}"
    if latest.status == Status.RUNNING and live:
        return State.RUNNING, f"run {latest.run_id}"
    if latest.status == Status.RUNNING:
        return State.FAILED, f"abandoned: run {latest.run_id} ended before the step finished"
    if latest.code_version != code:
        return State.STALE, _code_changed(latest.code_version)
    if inputs is not None and latest.input_fingerprint != inputs:
        return State.STALE, "the lake partition changed since it succeeded"
    return State.SUCCEEDED, ""


def step_states(
    steps: tuple[str, ...], attempts: list[Attempt], start: date, end: date, now: Now
) -> list[StepState]:
    """Every step of every lake day in [start, end], in order, from the ledger's attempts
    (oldest first); a step after one that must run again is stale too."""
    counts: dict[tuple[date, str], int] = {}
    latest: dict[tuple[date, str], Attempt] = {}
    for each in attempts:
        key = (each.dt, each.layer)
        counts[key] = counts.get(key, 0) + 1
        latest[key] = each
    states = []
    for dt in iter_days(start, end):
        inputs = now.lake(dt) if now.lake is not None else None
        live_run = now.live_run(dt)
        upstream_ok = True
        for layer in steps:
            attempt = latest.get((dt, layer))
            running = attempt is not None and attempt.run_id == live_run
            state, why = _state(attempt, now.codes[layer], inputs, running)
            if (dt, layer) in now.accepted:
                why = f"accepted: {now.accepted[(dt, layer)]}; {why}".rstrip("; ")
            if upstream_ok is False and state == State.SUCCEEDED:
                state, why = State.STALE, UPSTREAM_AGAIN
            upstream_ok = upstream_ok and state == State.SUCCEEDED
            key = (dt, layer)
            states.append(StepState(dt, layer, state, counts.get(key, 0), attempt, why))
    return states
