"""The plan's bytes against what the run read: plan two lake days the clean build has not
landed, refuse them over a budget (dry run and real backfill), run them, then size what each
model read after the run by the same rules: the estimate is within ±25 % of it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import timedelta

import pytest

from flows.pipeline.plan import plan
from flows.pipeline.plan_bytes import PlanBytes
from flows.pipeline.plan_scan import plan_bytes
from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import Workspace
from flows.project.lineage_build import project_lineage
from flows.project.model_reads import ModelReads, StoredRead
from flows.warehouse.interface import Warehouse
from tests.support import (
    DAYS,
    EVENTS_PER_DAY,
    SEED,
    START,
    Build,
    copy_build,
    copy_project,
    lake_days,
    settings_at,
    sluice_process,
)

pytestmark = pytest.mark.usefixtures("prefect_server")
NEW_DAYS = [lake_days()[-1] + timedelta(days=n) for n in (1, 2)]
TOLERANCE = 0.25


@dataclass(frozen=True)
class Measured:
    """A plan's estimate of two new lake days, and what their run read."""

    estimate: PlanBytes
    actual: int
    per_model: dict[str, tuple[int, int]]  # model -> (estimated, actual) logical bytes
    dry_run: subprocess.CompletedProcess[str]
    refused: subprocess.CompletedProcess[str]
    attempts_after_refusal: int


def _actual(warehouse: Warehouse, read: StoredRead) -> int:
    """The logical bytes of a read, from the rows the relation holds now."""
    first, last = read.dates or (START - timedelta(days=3650), NEW_DAYS[-1] + timedelta(days=400))
    held = warehouse.logical_sizes(
        read.relation, sorted(read.columns), read.date_column, first, last
    )
    assert held is not None, read.relation
    return sum(sizes.bytes_of(read.columns) for sizes in held.values())


@pytest.fixture(scope="module")
def measured(clean: Build, tmp_path_factory: pytest.TempPathFactory) -> Measured:
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec

    folder = tmp_path_factory.mktemp("plan-bytes")
    lake = folder / "lake"  # the session lake's days and two more
    spec = LakeSpec(start=START, days=DAYS + 2, events_per_day=EVENTS_PER_DAY, seed=SEED)
    generate_lake(lake, spec)
    project = copy_project(folder / "project", clean.settings.project_dir)
    warehouse, state = copy_build(clean, folder / "build")
    settings = settings_at(project, lake, warehouse, state)
    ws = Workspace.open(settings)
    planned = plan(ws, NEW_DAYS[0], NEW_DAYS[-1])
    assert [(p.dt, p.from_layer) for p in planned] == [(d, "raw") for d in NEW_DAYS]
    estimate = plan_bytes(ws, planned)

    span = ["--start", NEW_DAYS[0].isoformat(), "--end", NEW_DAYS[-1].isoformat()]
    dry_run = sluice_process(settings, folder, "backfill", *span, "--dry-run", "--max-bytes", "1MB")
    refused = sluice_process(settings, folder, "backfill", *span, "--max-bytes", "1MB")
    attempts = len(ws.ledger.attempts(NEW_DAYS[0], NEW_DAYS[-1]))

    run_partitions(ws, [(p.dt, p.from_layer) for p in planned])
    reads = ModelReads(ws.project, project_lineage(project, project / "target"))
    per_model = {}
    for run in estimate.runs:
        found = reads.of(run.run.model, run.run.days[0], run.run.days[-1])
        per_model[run.run.model] = (run.logical, sum(_actual(ws.warehouse, r) for r in found))
    actual = sum(a for _, a in per_model.values())
    return Measured(estimate, actual, per_model, dry_run, refused, attempts)


def test_the_offline_estimate_is_within_a_quarter_of_what_the_run_read(
    measured: Measured,
) -> None:
    estimate = measured.estimate
    print(  # the figures the README quotes (pytest -s)
        f"\nestimated {estimate.logical:,} logical bytes, the run read {measured.actual:,}: "
        f"{estimate.logical / measured.actual - 1:+.1%}; billed estimate {estimate.billed:,}"
    )
    for model, (guess, read) in sorted(measured.per_model.items()):
        print(f"  {model}: estimated {guess:,}, read {read:,}")
    assert estimate.unknown == ()
    assert measured.actual > 1_000_000  # the run read the new days: a real comparison
    assert abs(estimate.logical - measured.actual) <= TOLERANCE * measured.actual


def test_every_table_and_incremental_model_of_the_plan_is_one_query_per_batch(
    measured: Measured,
) -> None:
    runs = measured.estimate.runs
    assert {r.run.days for r in runs} == {tuple(NEW_DAYS)}
    assert {"stg_app__events", "fct_events", "dim_users", "daily_kpis"} <= {
        r.run.model for r in runs
    }
    assert all(r.billed >= 10 * 2**20 for r in runs)  # each reads at least one table
    assert sum(measured.estimate.per_day().values()) == measured.estimate.billed


def test_a_plan_over_budget_is_refused_in_one_line_before_any_step_runs(
    measured: Measured,
) -> None:
    for done in (measured.dry_run, measured.refused):
        assert done.returncode == 1, done.stderr
        # the CLI's one line (a flow run's log also records the exception)
        errors = [line for line in done.stderr.splitlines() if line.startswith("sluice: error:")]
        assert len(errors) == 1, done.stderr
        assert errors[0].startswith("sluice: error: the plan reads 200 MiB ($0.0012), over the ")
        assert "most expensive: bandit_weights 30 MiB, application_funnel 20 MiB" in errors[0]
        assert "Traceback" not in done.stderr
    assert "estimated bytes:" in measured.dry_run.stdout
    assert measured.attempts_after_refusal == 0
