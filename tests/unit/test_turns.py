"""The dbt steps' turn in lake-day order (flows/pipeline/turns.py), on both state stores."""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import pytest

from flows.errors import LockHeld, TransientStepFailure
from flows.pipeline.turns import earlier_work
from flows.state.ledger import Ledger, Outcome, Status
from flows.state.locks import Locks
from flows.state.store import StateStore
from tests.unit.test_ledger_and_locks import LEASE, Clock, _start, clock, dead_pid, store

__all__ = ["clock", "store"]  # the fixtures, shared with the ledger and lock tests

STEPS = ("raw", "dwh", "marts")
D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def _before(store: StateStore, clock: Clock, layer: str, days: list[date]) -> str | None:
    locks = Locks(store, lease=LEASE, clock=clock, host="host-b", pid=os.getpid())
    return earlier_work(locks, Ledger(store, clock), STEPS, layer, days, "mine", retries=2)


def _held(store: StateStore, clock: Clock, day: date, run_id: str = "other", **who: Any) -> None:
    who = {"host": "host-a", "pid": os.getpid(), **who}
    Locks(store, lease=LEASE, clock=clock, **who).acquire(f"partition:{day}", run_id)


def test_a_later_day_waits_for_an_earlier_day_another_run_has_not_built(
    store: StateStore, clock: Clock
) -> None:
    _held(store, clock, D1)
    assert _before(store, clock, "dwh", [D2, D3]) == (
        "run other has still to build dwh for 2026-11-01 (an earlier lake day; 0 of its steps done)"
    )
    ledger = Ledger(store, clock)
    landing = _start(ledger, D1, "raw", "other")
    assert _before(store, clock, "dwh", [D2]) is not None  # landing
    ledger.finish(landing, Outcome(Status.SUCCEEDED))
    assert str(_before(store, clock, "dwh", [D2])).endswith("; 1 of its steps done)")
    building = _start(ledger, D1, "dwh", "other")
    assert _before(store, clock, "dwh", [D2]) is not None  # building it
    ledger.finish(building, Outcome(Status.SUCCEEDED))
    assert _before(store, clock, "dwh", [D2]) is None  # built: dwh goes on
    assert _before(store, clock, "marts", [D2]) is not None  # its marts are still to come
    _start(ledger, D1, "marts", "other")
    assert _before(store, clock, "dwh", [D2]) is None


def test_only_earlier_days_of_other_live_runs_hold_a_step_up(
    store: StateStore, clock: Clock
) -> None:
    _held(store, clock, D2, "later")  # a later day
    _held(store, clock, D1, "mine")  # the run's own earlier day
    assert _before(store, clock, "dwh", [D1, D2]) is None
    Locks(store).release(f"partition:{D2}", "later")
    _held(store, clock, D3, "gone", pid=dead_pid(), host="host-b")  # dead, on this host
    assert _before(store, clock, "dwh", [date(2026, 11, 4)]) is None
    _held(store, clock, date(2026, 10, 31), "elsewhere", host="host-c")
    clock.advance(seconds=LEASE.total_seconds() + 1)  # its lease ran out unrenewed
    assert _before(store, clock, "dwh", [date(2026, 11, 4)]) is None


def test_a_day_that_stopped_before_the_step_no_longer_holds_it_up(
    store: StateStore, clock: Clock
) -> None:
    _held(store, clock, D1)
    ledger = Ledger(store, clock)
    refused = _start(ledger, D1, "raw", "other")
    ledger.finish(refused, Outcome(Status.BLOCKED))  # a blocked step goes on: still to come
    assert _before(store, clock, "dwh", [D2]) is not None
    failed = _start(ledger, D1, "dwh", "other")
    ledger.finish(failed, Outcome.failure(ValueError("bad SQL")))  # the day stops
    assert _before(store, clock, "marts", [D2]) is None


def test_a_transient_failure_or_a_failed_batch_is_tried_again_so_it_still_holds_the_step(
    store: StateStore, clock: Clock
) -> None:
    _held(store, clock, D1)
    ledger = Ledger(store, clock)
    busy = TransientStepFailure("dbt layer dwh", "2026-11-01", "database is locked")
    for _ in range(3):  # the task's first try and its two retries
        assert _before(store, clock, "marts", [D2]) is not None
        ledger.finish(_start(ledger, D1, "dwh", "other"), Outcome.failure(busy))
    assert _before(store, clock, "marts", [D2]) is None  # out of retries: the day stopped
    _held(store, clock, D2, "batching")
    batch = Outcome(Status.FAILED, details={"batch": "2026-11-02..2026-11-03"})
    ledger.finish(_start(ledger, D2, "raw", "batching"), batch)  # its days are run one by one
    assert _before(store, clock, "dwh", [D3]) is not None


def test_the_wait_gives_up_after_its_patience_without_advance(
    store: StateStore, clock: Clock
) -> None:
    _held(store, clock, D1)
    locks = Locks(store, lease=LEASE, clock=clock, host="host-b", pid=os.getpid())
    ahead = ["run other has still to build dwh for 2026-11-01"]
    with (
        pytest.raises(LockHeld, match=r"^run other has still .* \(waited 0 s\)$"),
        locks.waiting("build:x", "mine", patience=0, behind=lambda: ahead[0]),
    ):
        pytest.fail("the block must not run before the earlier day")
    assert locks.holder("build:x") is None  # it never took the turn
    with locks.waiting("build:x", "mine", patience=0, behind=lambda: None):
        assert locks.live_run("build:x") == "mine"


def test_the_wait_goes_on_while_the_awaited_run_advances(store: StateStore, clock: Clock) -> None:
    locks = Locks(store, lease=LEASE, clock=clock, host="host-b", pid=os.getpid())
    progress = iter([f"run other has still to build dwh ({n} of its steps done)" for n in range(4)])
    waited: list[str] = []
    # each text resets the 0.3 s patience; the four waits take longer than that in all
    with locks.waiting(
        "build:x", "mine", patience=0.3, poll=0.05, behind=lambda: next(progress, None),
        say=waited.append,
    ):  # fmt: skip
        assert locks.live_run("build:x") == "mine"
    assert waited == [
        f"waiting: run other has still to build dwh ({n} of its steps done)" for n in range(4)
    ]
