"""The ops mirror on the emulator: record the check's steps in a ledger, publish it twice, assert.

The first publish must make ops.partition_attempts, ops.gate_checks and ops.incidents hold as
many rows as the SQLite state store, with a running attempt and an open incident; between the
publishes that attempt succeeds (which resolves the incident, through the ledger's own
observer), so the second publish must leave the same counts with the changed values (and skip
the unchanged gate checks); a third, with nothing changed, must send nothing.
"""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

from flows.alerts.incidents import Incidents
from flows.errors import SluiceError
from flows.project.identifiers import identifier
from flows.project.manifest import RAW_LAYER, Project
from flows.settings import Settings
from flows.state.ledger import Ledger, Outcome, Status
from flows.state.store import MIRRORED, StateStore
from flows.warehouse.choose import warehouse_for

# An error message that must survive the trip exactly: a line break, quotes, a comma, non-ASCII.
TRICKY_MESSAGE = 'daily_kpis: division by zero\nat "ctr", café'


class OpsCheckFailed(SluiceError):
    """The ops mirror on the emulator does not match the state store."""


def run_ops_check(
    settings: Settings, project: Project, client: Any, days: list[date], landed: dict[date, int]
) -> str:
    """Record the check's steps, publish twice with a change between; return what was proved."""
    began = time.perf_counter()
    store = StateStore(settings.state)
    ledger = Ledger(store, on_finish=Incidents(store).observer(project))
    for day in days:
        for layer in project.steps:
            attempt = ledger.start(
                day, layer, "check-ops", code_version="check", input_fingerprint=f"lake-{day}"
            )
            rows = landed.get(day) if layer == RAW_LAYER else None
            ledger.finish(attempt, Outcome(Status.SUCCEEDED, rows_out=rows))
        _record_gate_check(store, day)
    last, layer = days[-1], list(project.steps)[-1]
    failed = ledger.start(last, layer, "check-ops", code_version="check", input_fingerprint="x")
    ledger.finish(
        failed, Outcome(Status.FAILED, error_class="StepFailed", error_message=TRICKY_MESSAGE)
    )
    running = ledger.start(last, layer, "check-ops", code_version="check", input_fingerprint="x")

    mirror = warehouse_for(settings).ops_mirror(store)
    assert mirror is not None, "a BigQuery warehouse has an ops mirror"
    first = mirror.publish("check-ops-1")
    dataset = f"{settings.bq_project}.{settings.bq_ops_dataset}"
    _assert_counts(client, dataset, store, "first publish")
    key = f"dt = date '{last.isoformat()}' and layer = '{layer}'"
    _expect(
        client,
        f"select status, error_message from `{dataset}.partition_attempts`"
        f" where {key} and attempt = {failed.attempt}",
        [Status.FAILED, TRICKY_MESSAGE],
    )
    _expect(
        client,
        f"select status from `{dataset}.partition_attempts`"
        f" where {key} and attempt = {running.attempt}",
        ["running"],
    )
    _expect(
        client, f"select status, error_message from `{dataset}.incidents`", ["open", TRICKY_MESSAGE]
    )

    ledger.finish(running, Outcome(Status.SUCCEEDED, rows_out=7))  # resolves the incident
    second = mirror.publish("check-ops-2")
    if second.unchanged != ("gate_checks",):
        raise OpsCheckFailed(f"the second publish skipped {second.unchanged}, not gate_checks")
    counts = _assert_counts(client, dataset, store, "second publish")
    _expect(
        client,
        f"select status, rows_out, finished_at is not null"
        f" from `{dataset}.partition_attempts` where {key} and attempt = {running.attempt}",
        [Status.SUCCEEDED, 7, True],
    )
    _expect(
        client,
        f"select status, resolved_at is not null from `{dataset}.incidents`",
        ["resolved", True],
    )
    idle = mirror.publish("check-ops-3")
    if idle.rows:
        raise OpsCheckFailed(f"a publish with nothing changed sent {idle.rows}")
    return (
        f"ops publish: {_describe(counts)} equal the state store after each of two publishes"
        f" ({first.seconds:.1f} s, {second.seconds:.1f} s); the second re-sent every attempt"
        " and incident, updating the finished attempt and the resolved incident in place, and"
        f" skipped the unchanged gate_checks; a third with nothing changed sent nothing"
        f" ({idle.seconds:.2f} s); {time.perf_counter() - began:.1f} s with the ledger writes"
    )


def _record_gate_check(store: StateStore, day: date) -> None:
    with store.transaction() as con:
        con.execute(
            """insert into gate_checks
                (dt, layer, suite, run_id, checked_at, success, row_count, details)
            values (:dt, 'raw', 'raw.events', 'check-ops', :checked_at, 1, 300, :details)""",
            {
                "dt": day.isoformat(),
                "checked_at": f"{day.isoformat()}T10:00:00+00:00",
                "details": json.dumps([{"expectation": "row_count", "success": True}]),
            },
        )


def _assert_counts(client: Any, dataset: str, store: StateStore, when: str) -> dict[str, int]:
    counts = {}
    for table in MIRRORED:
        name = identifier(table.name, "state table")
        expected = int(store.read(f"select count(*) as n from {name}")[0]["n"])
        found = int(
            next(iter(client.query(f"select count(*) from `{dataset}.{table.name}`").result()))[0]
        )
        if found != expected:
            raise OpsCheckFailed(
                f"{when}: {dataset}.{table.name} holds {found} rows, the state store {expected}"
            )
        counts[table.name] = found
    return counts


def _expect(client: Any, sql: str, expected: list[Any]) -> None:
    rows = [list(row.values()) for row in client.query(sql).result()]
    if rows != [expected]:
        raise OpsCheckFailed(f"ops mirror: {sql!r} gave {rows}, expected [{expected}]")


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} rows of ops.{table}" for table, n in counts.items())
