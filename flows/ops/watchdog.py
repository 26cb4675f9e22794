"""The watchdog: partitions not published by their deadline (sla_missed) and lake partitions not
delivered by theirs (source_stale), from the ledger and the lake listing only.

It never opens the DuckDB warehouse (a running pipeline holds it). Deadlines come from the dbt
project (meta `sluice.deadline` of models and lake tables, see flows/project/deadlines.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from prefect import flow, get_run_logger

from flows.alerts.incidents import Kind, Problem, Severity
from flows.dates import iter_days
from flows.errors import one_line
from flows.lake.layout import SUCCESS_MARKER
from flows.pipeline.hooks import HOOKS, current_run_id
from flows.pipeline.workspace import Workspace
from flows.project.deadlines import Deadline
from flows.project.manifest import RAW_LAYER
from flows.state.ledger import Attempt, Status


@dataclass(frozen=True)
class Finding:
    """One (partition, deadline) the watchdog judged: late or not."""

    dt: date
    layer: str
    what: str
    due: datetime
    late: bool
    why: str


def _known_days(ws: Workspace, now: datetime) -> list[date]:
    """Lake days to judge: the lookback window, from the first day the ledger or lake knows."""
    firsts = [d for d in (ws.ledger.span()[0],) if d is not None]
    firsts += [days[0] for t in ws.project.lake_tables if (days := ws.lake.days(t))]
    last = now.date()
    first = last - timedelta(days=ws.settings.watchdog.lookback_days)
    # from the first day anything arrived; before anything did, only the latest due day counts
    first = max(first, min(firsts)) if firsts else last - timedelta(days=1)
    return list(iter_days(first, last)) if first <= last else []


def _sla(
    deadlines: list[Deadline],
    latest: dict[tuple[date, str], Attempt],
    days: list[date],
    now: datetime,
) -> list[Finding]:
    """Each layer with deadlines, each due day: published (latest attempt succeeded) or late."""
    by_layer: dict[str, list[Deadline]] = {}
    for deadline in deadlines:
        by_layer.setdefault(deadline.layer, []).append(deadline)
    found = []
    for layer, group in sorted(by_layer.items()):
        for dt in days:
            due = min(d.due(dt) for d in group)
            if due > now:
                continue
            what = ", ".join(d.what for d in group if d.due(dt) == due)
            attempt = latest.get((dt, layer))
            if attempt is None:
                why = "it never ran"
            elif attempt.status == Status.SUCCEEDED:
                found.append(Finding(dt, layer, what, due, False, "published"))
                continue
            else:
                why = f"its latest attempt is {attempt.status}"
                if attempt.error_class:
                    why += f" ({attempt.error_class}: {one_line(attempt.error_message or '', 200)})"
            spec = next(d.spec for d in group if d.due(dt) == due)
            why = f"{layer} of {dt} not published by {due:%Y-%m-%d %H:%M} UTC ({spec}): {why}"
            found.append(Finding(dt, layer, what, due, True, why))
    return found


def _stale(
    ws: Workspace, deadlines: list[Deadline], days: list[date], now: datetime
) -> list[Finding]:
    """Each lake table with a deadline, each due day: complete (with _SUCCESS) or stale."""
    tables = {f"{t.source}.{t.name}": t for t in ws.project.lake_tables}
    found = []
    for deadline in deadlines:
        table = tables.get(deadline.what)
        if table is None:
            continue
        for dt in days:
            due = deadline.due(dt)
            if due > now:
                continue
            if ws.lake.is_complete(table, dt):
                found.append(Finding(dt, deadline.layer, deadline.what, due, False, "complete"))
                continue
            state = "has no " + SUCCESS_MARKER if ws.lake.exists(table, dt) else "does not exist"
            why = (
                f"lake partition {ws.lake.where(table, dt)} {state} at {now:%Y-%m-%d %H:%M} UTC; "
                "it was due by "
                f"{due:%Y-%m-%d %H:%M} UTC ({deadline.spec})"
            )
            found.append(Finding(dt, deadline.layer, deadline.what, due, True, why))
    return found


def check(ws: Workspace, run_id: str | None = None) -> list[Finding]:
    """Judge every due deadline now (the workspace's clock); open or resolve incidents."""
    now = ws.ledger.clock()
    days = _known_days(ws, now)
    deadlines = ws.project.deadlines()
    lake_deadlines = [d for d in deadlines if d.layer == RAW_LAYER]
    model_deadlines = [d for d in deadlines if d.layer != RAW_LAYER]
    latest = ws.ledger.latest(days[0], days[-1]) if days else {}
    sla = _sla(model_deadlines, latest, days, now)
    stale = _stale(ws, lake_deadlines, days, now)
    for kind, findings in ((Kind.SLA_MISSED, sla), (Kind.SOURCE_STALE, stale)):
        for f in findings:
            if f.late:
                error = "DeadlineMissed" if kind == Kind.SLA_MISSED else "PartitionIncomplete"
                ws.incidents.open(
                    Problem(kind, Severity.CRITICAL, f.dt, f.layer, f.what, error, f.why, run_id)
                )
            else:
                ws.incidents.resolve(f.dt, f.layer, kinds=(kind,), what=f.what)
    return sla + stale


@flow(name="watchdog", flow_run_name="watchdog", **HOOKS)
def watchdog() -> list[Finding]:
    """The watchdog deployment: one check of every due deadline."""
    ws = Workspace.open()
    findings = check(ws, current_run_id())
    logger = get_run_logger()
    late = [f for f in findings if f.late]
    logger.info("checked %d deadlines, %d late", len(findings), len(late))
    for f in late:
        logger.warning("late: %s", f.why)
    return findings
