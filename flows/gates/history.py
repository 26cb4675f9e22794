"""The gate history in the state store: each suite's checks per lake day and run, which the volume
bounds learn from and `sluice report` draws."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from flows.gates.checks import Check
from flows.state.store import StateStore


@dataclass(frozen=True)
class SuiteRun:
    """One suite's checks on one lake day in one run: a row of `gate_checks`."""

    dt: date
    layer: str
    suite: str
    run_id: str
    checked_at: datetime
    row_count: int | None
    checks: tuple[Check, ...]

    @property
    def success(self) -> bool:
        """Every check passed (warnings included)."""
        return all(c.success for c in self.checks)


def record(store: StateStore, run: SuiteRun) -> None:
    """Add a suite's checks of one lake day to the history."""
    with store.transaction() as con:
        con.execute(
            """insert into gate_checks
                (dt, layer, suite, run_id, checked_at, success, row_count, details, seq)
            values (:dt, :layer, :suite, :run_id, :now, :ok, :rows, :details,
                (select coalesce(max(seq), 0) + 1 from gate_checks))""",
            {
                "dt": run.dt.isoformat(),
                "layer": run.layer,
                "suite": run.suite,
                "run_id": run.run_id,
                "now": run.checked_at.isoformat(),
                "ok": int(run.success),
                "rows": run.row_count,
                "details": json.dumps([asdict(c) for c in run.checks], default=str),
            },
        )


def latest(store: StateStore, start: date, end: date) -> list[SuiteRun]:
    """The last run of each suite on each lake day from start to end, by day then suite."""
    rows = store.read(
        """select dt, layer, suite, run_id, checked_at, row_count, details from (
            select *, row_number() over (
                partition by dt, suite order by checked_at desc, coalesce(seq, 0) desc) as n
            from gate_checks where dt between :start and :end
        ) as ranked where n = 1 order by dt, suite""",
        {"start": start.isoformat(), "end": end.isoformat()},
    )
    return [
        SuiteRun(
            date.fromisoformat(r["dt"]),
            r["layer"],
            r["suite"],
            r["run_id"],
            datetime.fromisoformat(r["checked_at"]),
            r["row_count"],
            tuple(Check.of_json(c) for c in json.loads(r["details"] or "[]")),
        )
        for r in rows
    ]


def passed_counts(store: StateStore, suite: str, dt: date, days: int) -> dict[date, int]:
    """Row counts of a suite's partitions in the `days` before dt whose latest check passed:
    the history volume bounds learn from (a blocked day never drags them down)."""
    rows = store.read(
        """select dt, row_count from (
            select dt, row_count, success,
                row_number() over (partition by dt order by checked_at desc) as n
            from gate_checks where suite = :suite and dt < :dt and dt >= :since
                and row_count is not null
        ) as ranked where n = 1 and success = 1""",
        {"suite": suite, "dt": dt.isoformat(), "since": (dt - timedelta(days=days)).isoformat()},
    )
    return {date.fromisoformat(r["dt"]): int(r["row_count"]) for r in rows}
