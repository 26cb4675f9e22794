"""The dbt steps' turn in lake-day order, where runs overlap (BigQuery takes several).

Landing goes on side by side; a dbt step then waits while another live run still has the
same step to do for an earlier lake day it holds (its `partition:<day>` lock). A serial build
goes day by day, and a model that reads more than its own day (a dimension rebuilt from every
change row, a window reaching back) must see what it would see there: a later range must not
build before an earlier one has landed. Waits point only to earlier days, so they never form
a cycle: the earliest day in flight never waits.
"""

from __future__ import annotations

from datetime import date

from flows.state.ledger import Attempt, Ledger, Status
from flows.state.locks import Locks

PARTITION = "partition:"


def _still_to_build(
    attempts: list[Attempt], layer: str, steps: tuple[str, ...], retries: int
) -> bool:
    """Whether a run whose attempts on a lake day are these has `layer` still ahead of it:
    not yet tried or still running there, and not stopped before it (a failed step stops the
    day, unless the step's retries will try a transient failure again, or it failed as part
    of a batch, whose days are then run one by one)."""
    if not attempts:
        return True
    at = steps.index(layer)
    if any(steps.index(a.layer) > at for a in attempts):
        return False
    if any(a.layer == layer and a.status != Status.RUNNING for a in attempts):
        return False
    last = max(attempts, key=lambda a: (a.started_at, a.attempt))
    if last.status != Status.FAILED or last.details.get("batch"):
        return True  # running, landed or blocked, or a failed batch run again day by day
    tries = sum(1 for a in attempts if a.layer == last.layer)
    return bool(last.details.get("transient")) and tries <= retries


def earlier_work(
    locks: Locks,
    ledger: Ledger,
    steps: tuple[str, ...],
    layer: str,
    days: list[date],
    run_id: str,
    *,
    retries: int,
) -> str | None:
    """What another live run must build first before `run_id` builds `layer` for `days`:
    None when nothing, else a line naming the run, the step, the day and how many steps that
    run has done (a waiting run's patience restarts as it grows: Locks.waiting)."""
    first = min(days)
    for holder in locks.held(PARTITION):
        if holder.run_id == run_id or not locks.is_live(holder):
            continue
        day = date.fromisoformat(holder.key.removeprefix(PARTITION))
        if day >= first:
            continue
        mine = [a for a in ledger.attempts(day, day) if a.run_id == holder.run_id]
        if _still_to_build(mine, layer, steps, retries):
            done = ledger.finished_by(holder.run_id)  # the text changes as that run advances
            return (
                f"run {holder.run_id} has still to build {layer} for {day} (an earlier lake day;"
                f" {done} of its steps done)"
            )
    return None
