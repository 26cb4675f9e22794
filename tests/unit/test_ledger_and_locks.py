"""The ledger's attempts, the leased locks, and which errors are worth a retry, on a SQLite
file and on a PostgreSQL database."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from google.api_core.exceptions import BadRequest, InternalServerError

from flows.errors import (
    InputError,
    LockHeld,
    LockLost,
    StepFailed,
    TransientStepFailure,
    is_transient,
    step_failure,
)
from flows.state.ledger import Attempt, Ledger, Outcome, Reason, Status
from flows.state.location import StateLocation
from flows.state.locks import Locks, process_alive
from flows.state.store import StateStore

NOV_1, NOV_2, NOV_3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
T0 = datetime(2026, 11, 4, 6, 0, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
KEY = "partition:2026-11-01"


class Clock:
    """A clock that only moves when the test advances it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture()
def store(state_location: StateLocation) -> StateStore:
    return StateStore(state_location)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


def _start(ledger: Ledger, dt: date, layer: str, run_id: str = "run-1") -> Attempt:
    return ledger.start(dt, layer, run_id, code_version="code-1", input_fingerprint="lake-1")


def dead_pid() -> int:
    """The pid of a process that has finished (and been reaped) on this host."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)
    return child.pid


# ---- ledger --------------------------------------------------------------------------------


def test_attempts_are_numbered_per_day_and_layer(store: StateStore, clock: Clock) -> None:
    ledger = Ledger(store, clock)
    first = _start(ledger, NOV_1, "raw")
    second = _start(ledger, NOV_1, "raw", "run-2")
    other_layer = _start(ledger, NOV_1, "dwh")
    other_day = _start(ledger, NOV_2, "raw")
    numbers = [(a.dt, a.layer, a.attempt, a.run_id, a.status) for a in ledger.attempts()]
    assert numbers == [
        (NOV_1, "dwh", 1, "run-1", Status.RUNNING),
        (NOV_1, "raw", 1, "run-1", Status.RUNNING),
        (NOV_1, "raw", 2, "run-2", Status.RUNNING),
        (NOV_2, "raw", 1, "run-1", Status.RUNNING),
    ]
    assert [first.attempt, second.attempt, other_layer.attempt, other_day.attempt] == [1, 2, 1, 1]
    assert first.started_at == T0
    assert first.finished_at is None
    assert first.seconds is None


def test_finish_records_the_outcome_and_duration(store: StateStore, clock: Clock) -> None:
    ledger = Ledger(store, clock)
    attempt = _start(ledger, NOV_1, "raw")
    clock.advance(seconds=12.5)
    done = ledger.finish(
        attempt,
        Outcome(
            Status.SUCCEEDED, rows_in=10, rows_out=8, quarantined=2, details={"events": {"x": 2}}
        ),
    )
    (stored,) = ledger.attempts()
    assert stored == done
    assert (stored.status, stored.rows_in, stored.rows_out, stored.quarantined) == (
        Status.SUCCEEDED,
        10,
        8,
        2,
    )
    assert stored.finished_at == T0 + timedelta(seconds=12.5)
    assert stored.seconds == 12.5
    assert stored.details == {"events": {"x": 2}}
    assert (stored.code_version, stored.input_fingerprint) == ("code-1", "lake-1")
    assert (stored.error_class, stored.error_message) == (None, None)


def test_a_failed_step_records_whether_a_retry_may_cure_it(store: StateStore, clock: Clock) -> None:
    """The emulator's 500 is transient by its class, whatever its message says."""
    ledger = Ledger(store, clock)
    conflict = InternalServerError("TransactionContext Error: an unseen conflict wording")
    for layer, error in (("raw", conflict), ("dwh", ValueError("invalid literal for int()"))):
        ledger.finish(_start(ledger, NOV_1, layer), Outcome.failure(error))
    stored = {a.layer: a for a in ledger.attempts()}
    assert stored["raw"].details == {"transient": True}
    assert stored["raw"].error_class == "InternalServerError"
    assert stored["raw"].error_message == "500 TransactionContext Error: an unseen conflict wording"
    assert stored["dwh"].details == {}
    assert (stored["dwh"].status, stored["dwh"].error_class) == (Status.FAILED, "ValueError")


