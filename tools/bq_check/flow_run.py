"""Every pipeline flow on the emulator, in-process on a throwaway Prefect server of 127.0.0.1 and a
BigQuery project of its own (nothing of the emulator run's project is reused), checked on data.

1. `backfill --max-concurrency 2` of the two sample days (landed at once) with the last day's
   events file unreadable: the first day runs every step, the last fails at landing;
   `retry-failed` runs it again. The ledger holds each step's attempts in order (landing of the
   last day: failed, then succeeded as attempt 2); every mart equals the DuckDB reference row
   for row and `marts_audit` equals `marts`; the run summary counted the rows on BigQuery.
2. A gate blocking inside `daily` (flows_faults_run.py): nothing published, an incident opened.
3. The watchdog on a stale running attempt (flows_faults_run.py), then `retry-failed`
   recovers it and re-runs the last day: the marts and every layer's rows are as before, every
   incident is resolved.
4. The janitor's sweep of the BigQuery project (janitor_run.py).
5. Two backfills at once, as two workers sharing a PostgreSQL state store, in a project of their
   own (concurrency_run.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from flows.alerts.incidents import Incidents
from flows.settings import Settings, get_settings
from flows.state.ledger import Status
from flows.state.store import StateStore
from tools.bq_check.concurrency_run import run_concurrency_check
from tools.bq_check.flow_data import (
    FLOW_PROJECT,
    FlowCheckFailed,
    check_ledger,
    check_marts,
    flow_fails,
    run_flow,
)
from tools.bq_check.flows_faults_run import check_gate_blocks, check_watchdog
from tools.bq_check.janitor_run import check_janitor
from tools.bq_check.lake_faults import unreadable_events

F, S, B = Status.FAILED, Status.SUCCEEDED, Status.BLOCKED
FLOW_RUNS = 4  # backfill, retry-failed, daily, retry-failed
INCIDENTS = ("step_failed", "gate_blocked", "sla_missed")


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """SLUICE_* variables for the flow's own Settings (get_settings), restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


@contextmanager
def _prefect_server() -> Iterator[None]:
    """A throwaway Prefect API on 127.0.0.1 (as the tests use), under PREFECT_HOME."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


def flow_settings(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """The flows' settings (a BigQuery project and state store of their own) and environment."""
    work = settings.lake_folder.parent / "flow"
    work.mkdir(parents=True, exist_ok=True)
    flow = settings.model_copy(
        update={
            "bq_project": FLOW_PROJECT,
            "state": work / "state.sqlite",
            "duckdb": work / "unused.duckdb",
        }
    )
    env = {
        "SLUICE_TARGET": flow.target,
        "SLUICE_BQ_ENDPOINT": str(flow.bq_endpoint),
        "SLUICE_BQ_PROJECT": flow.bq_project,
        "SLUICE_LAKE": str(flow.lake_folder),
        "SLUICE_STATE": str(flow.state),
        "SLUICE_DUCKDB": str(flow.duckdb),
        "SLUICE_PROJECT_DIR": str(flow.project_dir),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_HOME": str(work / "prefect"),
    }
    return flow, env


