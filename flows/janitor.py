"""The janitor: deletes operational records past their retention (settings.retention).

Dry-run by default: it counts what it would delete. It never touches published data: only the
state store's superseded attempts and gate rows and resolved incidents, audit.gate_failures,
raw.quarantine, relations of `*_audit` schemas the project no longer builds, Prefect flow runs
(when a Prefect API is configured) and old run reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
from prefect import flow, get_run_logger

from flows.flow_hooks import HOOKS
from flows.landing import RAW_SCHEMA
from flows.pipeline import current_run_id, holding
from flows.project import identifier
from flows.workspace import AUDIT_SUFFIX, Workspace


@dataclass(frozen=True)
class Sweep:
    """One kind of record the janitor cleans: where, which, and how many."""

    what: str
    where: str
    rule: str
    count: int


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


def _state(ws: Workspace, now: datetime, apply: bool) -> list[Sweep]:
    sweeps = []
    for what, table, where, policy in _STATE_SWEEPS:
        days = getattr(ws.settings.retention, policy)
        params: dict[str, object] = {"cutoff": (now - timedelta(days=days)).isoformat()}
        count = int(ws.store.read(f"select count(*) as n {where}", params)[0]["n"])
        if apply and count:
            with ws.store.transaction() as con:
                # `where` reads the table as `a` when a row is judged against its later rows
                doomed = f"where rowid in (select a.rowid {where})" if " as a " in where else ""
                count = con.execute(
                    f"delete from {table} {doomed}" if doomed else f"delete {where}", params
                ).rowcount
        sweeps.append(Sweep(what, f"state store {table}", f"older than {days} days", count))
    return sweeps


def _unused_audit_relations(con: duckdb.DuckDBPyConnection, ws: Workspace) -> list[tuple[str, str]]:
    """Relations of *_audit schemas that no model of the audit build produces."""
    built = {
        (node.schema, node.alias)
        for node in ws.publishing.manifest.nodes.values()
        if node.resource_type == "model"
    }
    rows = con.execute(
        """select table_schema, table_name from information_schema.tables
        where table_schema like $pattern order by 1, 2""",
        {"pattern": f"%{AUDIT_SUFFIX}"},
    ).fetchall()
    return [(s, t) for s, t in rows if s.endswith(AUDIT_SUFFIX) and (s, t) not in built]


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = $s and table_name = $t",
        {"s": schema, "t": table},
    ).fetchone()
    return bool(row and row[0])


def _warehouse(ws: Workspace, now: datetime, apply: bool) -> list[Sweep]:
    """Audit and quarantine rows past retention, unused audit relations (holds the writer lock)."""
    retention = ws.settings.retention
    if not ws.settings.duckdb.exists():
        return []
    audit_cutoff = (now - timedelta(days=retention.audit_days)).replace(tzinfo=None)
    quarantine_cutoff = (now - timedelta(days=retention.quarantine_days)).date()
    rows = (
        ("audit.gate_failures rows", "audit", "gate_failures", "checked_at", audit_cutoff,
         f"checked more than {retention.audit_days} days ago"),
        ("raw.quarantine rows", RAW_SCHEMA, "quarantine", "dt", quarantine_cutoff,
         f"lake days more than {retention.quarantine_days} days ago"),
    )  # fmt: skip
    sweeps = []
    with holding(ws, ws.warehouse_lock, current_run_id()):
        con = duckdb.connect(str(ws.settings.duckdb))
        try:
            for what, schema, table, column, cutoff, rule in rows:
                count = 0
                if _table_exists(con, schema, table):
                    relation = f"{identifier(schema, 'schema')}.{identifier(table, 'table')}"
                    where = f"from {relation} where {identifier(column, 'column')} < $cutoff"
                    found = con.execute(f"select count(*) {where}", {"cutoff": cutoff}).fetchone()
                    count = int(found[0]) if found else 0
                    if apply and count:
                        con.execute(f"delete {where}", {"cutoff": cutoff})
                sweeps.append(Sweep(what, f"warehouse {schema}.{table}", rule, count))
            unused = _unused_audit_relations(con, ws)
            if apply:
                for schema, name in unused:
                    relation = f"{identifier(schema, 'schema')}.{identifier(name, 'relation')}"
                    kind = con.execute(
                        "select table_type from information_schema.tables"
                        " where table_schema = $s and table_name = $t",
                        {"s": schema, "t": name},
                    ).fetchone()
                    con.execute(f"drop {'view' if kind == ('VIEW',) else 'table'} {relation}")
            names = ", ".join(f"{s}.{t}" for s, t in unused)
            sweeps.append(
                Sweep(
                    "unused audit relations", names or "*_audit schemas", "not built", len(unused)
                )
            )
        finally:
            con.close()
    return sweeps


def _reports(ws: Workspace, now: datetime, apply: bool) -> list[Sweep]:
    days = ws.settings.retention.report_days
    cutoff = (now - timedelta(days=days)).timestamp()
    folder = ws.settings.reports_dir
    old = (
        [p for p in folder.glob("run-*.html") if p.stat().st_mtime < cutoff]
        if folder.is_dir()
        else []
    )
    if apply:
        for path in old:
            path.unlink()
    return [Sweep("run reports", str(folder), f"older than {days} days", len(old))]


def _flow_runs(before: datetime, apply: bool) -> int:
    """Finished flow runs that started before a moment: counted, or deleted."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    finished = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]
    old = FlowRunFilter(
        start_time=FlowRunFilterStartTime(before_=before),  # type: ignore[arg-type]
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=finished)),
    )
    count = 0
    with get_client(sync_client=True) as client:
        while runs := client.read_flow_runs(
            flow_run_filter=old, limit=200, offset=0 if apply else count
        ):
            count += len(runs)
            for run in runs if apply else ():
                client.delete_flow_run(run.id)
    return count


def _prefect(ws: Workspace, now: datetime, apply: bool) -> list[Sweep]:
    from prefect.settings import get_current_settings

    api = get_current_settings().api.url
    if not api:
        return []  # no server configured: nothing to clean (and no temporary server to start)
    days = ws.settings.retention.flow_run_days
    count = _flow_runs(now - timedelta(days=days), apply)
    return [Sweep("Prefect flow runs", api, f"finished, started over {days} days ago", count)]


SWEEPERS: tuple[Callable[[Workspace, datetime, bool], list[Sweep]], ...] = (
    _state,
    _warehouse,
    _reports,
    _prefect,
)


def sweep(ws: Workspace, *, apply: bool = False) -> list[Sweep]:
    """Count (dry run) or delete everything past retention; what was found."""
    now = ws.ledger.clock()
    return [found for sweeper in SWEEPERS for found in sweeper(ws, now, apply)]


@flow(name="janitor", flow_run_name="janitor", **HOOKS)
def janitor(apply: bool = True) -> list[Sweep]:
    """The janitor deployment: apply the retention policy."""
    found = sweep(Workspace.open(), apply=apply)
    for item in found:
        get_run_logger().info(
            "%s %d %s in %s (%s)",
            "deleted" if apply else "would delete",
            item.count,
            item.what,
            item.where,
            item.rule,
        )
    return found