def test_abandon_running_fails_only_the_running_attempts_of_that_step(
    store: StateStore, clock: Clock
) -> None:
    ledger = Ledger(store, clock)
    ledger.finish(_start(ledger, NOV_1, "raw"), Outcome(Status.SUCCEEDED))
    _start(ledger, NOV_1, "raw", "run-2")  # its process died
    _start(ledger, NOV_1, "dwh", "run-2")  # another step: left alone
    clock.advance(minutes=5)
    assert ledger.abandon_running(NOV_1, "raw", "its process ended") == 1
    assert ledger.abandon_running(NOV_1, "raw", "its process ended") == 0
    states = {
        (a.layer, a.attempt): (a.status, a.error_class, a.error_message, a.finished_at)
        for a in ledger.attempts()
    }
    assert states == {
        ("raw", 1): (Status.SUCCEEDED, None, None, T0),
        ("raw", 2): (
            Status.FAILED,
            Reason.ABANDONED,
            "its process ended",
            T0 + timedelta(minutes=5),
        ),
        ("dwh", 1): (Status.RUNNING, None, None, None),
    }
    assert Reason.ABANDONED == "Abandoned"


def test_span_is_the_first_and_last_day_with_an_attempt(store: StateStore) -> None:
    ledger = Ledger(store)
    assert ledger.span() == (None, None)
    _start(ledger, NOV_3, "raw")
    _start(ledger, NOV_1, "marts")
    _start(ledger, NOV_2, "raw")
    assert ledger.span() == (NOV_1, NOV_3)


def test_latest_is_the_last_attempt_of_each_step_within_the_range(
    store: StateStore, clock: Clock
) -> None:
    ledger = Ledger(store, clock)
    ledger.finish(_start(ledger, NOV_1, "raw"), Outcome(Status.FAILED, error_class="StepFailed"))
    ledger.finish(_start(ledger, NOV_1, "raw", "run-2"), Outcome(Status.SUCCEEDED))
    ledger.finish(_start(ledger, NOV_1, "dwh", "run-2"), Outcome(Status.SUCCEEDED))
    _start(ledger, NOV_3, "raw", "run-3")
    latest = {key: (a.attempt, a.run_id, a.status) for key, a in ledger.latest().items()}
    assert latest == {
        (NOV_1, "raw"): (2, "run-2", Status.SUCCEEDED),
        (NOV_1, "dwh"): (1, "run-2", Status.SUCCEEDED),
        (NOV_3, "raw"): (1, "run-3", Status.RUNNING),
    }
    assert set(ledger.latest(NOV_2, NOV_3)) == {(NOV_3, "raw")}
    assert set(ledger.latest(NOV_1, NOV_1)) == {(NOV_1, "raw"), (NOV_1, "dwh")}


# ---- locks ---------------------------------------------------------------------------------


def _locks(store: StateStore, clock: Clock, host: str, pid: int) -> Locks:
    return Locks(store, lease=LEASE, clock=clock, host=host, pid=pid)


def test_acquire_records_the_holder_and_its_lease(store: StateStore, clock: Clock) -> None:
    locks = _locks(store, clock, "host-a", os.getpid())
    assert locks.holder(KEY) is None
    mine = locks.acquire(KEY, "run-1")
    assert locks.holder(KEY) == mine
    assert (mine.key, mine.run_id, mine.host, mine.pid) == (KEY, "run-1", "host-a", os.getpid())
    assert (mine.acquired_at, mine.expires_at) == (T0, T0 + LEASE)


