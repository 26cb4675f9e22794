"""The partition ledger: one row per attempt of each (lake day, layer) step, in the state store."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from flows.dates import Clock, utc_now
from flows.errors import is_transient
from flows.state.store import StateStore


class Status(StrEnum):
    """How an attempt stands in the ledger."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"


class Reason(StrEnum):
    """Why an attempt did not succeed, when Sluice decided it (else: the exception's class)."""

    GATE_FAILED = "GateFailed"  # a critical check of this day failed
    WINDOW_BLOCKED = "WindowBlocked"  # it would read a day another gate blocked
    NOT_PUBLISHED = "NotPublished"  # checked, but another day of its batch was blocked
    ABANDONED = "Abandoned"  # its process ended while it ran


@dataclass(frozen=True)
class Attempt:
    """One try of one step on one lake day."""

    dt: date
    layer: str
    attempt: int
    run_id: str
    status: Status
    started_at: datetime
    finished_at: datetime | None
    code_version: str
    input_fingerprint: str
    git_sha: str | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    quarantined: int | None = None
    error_class: str | None = None
    error_message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        """How long the attempt ran (None while running)."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Outcome:
    """How a step ended: what the ledger records when it finishes."""

    status: Status
    rows_in: int | None = None
    rows_out: int | None = None
    quarantined: int | None = None
    error_class: str | None = None
    error_message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failure(cls, exc: BaseException) -> Outcome:
        """A step that raised: its class and message, and `transient` in the details when a
        retry may cure it (as the step's retries judged it), so readers of the ledger need not
        guess from the message."""
        details = {"transient": True} if is_transient(exc) else {}
        return cls(
            Status.FAILED, error_class=type(exc).__name__, error_message=str(exc), details=details
        )


def _attempt(row: Any) -> Attempt:
    finished = row["finished_at"]
    return Attempt(
        dt=date.fromisoformat(row["dt"]),
        layer=row["layer"],
        attempt=row["attempt"],
        run_id=row["run_id"],
        status=Status(row["status"]),
        started_at=datetime.fromisoformat(row["started_at"]),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        code_version=row["code_version"],
        input_fingerprint=row["input_fingerprint"],
        git_sha=row["git_sha"],
        rows_in=row["rows_in"],
        rows_out=row["rows_out"],
        quarantined=row["quarantined"],
        error_class=row["error_class"],
        error_message=row["error_message"],
        details=json.loads(row["details"] or "{}"),
    )


def _run_of(row: Any) -> tuple[tuple[str, ...], int, float]:
    """An attempt row's run (a batch of days is one run whatever its rows), its days and
    seconds."""
    seconds = (
        datetime.fromisoformat(row["finished_at"]) - datetime.fromisoformat(row["started_at"])
    ).total_seconds()
    batch = json.loads(row["details"] or "{}").get("batch")
    if not batch:
        return (row["run_id"], row["dt"], row["started_at"]), 1, seconds
    first, last = (date.fromisoformat(end) for end in batch.split(".."))
    return (row["run_id"], batch, row["started_at"]), (last - first).days + 1, seconds


# Rows read per run wanted by recent_runs: a batch writes one row per lake day.
MAX_BATCH_ROWS = 31


class Ledger:
    """Records attempts; answers what the latest attempt of each step was.

    `on_finish` sees every finished attempt (the incidents hook: failures and blocked gates
    open incidents, a success resolves them); it must not raise.
    """

    def __init__(
        self,
        store: StateStore,
        clock: Clock = utc_now,
        on_finish: Callable[[Attempt], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_finish = on_finish

    def start(
        self,
        dt: date,
        layer: str,
        run_id: str,
        *,
        code_version: str,
        input_fingerprint: str,
        git_sha: str | None = None,
    ) -> Attempt:
        """Record a new running attempt (numbered after the previous ones)."""
        now = self.clock().isoformat()
        with self.store.transaction() as con:
            row = con.execute(
                "select coalesce(max(attempt), 0) + 1 as next_attempt from partition_attempts"
                " where dt = :dt and layer = :layer",
                {"dt": dt.isoformat(), "layer": layer},
            ).fetchone()
            number = int(row["next_attempt"]) if row else 1
            con.execute(
                """insert into partition_attempts (dt, layer, attempt, run_id, status, started_at,
                    code_version, git_sha, input_fingerprint)
                values (:dt, :layer, :attempt, :run_id, :status, :now, :code, :sha, :inputs)""",
                {
                    "dt": dt.isoformat(),
                    "layer": layer,
                    "attempt": number,
                    "run_id": run_id,
                    "status": Status.RUNNING,
                    "now": now,
                    "code": code_version,
                    "sha": git_sha,
                    "inputs": input_fingerprint,
                },
            )
        return Attempt(
            dt,
            layer,
            number,
            run_id,
            Status.RUNNING,
            datetime.fromisoformat(now),
            None,
            code_version,
            input_fingerprint,
            git_sha,
        )

    def finish(self, attempt: Attempt, outcome: Outcome) -> Attempt:
        """Close a running attempt with its outcome."""
        now = self.clock()
        with self.store.transaction() as con:
            con.execute(
                """update partition_attempts set status = :status, finished_at = :now,
                    rows_in = :rows_in, rows_out = :rows_out, quarantined = :quarantined,
                    error_class = :error_class, error_message = :error_message, details = :details
                where dt = :dt and layer = :layer and attempt = :attempt""",
                {
                    "status": outcome.status,
                    "now": now.isoformat(),
                    "rows_in": outcome.rows_in,
                    "rows_out": outcome.rows_out,
                    "quarantined": outcome.quarantined,
                    "error_class": outcome.error_class,
                    "error_message": outcome.error_message,
                    "details": json.dumps(outcome.details, sort_keys=True, default=str),
                    "dt": attempt.dt.isoformat(),
                    "layer": attempt.layer,
                    "attempt": attempt.attempt,
                },
            )
        done = Attempt(
            attempt.dt,
            attempt.layer,
            attempt.attempt,
            attempt.run_id,
            outcome.status,
            attempt.started_at,
            now,
            attempt.code_version,
            attempt.input_fingerprint,
            attempt.git_sha,
            outcome.rows_in,
            outcome.rows_out,
            outcome.quarantined,
            outcome.error_class,
            outcome.error_message,
            outcome.details,
        )
        if self.on_finish is not None:
            self.on_finish(done)
        return done

    def abandon_running(self, dt: date, layer: str, reason: str) -> int:
        """Mark attempts still 'running' for a step as failed (their process is gone)."""
        with self.store.transaction() as con:
            cursor = con.execute(
                """update partition_attempts set status = :failed, finished_at = :now,
                    error_class = :abandoned, error_message = :reason
                where dt = :dt and layer = :layer and status = :running""",
                {
                    "failed": Status.FAILED,
                    "now": self.clock().isoformat(),
                    "abandoned": Reason.ABANDONED,
                    "reason": reason,
                    "dt": dt.isoformat(),
                    "layer": layer,
                    "running": Status.RUNNING,
                },
            )
            return int(cursor.rowcount)

    def attempts(self, start: date | None = None, end: date | None = None) -> list[Attempt]:
        """Every attempt between two lake days (inclusive), oldest first."""
        rows = self.store.read(
            """select * from partition_attempts
            where dt between :start and :end order by dt, layer, attempt""",
            {"start": (start or date.min).isoformat(), "end": (end or date.max).isoformat()},
        )
        return [_attempt(row) for row in rows]

    def finished_by(self, run_id: str) -> int:
        """How many attempts a run has finished so far (its progress, for a run that waits)."""
        rows = self.store.read(
            "select count(*) as n from partition_attempts where run_id = :r and status <> :running",
            {"r": run_id, "running": Status.RUNNING},
        )
        return int(rows[0]["n"])

    def running(self) -> list[Attempt]:
        """Attempts still marked running (their process may have died), oldest first."""
        rows = self.store.read(
            "select * from partition_attempts where status = :running order by dt, layer, attempt",
            {"running": Status.RUNNING},
        )
        return [_attempt(row) for row in rows]

    def recent_runs(self, layer: str, limit: int = 20) -> list[tuple[int, float]]:
        """The lake days and seconds of a step's last `limit` successful runs, newest first (a
        batch of n days is one run of n days)."""
        rows = self.store.read(
            """select run_id, dt, started_at, finished_at, details from partition_attempts
            where layer = :layer and status = :succeeded and finished_at is not null
            order by finished_at desc, dt limit :rows""",
            {"layer": layer, "succeeded": Status.SUCCEEDED, "rows": limit * MAX_BATCH_ROWS},
        )
        runs: dict[tuple[str, ...], tuple[int, float]] = {}
        for row in rows:
            key, days, seconds = _run_of(row)
            runs.setdefault(key, (days, seconds))
        return list(runs.values())[:limit]

    def span(self) -> tuple[date | None, date | None]:
        """The first and last lake day with any attempt."""
        rows = self.store.read("select min(dt) as first, max(dt) as last from partition_attempts")
        first, last = rows[0]["first"], rows[0]["last"]
        return (
            date.fromisoformat(first) if first else None,
            date.fromisoformat(last) if last else None,
        )

    def latest(
        self, start: date | None = None, end: date | None = None
    ) -> dict[tuple[date, str], Attempt]:
        """The last attempt of each (lake day, layer)."""
        return {(a.dt, a.layer): a for a in self.attempts(start, end)}

    def accept(self, dt: date, layer: str, reason: str) -> None:
        """Record an operator's acceptance of a day's step despite its checks (kept until
        revoked): its failures stop blocking the days that read it, and it publishes."""
        with self.store.transaction() as con:
            con.execute(
                """insert into accepted_days (dt, layer, reason, accepted_at)
                values (:dt, :layer, :reason, :now)
                on conflict (dt, layer) do update
                set reason = excluded.reason, accepted_at = excluded.accepted_at""",
                {
                    "dt": dt.isoformat(),
                    "layer": layer,
                    "reason": reason,
                    "now": self.clock().isoformat(),
                },
            )

    def revoke(self, dt: date, layer: str) -> int:
        """Withdraw an acceptance; how many there were."""
        with self.store.transaction() as con:
            cursor = con.execute(
                "delete from accepted_days where dt = :dt and layer = :layer",
                {"dt": dt.isoformat(), "layer": layer},
            )
            return int(cursor.rowcount)

    def accepted(self) -> dict[tuple[date, str], str]:
        """Every accepted (lake day, step) and its reason."""
        rows = self.store.read("select dt, layer, reason, accepted_at from accepted_days")
        return {
            (
                date.fromisoformat(r["dt"]),
                r["layer"],
            ): f"{r['reason']} (accepted {r['accepted_at']})"
            for r in rows
        }
