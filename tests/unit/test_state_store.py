"""The state store on a SQLite file and on a PostgreSQL database: reads never wait for a writer,
writers are serialized across processes and hosts, a lock and its fencing hold between workers,
an older SQLite file is upgraded, and the URL's password never leaks."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.cli.main import main
from flows.errors import LockHeld, LockLost
from flows.gates.history import latest
from flows.settings import get_settings
from flows.state.ledger import Ledger, Status
from flows.state.location import DatabaseUrl, StateLocation
from flows.state.locks import Locks
from flows.state.store import StateStore

DAY = date(2026, 11, 3)
T0 = datetime(2026, 11, 4, 6, 0, tzinfo=UTC)
STARTS = 30  # attempts each concurrent writer starts


def test_a_read_does_not_wait_for_a_running_writer(state_location: StateLocation) -> None:
    store = StateStore(state_location)
    with store.transaction() as con:
        con.execute("insert into warehouse_binding values ('w-1', 'duckdb', 'then')")
        # the writer holds the store's write lock; a reader sees the last committed state
        assert store.read("select count(*) as n from warehouse_binding") == [{"n": 0}]
    assert store.binding() is not None and store.binding().id == "w-1"  # type: ignore[union-attr]


def test_opening_a_store_does_not_wait_for_a_running_writer(
    state_location: StateLocation,
) -> None:
    store = StateStore(state_location)
    opened: list[int] = []

    def status() -> None:  # what `sluice status` does, in another thread (another connection)
        opened.append(len(StateStore(state_location).read("select * from partition_locks")))

    with store.transaction() as con:
        con.execute("insert into warehouse_binding values ('w-1', 'duckdb', 'then')")
        reader = threading.Thread(target=status)
        reader.start()
        reader.join(timeout=60)  # a reader that waited for this writer would still be waiting
        assert not reader.is_alive() and opened == [0]


def test_a_store_is_bound_once(state_location: StateLocation) -> None:
    store = StateStore(state_location)
    store.bind("w-1", "duckdb", "2026-11-04T06:00:00+00:00")
    StateStore(state_location).bind("w-1", "bigquery", "2026-11-05T06:00:00+00:00")
    assert [dict(row) for row in store.read("select * from warehouse_binding")] == [
        {"id": "w-1", "name": "duckdb", "bound_at": "2026-11-04T06:00:00+00:00"}
    ]


def test_a_failed_transaction_leaves_nothing(state_location: StateLocation) -> None:
    store = StateStore(state_location)
    with pytest.raises(RuntimeError, match="changed its mind"), store.transaction() as con:
        con.execute("insert into warehouse_binding values ('w-1', 'duckdb', 'then')")
        raise RuntimeError("changed its mind")
    assert store.binding() is None


def test_an_older_sqlite_file_gets_the_recording_order_of_its_gate_checks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as old:  # gate_checks as Sluice wrote it before `seq`
        old.execute(
            """create table gate_checks (dt text not null, layer text not null,
            suite text not null, run_id text not null, checked_at text not null,
            success integer not null, row_count integer, details text)"""
        )
        same_time = f"{DAY}T10:00:00+00:00"
        for run_id, ok in (("run-1", 0), ("run-2", 1)):
            old.execute(
                "insert into gate_checks values (?, 'raw', 'raw.events', ?, ?, ?, 5, '[]')",
                (DAY.isoformat(), run_id, same_time, ok),
            )
    store = StateStore(path)
    assert [dict(r) for r in store.read("select run_id, seq from gate_checks order by seq")] == [
        {"run_id": "run-1", "seq": 1},
        {"run_id": "run-2", "seq": 2},
    ]
    # equal times: the check recorded last is the latest
    assert [(run.run_id, run.success) for run in latest(store, DAY, DAY)] == [("run-2", True)]


# ---- several workers on one PostgreSQL database -------------------------------------------


def _start_attempts(url: str, worker: str, ready: Any, go: Any, numbers: Any) -> None:
    """A worker process: its own store, started with the other, numbering STARTS attempts."""
    ledger = Ledger(StateStore(DatabaseUrl(url)))
    ready.release()
    go.wait()
    for _ in range(STARTS):
        attempt = ledger.start(DAY, "raw", worker, code_version="c", input_fingerprint="i")
        numbers.put((worker, attempt.attempt))


def test_concurrent_workers_number_the_attempts_of_a_step_without_a_gap_or_a_twin(
    postgres_url: DatabaseUrl,
) -> None:
    spawn = multiprocessing.get_context("spawn")
    ready, go, numbers = spawn.Semaphore(0), spawn.Event(), spawn.Queue()
    workers = [
        spawn.Process(
            target=_start_attempts,
            args=(postgres_url.url, f"w{i}", ready, go, numbers),
            daemon=True,
        )
        for i in (1, 2)
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            assert ready.acquire(timeout=120)
        go.set()  # both write from here on, each through its own connection
        got = [numbers.get(timeout=120) for _ in range(2 * STARTS)]
        for worker in workers:
            worker.join(timeout=120)
            assert worker.exitcode == 0
    finally:
        for worker in workers:
            worker.kill()
    assert sorted(number for _, number in got) == list(range(1, 2 * STARTS + 1))
    ledger = Ledger(StateStore(postgres_url))
    stored = [(a.attempt, a.run_id, a.status) for a in ledger.attempts()]
    assert sorted(stored) == sorted((n, w, Status.RUNNING) for w, n in got)


def test_threads_with_stores_of_their_own_number_attempts_apart(
    postgres_url: DatabaseUrl,
) -> None:
    go = threading.Barrier(4, timeout=60)  # a thread that died breaks it: no hang
    numbers: list[int] = []

    def write(run_id: str) -> None:
        ledger = Ledger(StateStore(postgres_url))
        go.wait()
        numbers.extend(
            ledger.start(DAY, "dwh", run_id, code_version="c", input_fingerprint="i").attempt
            for _ in range(10)
        )

    threads = [threading.Thread(target=write, args=(f"run-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 41))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_a_lock_held_by_one_worker_is_refused_to_another_and_fenced(
    postgres_url: DatabaseUrl,
) -> None:
    clock, lease = Clock(), timedelta(minutes=5)
    mine = Locks(StateStore(postgres_url), lease=lease, clock=clock, host="worker-a", pid=11)
    theirs = Locks(StateStore(postgres_url), lease=lease, clock=clock, host="worker-b", pid=22)
    key = f"partition:{DAY}"
    with mine.holding(key, "run-a"):
        with pytest.raises(LockHeld) as refused:
            theirs.acquire(key, "run-b")
        assert str(refused.value) == (
            f"{key} is held by run run-a (pid 11 on worker-a) until 2026-11-04 06:05:00 UTC"
        )
        mine.check_held("run-a")  # still its own
        clock.now += lease  # run-a stopped renewing: its lease ran out
        taken = theirs.acquire(key, "run-b")
        assert (taken.run_id, taken.host, taken.expires_at) == ("run-b", "worker-b", T0 + 2 * lease)
        with pytest.raises(LockLost, match=r"run run-a lost its lock: .* held by run run-b"):
            mine.check_held("run-a")  # fenced: it stops before publishing
        with pytest.raises(LockLost, match="run run-a could not renew its lock"):
            mine.renew(key, "run-a")
    assert theirs.holder(key) == taken  # run-a's release did not drop run-b's lock


def test_of_two_workers_racing_for_a_free_lock_exactly_one_wins(
    postgres_url: DatabaseUrl,
) -> None:
    go = threading.Barrier(2, timeout=60)
    won: list[str] = []
    refused: list[str] = []

    def race(host: str) -> None:
        locks = Locks(StateStore(postgres_url), host=host, pid=1)
        go.wait()
        try:
            won.append(locks.acquire("warehouse", f"run-{host}").run_id)
        except LockHeld as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=race, args=(host,)) for host in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(refused) == 1
    assert Locks(StateStore(postgres_url)).holder("warehouse").run_id == won[0]  # type: ignore[union-attr]


def test_a_wrong_password_is_refused_without_echoing_it(
    postgres: Any,
    postgres_url: DatabaseUrl,
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "not-the-password-4711"
    database = postgres_url.url.rsplit("/", 1)[1]
    clean_env.chdir(tmp_path)
    clean_env.setenv("SLUICE_STATE", postgres.url(database, password=wrong))
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'password authentication failed for user "sluice"' in err
    assert wrong not in err and postgres.password not in err
    clean_env.setenv("SLUICE_STATE", postgres_url.url)  # the right one: it works, unechoed
    get_settings.cache_clear()
    assert main(["incidents"]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("no incident yet\n", "")
    assert list(tmp_path.iterdir()) == []