def test_a_live_holder_keeps_the_lock_and_the_error_names_it(
    store: StateStore, clock: Clock
) -> None:
    holder = _locks(store, clock, "host-a", os.getpid())
    holder.acquire(KEY, "run-1")
    contender = _locks(store, clock, "host-a", os.getpid() + 1)
    clock.advance(seconds=59)
    with pytest.raises(LockHeld) as raised:
        contender.acquire(KEY, "run-2")
    assert str(raised.value) == (
        f"{KEY} is held by run run-1 (pid {os.getpid()} on host-a) until 2026-11-04 06:01:00 UTC"
    )
    assert holder.holder(KEY).run_id == "run-1"  # type: ignore[union-attr]


def test_a_dead_holder_on_the_same_host_is_taken_over_at_once(
    store: StateStore, clock: Clock
) -> None:
    _locks(store, clock, "host-a", dead_pid()).acquire(KEY, "run-1")
    taken = _locks(store, clock, "host-a", os.getpid()).acquire(KEY, "run-2")
    assert (taken.run_id, taken.pid, taken.expires_at) == ("run-2", os.getpid(), T0 + LEASE)
    assert Locks(store).holder(KEY) == taken


def test_a_holder_on_another_host_is_taken_over_only_when_its_lease_expires(
    store: StateStore, clock: Clock
) -> None:
    # Its pid is dead here, but that says nothing about a process on another host.
    _locks(store, clock, "host-b", dead_pid()).acquire(KEY, "run-1")
    contender = _locks(store, clock, "host-a", os.getpid())
    clock.advance(seconds=59, microseconds=999_999)
    with pytest.raises(LockHeld, match="held by run run-1"):
        contender.acquire(KEY, "run-2")
    clock.advance(microseconds=1)  # the lease ends now
    taken = contender.acquire(KEY, "run-2")
    assert (taken.run_id, taken.host, taken.acquired_at) == ("run-2", "host-a", T0 + LEASE)


def test_renew_extends_the_lease_of_the_holder_only(store: StateStore, clock: Clock) -> None:
    holder = _locks(store, clock, "host-b", os.getpid())
    holder.acquire(KEY, "run-1")
    clock.advance(seconds=50)
    holder.renew(KEY, "run-1")
    with pytest.raises(LockLost, match="run-other could not renew its lock"):
        holder.renew(KEY, "run-other")  # not the holder: it is told, never silently ignored
    assert holder.holder(KEY).expires_at == T0 + timedelta(seconds=110)  # type: ignore[union-attr]
    contender = _locks(store, clock, "host-a", os.getpid())
    clock.advance(seconds=30)  # past the first lease, inside the renewed one
    with pytest.raises(LockHeld, match="until 2026-11-04 06:01:50 UTC"):
        contender.acquire(KEY, "run-2")
    clock.advance(seconds=30)
    assert contender.acquire(KEY, "run-2").run_id == "run-2"


def test_release_lets_another_run_take_the_lock(store: StateStore, clock: Clock) -> None:
    holder = _locks(store, clock, "host-a", os.getpid())
    holder.acquire(KEY, "run-1")
    contender = _locks(store, clock, "host-a", os.getpid())
    holder.release(KEY, "run-2")  # not the holder: no effect
    with pytest.raises(LockHeld):
        contender.acquire(KEY, "run-2")
    holder.release(KEY, "run-1")
    assert holder.holder(KEY) is None
    assert contender.acquire(KEY, "run-2").run_id == "run-2"
    assert holder.holder("partition:2026-11-02") is None