def run_flow_check(
    settings: Settings, reference: Settings, manifest: Any, days: list[date], steps: tuple[str, ...]
) -> list[str]:
    """Every flow on the emulator, each checked on data; what was proved."""
    from flows.warehouse.bigquery_client import bigquery_client

    began = time.perf_counter()
    flow, env = flow_settings(settings)
    first, last = days[0], days[-1]
    raw, rest = steps[0], steps[1:]
    with environment(env), _prefect_server():
        client = bigquery_client(flow, emulator=True)
        started = time.perf_counter()
        with unreadable_events(flow.lake_folder, last):
            failed = flow_fails("backfill", first, last, max_concurrency=2)
        if [r.dt for r in failed.failed] != [last]:
            raise FlowCheckFailed(f"backfill: {last} should fail alone, failed {failed.failed}")
        check_ledger(flow, {first: _each(steps, [S]), last: {raw: [F]}})
        retried = run_flow("retry_failed")
        seconds = time.perf_counter() - started
        marts = check_marts(client, reference, manifest)
        check_ledger(
            flow,
            {first: _each(steps, [S]), last: {raw: [F, S], **_each(rest, [S])}},
        )
        _check_summary(retried.summary, marts)
        proofs = [
            f"backfill {first}..{last} --max-concurrency 2 (both days landed at once) with"
            f" {last}'s events file unreadable: {first} ran every"
            f" step, {last} failed at {raw}; retry-failed ran {last} again ({raw}: attempt 1"
            f" failed, attempt 2 succeeded; every other step of both days succeeded once); each"
            f" mart equals the DuckDB reference and marts_audit ({_describe(marts)}); both"
            f" flows {seconds:.1f} s"
        ]
        proofs.append(check_gate_blocks(flow, client, reference, manifest, marts, last, raw))
        watch = check_watchdog(flow, last, steps[-1])
        proofs.append(watch.proof)
        started = time.perf_counter()
        repaired = run_flow("retry_failed")
        seconds = time.perf_counter() - started
        again = check_marts(client, reference, manifest)
        repeated = {raw: [F, S, B, S], **_each(rest, [S, B, S]), steps[-1]: [S, B, F, S]}
        check_ledger(flow, {first: _each(steps, [S]), last: repeated})
        changed = again != marts
        proofs.append(_check_repaired(retried.summary, repaired.summary, changed, seconds))
        proofs.append(watch.cleared())
        proofs.append(_check_incidents(flow))
        proofs.append(check_janitor(flow, client, reference, manifest, marts, days, FLOW_RUNS))
        proofs.extend(run_concurrency_check(settings, manifest, _api_url()))
    proofs.append(
        f"flows: {FLOW_RUNS} flow runs, the watchdog and the janitor on the emulator; whole"
        f" check {time.perf_counter() - began:.1f} s (Prefect server start included)"
    )
    return proofs


def _check_repaired(before: list[Any], after: list[Any], changed: bool, seconds: float) -> str:
    """The last retry-failed re-ran a published day: rows per layer and marts as before."""
    rows_before = {line.layer: line.rows for line in before}
    rows_after = {line.layer: line.rows for line in after}
    if rows_before != rows_after or changed:
        raise FlowCheckFailed(
            f"re-running a published day changed rows per layer: {rows_before} -> {rows_after}"
            f" (marts changed: {changed})"
        )
    figures = ", ".join(f"{layer} {rows}" for layer, rows in rows_after.items())
    return (
        f"retry-failed after the repair re-ran the last day from the blocked step"
        f" ({seconds:.1f} s): rows per layer ({figures}) and every mart as before"
    )


def _check_incidents(flow: Settings) -> str:
    """The failure, the blocked gate and the missed deadline each opened one incident, and
    each is resolved now."""
    incidents = Incidents(StateStore(flow.state)).history()
    found = sorted((i.kind.value, str(i.partition), i.layer, i.status.value) for i in incidents)
    if sorted(i[0] for i in found) != sorted(INCIDENTS) or {i[3] for i in found} != {"resolved"}:
        raise FlowCheckFailed(f"incidents: expected {INCIDENTS} each once, resolved: {found}")
    return "incidents: " + ", ".join(f"{k} {dt} {layer} {status}" for k, dt, layer, status in found)


def _each(steps: tuple[str, ...], statuses: list[Status]) -> dict[str, list[Status]]:
    return {step: list(statuses) for step in steps}


def _describe(marts: dict[str, tuple[int, str]]) -> str:
    return ", ".join(f"{name} {rows} rows #{digest}" for name, (rows, digest) in marts.items())


def _check_summary(summary: list[Any], marts: dict[str, tuple[int, str]]) -> None:
    """The run summary counted the marts on BigQuery (as many rows as the marts hold)."""
    counted = {line.layer: line.rows for line in summary}
    if counted.get("marts") != sum(rows for rows, _ in marts.values()):
        raise FlowCheckFailed(
            f"the run summary counts {counted.get('marts')} mart rows on BigQuery,"
            f" the marts hold {sum(rows for rows, _ in marts.values())}"
        )
