"""The janitor on the emulator: its sweep of the flows' BigQuery project, dry run then applied.

At a clock 60 days after the flows ran, with audit rows kept 30 days and quarantine kept until
the last sample day: two planted audit.gate_failures rows 40 days old and the gates' own rows
are past retention, a planted one a day old is not; the first sample day's quarantined lines
are, the last day's are not; a table and a view planted in marts_audit are no model's, a table
in another `*_audit` dataset is not Sluice's. The dry run counts them and deletes nothing; the
applied sweep deletes exactly them (MERGE-deletes, the tables API); a second dry run finds
nothing; every mart is unchanged. The Prefect flow runs and run reports of the flows count too.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

from flows.dates import utc_now
from flows.ops import janitor
from flows.pipeline.workspace import Workspace
from flows.project.manifest import QUARANTINE
from flows.settings import RetentionSettings, Settings
from flows.warehouse.bigquery_warehouse import BigQueryWarehouse
from tools.bq_check.flow_data import FlowCheckFailed, check_marts
from tools.bq_check.flows_faults_run import SetClock

LATER_DAYS = 60
RECENT_RUN = "janitor-recent"
RETIRED = ("retired_mart", "retired_view")
FOREIGN = ("other_audit", "keep_me")
WAREHOUSE_SWEEPS = ("audit.gate_failures rows", "raw.quarantine rows", "unused audit relations")


def _scalar(client: Any, sql: str) -> int:
    return int(next(iter(client.query(sql).result()))[0])


def _plant(flow: Settings, client: Any, now: datetime, day: date) -> int:
    """Audit rows and relations for the janitor to judge; the gate_failures rows before it."""
    project = flow.bq_project
    warehouse = BigQueryWarehouse(flow, emulator=True)
    warehouse.append_failures(
        [
            [run_id, checked, day, "raw", "raw.companies", "planted", "critical", None, None]
            for run_id, checked in (
                ("janitor-old", now - timedelta(days=40)),
                ("janitor-old", now - timedelta(days=40)),
                (RECENT_RUN, now - timedelta(days=1)),
            )
        ]
    )
    client.query(f"create table `{project}.marts_audit.{RETIRED[0]}` as select 1 as x").result()
    client.query(f"create view `{project}.marts_audit.{RETIRED[1]}` as select 1 as x").result()
    client.create_dataset(f"{project}.{FOREIGN[0]}", exists_ok=True)
    client.query(f"create table `{project}.{'.'.join(FOREIGN)}` as select 1 as x").result()
    return _scalar(client, f"select count(*) from `{project}.audit.gate_failures`") - 1


def _found(ws: Workspace, apply: bool) -> dict[str, int]:
    return {s.what: s.count for s in janitor.sweep(ws, apply=apply)}


def check_janitor(
    flow: Settings,
    client: Any,
    reference: Settings,
    manifest: Any,
    marts: dict[str, tuple[int, str]],
    days: list[date],
    flow_runs: int,
) -> str:
    """Dry run, apply, dry run again on the emulator; what was proved."""
    began = time.perf_counter()
    now = utc_now() + timedelta(days=LATER_DAYS)
    last = days[-1]
    retention = RetentionSettings(audit_days=30, quarantine_days=(now.date() - last).days)
    clock = SetClock(now)
    ws = Workspace.open(flow.model_copy(update={"retention": retention}), clock=clock)
    old_audit = _plant(flow, client, now, last)
    quarantine = f"`{flow.bq_project}.raw.{QUARANTINE}`"
    old_quarantine = _scalar(client, f"select count(*) from {quarantine} where dt < date '{last}'")
    kept_quarantine = _scalar(client, f"select count(*) from {quarantine} where dt = date '{last}'")
    if not old_quarantine or not kept_quarantine:
        raise FlowCheckFailed(f"{quarantine}: no quarantined line before or on {last} to sweep")
    expected = dict(zip(WAREHOUSE_SWEEPS, (old_audit, old_quarantine, len(RETIRED)), strict=True))
    dry = _found(ws, apply=False)
    applied = _found(ws, apply=True)
    again = _found(ws, apply=False)
    for name, found in (("dry run", dry), ("applied", applied)):
        got = {what: found.get(what) for what in (*WAREHOUSE_SWEEPS, "Prefect flow runs")}
        if got != {**expected, "Prefect flow runs": flow_runs}:
            raise FlowCheckFailed(
                f"janitor {name}: expected {expected} and {flow_runs} flow runs, found {found}"
            )
    if any(again.values()):
        raise FlowCheckFailed(f"the janitor found more after applying: {again}")
    _check_swept(flow, client, last, kept_quarantine)
    if check_marts(client, reference, manifest) != marts:
        raise FlowCheckFailed("the janitor changed a mart")
    counts = ", ".join(f"{n} {what}" for what, n in applied.items())
    return (
        f"janitor at +{LATER_DAYS} days: the dry run counted and the applied sweep deleted"
        f" {counts} (MERGE-deletes and the tables API on the emulator); the recent audit row,"
        f" {kept_quarantine} quarantined lines of {last}, {'.'.join(FOREIGN)} and every mart"
        f" stayed; a second dry run found nothing ({time.perf_counter() - began:.1f} s)"
    )


def _check_swept(flow: Settings, client: Any, last: date, kept_quarantine: int) -> None:
    project = flow.bq_project
    audit = [row[0] for row in client.query(f"select run_id from `{project}.audit.gate_failures`")]
    quarantine = {
        str(row[0]): int(row[1])
        for row in client.query(
            f"select dt, count(*) from `{project}.raw.{QUARANTINE}` group by dt"
        ).result()
    }
    left = sorted(t.table_id for t in client.list_tables(f"{project}.marts_audit"))
    foreign = [t.table_id for t in client.list_tables(f"{project}.{FOREIGN[0]}")]
    if (
        audit != [RECENT_RUN]
        or quarantine != {last.isoformat(): kept_quarantine}
        or set(RETIRED) & set(left)
        or foreign != [FOREIGN[1]]
    ):
        raise FlowCheckFailed(
            f"after the janitor: gate_failures run_ids {audit}, quarantine per day {quarantine},"
            f" marts_audit {left}, {FOREIGN[0]} {foreign}"
        )
