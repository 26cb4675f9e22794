"""The pipeline with its state store on PostgreSQL: a 2-day backfill with a failing day, a second
run refused by the warehouse lock another run holds, and a retry of the failed day only, each
read back from the database."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from flows.alerts.incidents import Incidents
from flows.state.ledger import Ledger, Status
from flows.state.location import DatabaseUrl
from flows.state.locks import Locks
from flows.state.store import StateStore
from tests.support import lake_days, settings_at, sluice_process

pytestmark = pytest.mark.usefixtures("prefect_server")

DAY1, DAY2 = lake_days()[:2]
LAYERS = ("raw", "dwh", "marts")


def _ledger_rows(ledger: Ledger) -> list[tuple[str, str, int, str, str | None]]:
    return [
        (a.dt.isoformat(), a.layer, a.attempt, a.status.value, a.error_class)
        for a in ledger.attempts()
    ]


def test_backfill_lock_and_retry_with_the_state_store_on_postgresql(
    snapshot: Path, lake: Path, postgres: Any, postgres_url: DatabaseUrl, tmp_path: Path
) -> None:
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    marker = copy / "events" / f"dt={DAY2}" / "_SUCCESS"
    marker.unlink()  # DAY2's events have not finished arriving: its landing fails
    warehouse = tmp_path / "warehouse.duckdb"
    settings = settings_at(snapshot, copy, warehouse, postgres_url)
    store = StateStore(postgres_url)
    ledger = Ledger(store)
    days = ("--start", str(DAY1), "--end", str(DAY2))

    first = sluice_process(settings, tmp_path, "backfill", *days)
    assert first.returncode == 1, first.stderr[-3000:]
    assert first.stderr.splitlines()[-1].startswith(
        f"sluice: error: 1 of 2 partitions failed: {DAY2} (raw: lake partition "
    )
    after_backfill = [
        (str(DAY1), "dwh", 1, "succeeded", None),
        (str(DAY1), "marts", 1, "succeeded", None),
        (str(DAY1), "raw", 1, "succeeded", None),
        (str(DAY2), "raw", 1, "failed", "PartitionIncomplete"),
    ]
    assert _ledger_rows(ledger) == after_backfill
    (backfill_run,) = {a.run_id for a in ledger.attempts()}

    # Another live run holds the warehouse: a second run is refused before it writes anything.
    key = f"warehouse:{warehouse}"
    holder = Locks(store, pid=os.getpid()).acquire(key, "other-run-7")
    marker.write_text("")  # the delivery completes
    refused = sluice_process(settings, tmp_path, "retry", *days)
    assert refused.returncode == 1, refused.stderr[-3000:]
    assert refused.stderr.splitlines()[-1] == f"sluice: error: {holder.describe()}"
    assert _ledger_rows(ledger) == after_backfill
    assert Locks(store).holder(key) == holder
    Locks(store).release(key, "other-run-7")

    retried = sluice_process(settings, tmp_path, "retry", *days)
    assert retried.returncode == 0, retried.stderr[-3000:]
    assert _ledger_rows(ledger) == [
        *after_backfill[:3],
        (str(DAY2), "dwh", 1, "succeeded", None),
        (str(DAY2), "marts", 1, "succeeded", None),
        (str(DAY2), "raw", 1, "failed", "PartitionIncomplete"),
        (str(DAY2), "raw", 2, "succeeded", None),
    ]
    runs = {(a.dt, a.layer): a.run_id for a in ledger.attempts() if a.run_id != backfill_run}
    assert set(runs) == {(DAY2, layer) for layer in LAYERS} and len(set(runs.values())) == 1
    assert store.read("select count(*) as n from partition_locks") == [{"n": 0}]
    incidents = {(i.kind.value, i.status.value, i.partition, i.layer, i.count)
                 for i in Incidents(store).history()}  # fmt: skip
    # the failed day's step, and the failed backfill run (no day): both resolved by the retry
    assert incidents == {
        ("step_failed", "resolved", DAY2, "raw", 1),
        ("step_failed", "resolved", None, None, 1),
    }

    shown = sluice_process(settings, tmp_path, "status", "--json", *days)
    assert shown.returncode == 0, shown.stderr
    assert [(e["date"], e["layer"], e["state"]) for e in json.loads(shown.stdout)] == [
        (str(day), layer, Status.SUCCEEDED.value) for day in (DAY1, DAY2) for layer in LAYERS
    ]
    said = "".join(done.stdout + done.stderr for done in (first, refused, retried, shown))
    assert postgres.password not in said  # nor in a log line, a report path or an error
