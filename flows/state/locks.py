"""Leased locks in the state store: one writer per partition (and per DuckDB warehouse)."""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flows.dates import Clock, utc_now
from flows.errors import LockHeld
from flows.state.store import StateStore


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

    def holder(self, key: str) -> Holder | None:
        """The current holder of a lock, if any (expired or not)."""
        rows = self.store.read("select * from partition_locks where lock_key = :k", {"k": key})
        return _holder(rows[0]) if rows else None

    def is_live(self, holder: Holder) -> bool:
        """True while a holder's lease runs and its process is not provably gone."""
        return not self._can_take_over(holder, self.clock())

    def _can_take_over(self, current: Holder, now: datetime) -> bool:
        if current.expires_at <= now:
            return True
        return current.host == self.host and not process_alive(current.pid)

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
                """insert or replace into partition_locks
                values (:k, :run_id, :host, :pid, :acquired, :expires)""",
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
        """Extend run_id's lease on key (no-op if it no longer holds it)."""
        expires = (self.clock() + self.lease).isoformat()
        with self.store.transaction() as con:
            con.execute(
                "update partition_locks set expires_at = :e where lock_key = :k and run_id = :r",
                {"e": expires, "k": key, "r": run_id},
            )

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
        try:
            yield
        finally:
            self.release(key, run_id)


def _holder(row: sqlite3.Row) -> Holder:
    return Holder(
        key=row["lock_key"],
        run_id=row["run_id"],
        host=row["host"],
        pid=int(row["pid"]),
        acquired_at=datetime.fromisoformat(row["acquired_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
    )
