"""Several workers at once on the emulator, against one PostgreSQL state store.

Two `sluice backfill` processes, as two Prefect workers would run them, share a throwaway
PostgreSQL state store and one BigQuery project: A runs lake days 1..3 with --max-concurrency 3
(landing three days at once), B runs days 4..5; both are started together. Their ranges touch at
a boundary and their windows overlap (day 4's late events rewrite event dates of days 1..3), so
their dbt steps must take turns under the project's build lock. Round 1 builds an empty project;
round 2 re-runs both ranges with --force, B started first. After each round every mart and its
audit copy equal a serial DuckDB build of the same lake, and the ledger on PostgreSQL holds one
more successful attempt of every step of every day; any other attempt failed on contention
(concurrent writes to one table: transient, retried by the step).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flows.sample.lake import generate_lake
from flows.sample.spec import LakeSpec
from flows.settings import Settings
from flows.state.ledger import Attempt, Ledger, Status
from flows.state.location import DatabaseUrl
from flows.state.store import StateStore
from tools.bq_check.flow_data import FlowCheckFailed, check_marts, duckdb_reference
from tools.postgres_server import running

PROJECT = "sluice-concurrent"
FIRST_DAY = date(2026, 11, 1)
EVENTS_PER_DAY = 100
SPLIT = 3  # A: days 1..SPLIT, B: the rest
DAYS = 5
ROUNDS = 2
TIMEOUT_S = 600


@dataclass(frozen=True)
class Backfill:
    """One `sluice backfill` process of a round."""

    name: str
    start: date
    end: date
    max_concurrency: int

    def command(self, force: bool) -> list[str]:
        days = ["--start", self.start.isoformat(), "--end", self.end.isoformat()]
        options = ["--max-concurrency", str(self.max_concurrency), *(["--force"] if force else [])]
        return [sys.executable, "-m", "flows", "backfill", *days, *options]


def run_concurrency_check(settings: Settings, manifest: Any, api_url: str) -> list[str]:
    """Two backfills at once, twice, on one BigQuery project and one PostgreSQL state store;
    what was proved."""
    from flows.warehouse.bigquery_client import bigquery_client

    work = settings.lake_folder.parent / "concurrent"
    lake = work / "lake"
    days = generate_lake(lake, LakeSpec(start=FIRST_DAY, days=DAYS, events_per_day=EVENTS_PER_DAY))
    mine = settings.model_copy(update={"lake": lake, "bq_project": PROJECT})
    reference, project = duckdb_reference(mine, days)
    steps = project.steps
    first = Backfill("A", days[0], days[SPLIT - 1], max_concurrency=3)
    second = Backfill("B", days[SPLIT], days[-1], max_concurrency=1)
    client = bigquery_client(mine, emulator=True)
    proofs = []
    with running() as server:
        url = server.url(server.create_database())
        ledger = Ledger(StateStore(DatabaseUrl(url)))
        env = _environment(mine, url, api_url, work)
        for round_ in range(1, ROUNDS + 1):
            order = (first, second) if round_ == 1 else (second, first)
            seconds = _together(order, env, work / f"round-{round_}", force=round_ > 1)
            retried = _check_attempts(ledger.attempts(days[0], days[-1]), days, steps, round_)
            marts = check_marts(client, reference, manifest)
            proofs.append(
                f"concurrent backfills, round {round_}"
                f"{' (--force, B first)' if round_ > 1 else ' (empty project)'}:"
                f" A {first.start}..{first.end} --max-concurrency 3 and"
                f" B {second.start}..{second.end}"
                f" started together on one PostgreSQL state store: {seconds:.1f} s; every step of"
                f" every day succeeded {round_} time(s) in the ledger ({retried} attempts so far"
                f" failed transiently and were retried); each mart equals a serial"
                f" DuckDB build and marts_audit ({sum(r for r, _ in marts.values())} rows)"
            )
    return proofs


def _environment(settings: Settings, state_url: str, api_url: str, work: Path) -> dict[str, str]:
    """A worker's environment: the BigQuery project, the lake, the shared state store and the
    Prefect API of the check."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SLUICE_", "PREFECT_"))
    }
    return {
        **env,
        "SLUICE_TARGET": settings.target,
        "SLUICE_BQ_ENDPOINT": str(settings.bq_endpoint),
        "SLUICE_BQ_PROJECT": settings.bq_project,
        "SLUICE_LAKE": str(settings.lake_folder),
        "SLUICE_STATE": state_url,
        "SLUICE_DUCKDB": str(work / "unused.duckdb"),
        "SLUICE_REPORTS": str(work / "reports"),
        "SLUICE_PROJECT_DIR": str(settings.project_dir),
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def _together(order: tuple[Backfill, ...], env: dict[str, str], logs: Path, force: bool) -> float:
    """Start every backfill at once; wait for all; their wall time. A failed one is an error
    that shows the end of its output."""
    logs.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    running_ = []
    for backfill in order:
        log = logs / f"{backfill.name}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                backfill.command(force),
                env=env,
                cwd=env["SLUICE_PROJECT_DIR"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        running_.append((backfill, process, log))
    for backfill, process, log in running_:
        if process.wait(timeout=TIMEOUT_S) != 0:
            raise FlowCheckFailed(
                f"backfill {backfill.name} {backfill.start}..{backfill.end} failed"
                f" (exit {process.returncode}):\n{log.read_text()[-3000:]}"
            )
    return time.perf_counter() - began


def _check_attempts(
    attempts: list[Attempt], days: list[date], steps: tuple[str, ...], round_: int
) -> int:
    """Every step of every day has succeeded once per round so far, its latest attempt too, and
    any other attempt failed transiently as the step judged it (concurrent writes to one table),
    which the step's retry cures. How many such retries there were."""
    found: dict[tuple[date, str], list[Attempt]] = {}
    for attempt in sorted(attempts, key=lambda a: a.attempt):
        found.setdefault((attempt.dt, attempt.layer), []).append(attempt)
    wrong = {}
    for key in {(dt, step) for dt in days for step in steps} | found.keys():
        tries = found.get(key, [])
        succeeded = [a for a in tries if a.status == Status.SUCCEEDED]
        others = [a for a in tries if a.status != Status.SUCCEEDED]
        # the step's own judgement, recorded with the attempt (Outcome.failure)
        contention = all(a.status == Status.FAILED and a.details.get("transient") for a in others)
        if len(succeeded) != round_ or tries[-1].status != Status.SUCCEEDED or not contention:
            wrong[key] = [(a.status.value, a.error_message) for a in tries]
    if wrong:
        raise FlowCheckFailed(
            f"the ledger after round {round_}: every step of every day should have succeeded"
            f" {round_} time(s), other attempts only failed on contention; differing: {wrong}"
        )
    return sum(a.status != Status.SUCCEEDED for tries in found.values() for a in tries)