def test_a_waiting_run_takes_the_lock_once_the_live_holder_releases_it(
    store: StateStore, clock: Clock
) -> None:
    holder = _locks(store, clock, "host-b", os.getpid())
    holder.acquire(KEY, "run-1")
    waiter = _locks(store, clock, "host-a", os.getpid())
    asked, took = threading.Event(), threading.Event()
    real_acquire = waiter.acquire

    def acquire(key: str, run_id: str) -> Any:
        try:
            return real_acquire(key, run_id)
        finally:
            asked.set()

    waiter.acquire = acquire  # type: ignore[method-assign]

    def wait_then_hold() -> None:
        with waiter.waiting(KEY, "run-2", patience=600, poll=0.01):
            took.set()
            assert waiter.holder(KEY).run_id == "run-2"  # type: ignore[union-attr]
            waiter.check_held("run-2")  # fenced like any lock the run holds

    thread = threading.Thread(target=wait_then_hold)
    thread.start()
    assert asked.wait(60)  # it tried, and was refused: run-1 is live
    assert not took.is_set()
    assert holder.holder(KEY).run_id == "run-1"  # type: ignore[union-attr]
    holder.release(KEY, "run-1")
    thread.join(60)
    assert took.is_set()
    assert holder.holder(KEY) is None  # released after the block


def test_a_run_that_waited_its_patience_out_names_the_holder(
    store: StateStore, clock: Clock
) -> None:
    _locks(store, clock, "host-b", os.getpid()).acquire(KEY, "run-1")
    waiter = _locks(store, clock, "host-a", os.getpid())
    with (
        pytest.raises(LockHeld, match=r"held by run run-1 .* \(waited 0 s\)"),
        waiter.waiting(KEY, "run-2", patience=0),
    ):
        pytest.fail("the block must not run without the lock")
    with waiter.waiting(None, "run-2", patience=0):  # no lock to take: the block runs
        pass


# ---- transient or not ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        TransientStepFailure("dbt layer dwh", "2026-11-01", "database is locked"),
        OSError(errno.EIO, "Input/output error"),
        RuntimeError("IO Error: Could not set lock on file warehouse.duckdb"),
        ConnectionResetError("peer went away"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        BadRequest("Could not serialize access to table p:raw.events due to concurrent update"),
        BadRequest("TransactionContext Error: Conflict on tuple deletion!"),
        BadRequest(
            'TransactionContext Error: Catalog write-write conflict on create with "Schema\\0'
            'raw_audit\\0raw_audit\\0Table\\0raw_audit\\0ab_patterns"; reason: '
            "crucibleInternalError"
        ),
    ],
    ids=[
        "TransientStepFailure",
        "EIO",
        "could-not-set-lock",
        "ConnectionResetError",
        "pg-40001",
        "pg-40P01",
        "pg-57P01",
        "bigquery-concurrent-dml",
        "emulator-concurrent-dml",
        "emulator-concurrent-ddl",
    ],
)
def test_contention_and_io_faults_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        InputError("lake partition dt=2026-11-01 has no _SUCCESS marker"),
        StepFailed("x", "d", "syntax error"),
        StepFailed("dbt layer dwh", "2026-11-01", "Could not set lock on file"),
        ValueError("invalid literal for int()"),
        OSError(errno.ENOENT, "No such file or directory"),
        psycopg.errors.UniqueViolation("duplicate key value violates unique constraint"),
        psycopg.errors.UndefinedTable('relation "partition_attempts" does not exist'),
        BadRequest("Syntax error: Unexpected keyword MERGE at [1:1]"),
    ],
    ids=[
        "InputError",
        "StepFailed",
        "StepFailed-lock-text",
        "ValueError",
        "ENOENT",
        "pg-23505",
        "pg-42P01",
        "bigquery-syntax",
    ],
)
def test_bad_input_and_bad_code_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


def test_step_failure_is_transient_only_when_its_message_says_so() -> None:
    locked = step_failure("dbt layer dwh", "2026-11-01", "IO Error: Could not set lock on file")
    broken = step_failure("dbt layer dwh", "2026-11-01", "Parser Error: syntax error at 'form'")
    assert type(locked) is TransientStepFailure
    assert type(broken) is StepFailed
    assert (broken.step, broken.partition) == ("dbt layer dwh", "2026-11-01")
    assert str(broken) == (
        "dbt layer dwh failed for partition 2026-11-01: Parser Error: syntax error at 'form'"
    )
    assert is_transient(locked)
    assert not is_transient(broken)
