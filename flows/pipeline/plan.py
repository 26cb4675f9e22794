"""Plans: the lake days a run must process and from which step, from where every step stands
(flows/state/step_states.py) and what the warehouse holds."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date
from functools import partial

from flows.errors import WarehouseBusy
from flows.lake.layout import fingerprint
from flows.pipeline.progress import Estimator, StepTime
from flows.pipeline.workspace import Workspace
from flows.project.manifest import QUARANTINE, RAW_LAYER
from flows.state.step_states import UPSTREAM_AGAIN, Now, State, StepState
from flows.state.step_states import step_states as judge

log = logging.getLogger(__name__)


def step_states(ws: Workspace, start: date, end: date) -> list[StepState]:
    """Every step of every lake day in [start, end], in order."""
    now = Now(
        codes=ws.code_versions(),
        lake=partial(fingerprint, ws.lake, ws.project.lake_tables),
        live_run=lambda dt: ws.locks.live_run(f"partition:{dt.isoformat()}"),
        accepted=ws.ledger.accepted(),
    )
    return judge(ws.project.steps, ws.ledger.attempts(start, end), start, end, now)


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
            why = UPSTREAM_AGAIN
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


@dataclass(frozen=True)
class PlanCost:
    """What a plan will take: the runs of each step (their lake days: landing runs a day at a
    time, a dbt step a group of consecutive days at once) and each step's time from the ledger
    (None: no success of it recorded yet)."""

    runs: dict[str, list[int]]
    times: dict[str, StepTime | None]

    @property
    def units(self) -> dict[str, int]:
        """The lake days each step runs."""
        return {layer: sum(runs) for layer, runs in self.runs.items()}

    def step_seconds(self, layer: str) -> float | None:
        time, runs = self.times.get(layer), self.runs[layer]
        return None if time is None else time.seconds(sum(runs), len(runs))

    @property
    def seconds(self) -> float | None:
        """The whole plan's estimated seconds; None while a step it runs has no history."""
        total = 0.0
        for layer, runs in self.runs.items():
            if runs:
                seconds = self.step_seconds(layer)
                if seconds is None:
                    return None
                total += seconds
        return total


def plan_cost(ws: Workspace, planned: list[PlannedDay]) -> PlanCost:
    """Each planned day runs from its first step to the last, in the runs `step_runs` gives;
    each step costs what the ledger's recent successes of it fit (the estimate the run's
    progress starts from)."""
    steps = ws.project.steps
    estimator = Estimator.from_ledger(ws.ledger, steps)
    return PlanCost(step_runs(planned, steps), {layer: estimator.time(layer) for layer in steps})


def step_runs(planned: list[PlannedDay], steps: tuple[str, ...]) -> dict[str, list[int]]:
    """The lake days of each run of each step: landing one day a run, a later step one run per
    group of consecutive days from the same first step (as flows/pipeline/runs.py runs them)."""
    runs: dict[str, list[int]] = {layer: [] for layer in steps}
    for days, first in batches([(day.dt, day.from_layer) for day in planned]):
        for layer in steps[steps.index(first or steps[0]) :]:
            runs[layer].extend([1] * len(days) if layer == RAW_LAYER else [len(days)])
    return runs


def batches(plan: list[tuple[date, str | None]]) -> list[tuple[list[date], str | None]]:
    """Consecutive lake days starting from the same step run together (a run builds each dbt
    layer of such a batch in one invocation)."""
    groups: list[tuple[list[date], str | None]] = []
    for dt, layer in plan:
        if groups and groups[-1][1] == layer and (dt - groups[-1][0][-1]).days == 1:
            groups[-1][0].append(dt)
        else:
            groups.append(([dt], layer))
    return groups
