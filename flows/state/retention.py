"""The state store's share of the janitor: superseded ledger attempts and gate rows, and resolved
incidents, past their retention (the latest attempt and check of each step always stay)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flows.settings import RetentionSettings
from flows.state.store import StateStore
from flows.warehouse.records import Sweep

# Attempts and gate rows that a later row of the same step or suite supersedes: the latest of each
# stays, so plans, status and volume bounds never change.
_STATE_SWEEPS = (
    (
        "superseded ledger attempts",
        "partition_attempts",
        """from partition_attempts as a where coalesce(finished_at, started_at) < :cutoff
        and status != 'running' and exists (select 1 from partition_attempts as b
            where b.dt = a.dt and b.layer = a.layer and b.attempt > a.attempt)""",
        "ledger_days",
    ),
    (
        "superseded gate results",
        "gate_checks",
        """from gate_checks as a where checked_at < :cutoff and exists (
            select 1 from gate_checks as b
            where b.dt = a.dt and b.suite = a.suite and b.checked_at > a.checked_at)""",
        "ledger_days",
    ),
    (
        "resolved incidents",
        "incidents",
        "from incidents where status = 'resolved' and resolved_at < :cutoff",
        "incident_days",
    ),
)


def sweep_state(
    store: StateStore, retention: RetentionSettings, now: datetime, apply: bool
) -> list[Sweep]:
    """Count (and with apply, delete) each kind of record past its retention."""
    sweeps = []
    for what, table, where, policy in _STATE_SWEEPS:
        days = getattr(retention, policy)
        params: dict[str, object] = {"cutoff": (now - timedelta(days=days)).isoformat()}
        count = int(store.read(f"select count(*) as n {where}", params)[0]["n"])
        if apply and count:
            with store.transaction() as con:
                count = con.execute(f"delete {where}", params).rowcount
        sweeps.append(Sweep(what, f"state store {table}", f"older than {days} days", count))
    return sweeps
