"""A gate blocking inside `daily`, and the watchdog on a stale attempt, on the emulator.

The gate: the last day's companies dump arrives empty; `daily` lands it into raw_audit, the raw
gate refuses it, so nothing is published (every mart and the published raw day as before), the
ledger's landing attempt is blocked and a gate_blocked incident is open. The watchdog: a marts
attempt left `running` by a process that died (no live run holds its day), judged at a clock
past the day's deadline, is late ("its latest attempt is running") and opens sla_missed; once a
run recovered it (marked failed, abandoned) and re-ran the day, the next check resolves it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flows.alerts.incidents import Incidents, Kind
from flows.dates import utc_now
from flows.ops import watchdog
from flows.pipeline.workspace import Workspace
from flows.settings import Settings
from flows.state.ledger import Ledger, Reason, Status
from flows.state.store import StateStore
from tools.bq_check.flow_data import FlowCheckFailed, check_marts, flow_fails
from tools.bq_check.lake_faults import EMPTY_DUMP_TABLE, empty_dump

STALE_RUN = "a-killed-run"


class SetClock:
    """A clock that says what it was set to (the watchdog's and the janitor's "now")."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _open(flow: Settings, kind: Kind) -> list[tuple[str, date | None, str | None, str]]:
    return [
        (i.kind.value, i.partition, i.layer, i.what)
        for i in Incidents(StateStore(flow.state)).history(open_only=True)
        if i.kind == kind
    ]


def _published_rows(client: Any, flow: Settings, schema: str, day: date) -> int:
    relation = f"`{flow.bq_project}.{schema}.{EMPTY_DUMP_TABLE}`"
    sql = f"select count(*) from {relation} where dt = date '{day.isoformat()}'"
    return int(next(iter(client.query(sql).result()))[0])


def check_gate_blocks(
    flow: Settings,
    client: Any,
    reference: Settings,
    manifest: Any,
    marts: dict[str, tuple[int, str]],
    day: date,
    raw: str,
) -> str:
    """`daily` of a day whose companies dump is empty: blocked at raw, nothing published."""
    began = time.perf_counter()
    published = _published_rows(client, flow, "raw", day)
    with empty_dump(flow.lake_folder, day):
        report = flow_fails("daily", day)
    if [r.dt for r in report.failed] != [day]:
        raise FlowCheckFailed(f"daily {day}: expected it alone to be blocked, {report.failed}")
    latest = Ledger(StateStore(flow.state)).latest(day, day)
    found = {layer: (a.status, a.error_class) for (_, layer), a in latest.items()}
    expected = {
        layer: (Status.BLOCKED, Reason.GATE_FAILED if layer == raw else Reason.WINDOW_BLOCKED)
        for layer in found
    }
    if found != expected or raw not in found:
        raise FlowCheckFailed(
            f"daily {day}: its latest attempts are {found}, expected {raw} blocked by its gate"
            f" and the later steps by the refused window: {latest[(day, raw)].error_message}"
        )
    after = _published_rows(client, flow, "raw", day)
    refused = _published_rows(client, flow, "raw_audit", day)
    if (after, refused) != (published, 0) or not published:
        raise FlowCheckFailed(
            f"raw.{EMPTY_DUMP_TABLE} of {day}: {published} rows published before the blocked"
            f" run, {after} after (the refused build copy holds {refused}, expected 0)"
        )
    if check_marts(client, reference, manifest) != marts:
        raise FlowCheckFailed(f"daily {day} was blocked at {raw} but the marts changed")
    opened = _open(flow, Kind.GATE_BLOCKED)
    if [o[:3] for o in opened] != [("gate_blocked", day, raw)] or EMPTY_DUMP_TABLE not in str(
        opened
    ):
        raise FlowCheckFailed(f"a gate_blocked incident of {day} {raw} should be open: {opened}")
    return (
        f"gate in a flow: daily {day} with an empty {EMPTY_DUMP_TABLE} dump was blocked at {raw}"
        f" ({latest[(day, raw)].error_message}), the later steps blocked as reading it;"
        f" published raw.{EMPTY_DUMP_TABLE} kept its {published} rows"
        f" of the day, every mart is unchanged, a gate_blocked incident is open"
        f" ({time.perf_counter() - began:.1f} s)"
    )


@dataclass(frozen=True)
class StaleWatch:
    """The watchdog's workspace (its clock past the day's deadline) and what it judged."""

    ws: Workspace
    day: date
    layer: str
    attempt: int
    proof: str

    def cleared(self) -> str:
        """After a run recovered and re-ran the day: the next check is clean, nothing late."""
        late = [f.why for f in watchdog.check(self.ws, "check-watchdog-2") if f.late]
        stale = next(
            a
            for a in self.ws.ledger.attempts(self.day, self.day)
            if a.layer == self.layer and a.attempt == self.attempt
        )
        if late or (stale.status, stale.error_class) != (Status.FAILED, Reason.ABANDONED):
            raise FlowCheckFailed(
                f"after the repair: late {late}; the stale attempt is {stale.status}"
                f" ({stale.error_class}), not failed ({Reason.ABANDONED})"
            )
        return (
            f"the next run marked the stale {self.layer} attempt {self.attempt} of {self.day}"
            f" failed ({Reason.ABANDONED}: {stale.error_message}); the watchdog's next check"
            " found nothing late and resolved sla_missed"
        )


def check_watchdog(flow: Settings, day: date, layer: str) -> StaleWatch:
    """A stale running attempt, the watchdog past its day's deadline: late, sla_missed opened."""
    began = time.perf_counter()
    stale = Ledger(StateStore(flow.state)).start(
        day, layer, STALE_RUN, code_version="killed", input_fingerprint="killed"
    )
    clock = SetClock(utc_now())
    ws = Workspace.open(flow, clock=clock)
    due = min(d.due(day) for d in ws.project.deadlines() if d.layer == layer)
    now = clock.now = due + timedelta(hours=1)
    findings = watchdog.check(ws, "check-watchdog-1")
    late = [(f.dt, f.layer, f.why) for f in findings if f.late]
    if [x[:2] for x in late] != [(day, layer)] or "latest attempt is running" not in late[0][2]:
        raise FlowCheckFailed(
            f"the watchdog at {now:%Y-%m-%d %H:%M} UTC should find {layer} of {day} late (its"
            f" latest attempt running), found {late}"
        )
    opened = _open(flow, Kind.SLA_MISSED)
    if [o[:3] for o in opened] != [("sla_missed", day, layer)]:
        raise FlowCheckFailed(f"an sla_missed incident of {day} {layer} should be open: {opened}")
    proof = (
        f"watchdog: {layer} attempt {stale.attempt} of {day} left running by a killed run,"
        f" judged at {now:%Y-%m-%d %H:%M} UTC (due {due:%H:%M}): late of {len(findings)}"
        f" deadlines checked, sla_missed opened ({time.perf_counter() - began:.1f} s)"
    )
    return StaleWatch(ws, day, layer, stale.attempt, proof)
