"""Leased locks in the state store: one writer per partition (and per DuckDB warehouse).

Renewed while a run holds them, never taken from a live holder on the same host, and checked
(fenced) before a run publishes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flows.dates import Clock, utc_now
from flows.errors import LockHeld, LockLost
from flows.state.store import Row, StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, and until when their lease runs."""

    key: str
    run_id: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        return (
            f"{self.key} is held by run {self.run_id} (pid {self.pid} on {self.host}) "
            f"until {self.expires_at:%Y-%m-%d %H:%M:%S %Z}"
        )


def process_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Locks:
    """Acquire, renew and release leased locks; a dead or expired holder is taken over."""

    def __init__(
        self,
        store: StateStore,
        *,
        lease: timedelta = timedelta(minutes=30),
        clock: Clock = utc_now,
        host: str | None = None,
        pid: int | None = None,
    ) -> None:
        self.store = store
        self.lease = lease
        self.clock = clock
        self.host = host or socket.gethostname()
        self.pid = pid or os.getpid()
        self._held: dict[str, set[str]] = {}  # run id -> keys it holds through holding()

    def holder(self, key: str) -> Holder | None:
        """The current holder of a lock, if any (expired or not)."""
        rows = self.store.read("select * from partition_locks where lock_key = :k", {"k": key})
        return _holder(rows[0]) if rows else None

    def held(self, prefix: str) -> list[Holder]:
        """Every holder of a lock whose key starts with `prefix` (expired or not)."""
        rows = self.store.read("select * from partition_locks order by lock_key")  # a few rows
        return [_holder(row) for row in rows if row["lock_key"].startswith(prefix)]

    def is_live(self, holder: Holder) -> bool:
        """True while a holder's lease runs and its process is not provably gone."""
        return not self._can_take_over(holder, self.clock())

    def live_run(self, key: str) -> str | None:
        """The run holding a lock while it lives (None: free, or its holder is gone)."""
        holder = self.holder(key)
        return holder.run_id if holder is not None and self.is_live(holder) else None

    def _can_take_over(self, current: Holder, now: datetime) -> bool:
        """A holder on this host is taken over only once its process is gone (whatever its
        lease says); one on another host, once its lease expired without being renewed."""
        if current.host == self.host:
            return not process_alive(current.pid)
        return current.expires_at <= now

    def acquire(self, key: str, run_id: str) -> Holder:
        """Take the lock for run_id, or raise LockHeld naming the live holder."""
        now = self.clock()
        with self.store.transaction() as con:
            row = con.execute(
                "select * from partition_locks where lock_key = :k", {"k": key}
            ).fetchone()
            if row is not None:
                current = _holder(row)
                if current.run_id != run_id and not self._can_take_over(current, now):
                    raise LockHeld(current.describe())
            mine = Holder(key, run_id, self.host, self.pid, now, now + self.lease)
            con.execute(
                """insert into partition_locks
                values (:k, :run_id, :host, :pid, :acquired, :expires)
                on conflict (lock_key) do update set run_id = excluded.run_id,
                    host = excluded.host, pid = excluded.pid,
                    acquired_at = excluded.acquired_at, expires_at = excluded.expires_at""",
                {
                    "k": key,
                    "run_id": run_id,
                    "host": self.host,
                    "pid": self.pid,
                    "acquired": now.isoformat(),
                    "expires": mine.expires_at.isoformat(),
                },
            )
        return mine

    def renew(self, key: str, run_id: str) -> None:
        """Extend run_id's lease on key; LockLost if it no longer holds it."""
        expires = (self.clock() + self.lease).isoformat()
        with self.store.transaction() as con:
            renewed = con.execute(
                "update partition_locks set expires_at = :e where lock_key = :k and run_id = :r",
                {"e": expires, "k": key, "r": run_id},
            ).rowcount
        if not renewed:
            current = self.holder(key)
            taken = current.describe() if current else f"{key} is free"
            raise LockLost(f"run {run_id} could not renew its lock: {taken}")

    @contextmanager
    def keeping(self, run_id: str, every: float | None = None) -> Iterator[None]:
        """Renew run_id's locks (those taken through holding()) in the background while the
        block runs, every third of the lease by default: a long step never outlives its lease.
        A lease that cannot be renewed is logged; the run's fencing check stops it."""
        stop = threading.Event()
        interval = every if every is not None else self.lease.total_seconds() / 3

        def renew_all() -> None:
            while not stop.wait(interval):
                for key in sorted(self._held.get(run_id, set())):
                    try:
                        self.renew(key, run_id)
                    except Exception as exc:  # the fencing check before publishing stops the run
                        log.warning("lease renewal failed: %s", exc)

        keeper = threading.Thread(target=renew_all, name=f"sluice-lease-{run_id}", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            stop.set()
            keeper.join()

    def release(self, key: str, run_id: str) -> None:
        """Drop run_id's lock on key."""
        with self.store.transaction() as con:
            con.execute(
                "delete from partition_locks where lock_key = :k and run_id = :r",
                {"k": key, "r": run_id},
            )

    @contextmanager
    def holding(self, key: str | None, run_id: str) -> Iterator[None]:
        """Hold a lock for the duration of a block (nothing for key None)."""
        if key is None:
            yield
            return
        self.acquire(key, run_id)
        with self._kept(key, run_id):
            yield

    @contextmanager
    def _kept(self, key: str, run_id: str) -> Iterator[None]:
        """A lock just acquired: renewed by keeping(), fenced by check_held(), then released."""
        self._held.setdefault(run_id, set()).add(key)
        try:
            yield
        finally:
            self._held.get(run_id, set()).discard(key)
            self.release(key, run_id)

    @contextmanager
    def waiting(
        self,
        key: str | None,
        run_id: str,
        *,
        patience: float,
        poll: float = 2.0,
        behind: Callable[[], str | None] | None = None,
        say: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        """Hold a lock for a block, waiting while another live run holds it (nothing for key
        None), and first while `behind` names work that must go before (its text changes as
        that work advances). LockHeld once `patience` seconds passed with neither the lock
        nor any advance. The wait is polled: every `poll` seconds, doubling up to 30. Whom and
        what it waits for is said once per change (`say`: this module's log by default)."""
        if key is None:
            yield
            return
        deadline = time.monotonic() + patience
        said = ahead = ""
        while True:
            try:
                before = behind() if behind is not None else None
                if before and before != ahead:
                    deadline, ahead = time.monotonic() + patience, before  # it advanced
                if before:
                    raise LockHeld(before)
                self.acquire(key, run_id)
                break
            except LockHeld as exc:
                if time.monotonic() >= deadline:
                    raise LockHeld(f"{exc} (waited {patience:.0f} s)") from None
                if str(exc) != said:
                    (say or log.info)(f"waiting: {exc}")
                    said = str(exc)
                time.sleep(min(poll, max(deadline - time.monotonic(), 0.0)))
                poll = min(poll * 2, 30.0)
        with self._kept(key, run_id):
            yield

    def check_held(self, run_id: str) -> None:
        """Raise LockLost unless run_id still holds every lock it took through holding()."""
        for key in sorted(self._held.get(run_id, set())):
            current = self.holder(key)
            if current is None or current.run_id != run_id:
                taken = current.describe() if current else f"{key} is free"
                raise LockLost(f"run {run_id} lost its lock: {taken}; it stops before publishing")


def _holder(row: Row) -> Holder:
    return Holder(
        key=row["lock_key"],
        run_id=row["run_id"],
        host=row["host"],
        pid=int(row["pid"]),
        acquired_at=datetime.fromisoformat(row["acquired_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
    )
