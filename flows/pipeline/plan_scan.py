"""A plan's bytes, measured one way per warehouse: BigQuery's dry runs on real BigQuery, else
the offline estimate (flows/pipeline/plan_bytes.py).

On real BigQuery each model's compiled SQL for its batch is dry run.

BigQuery answers a dry run (`QueryJobConfig(dry_run=True, use_query_cache=False)`) with the
bytes the query would process, from the tables as they are now: a lake day not landed yet adds
nothing to what its models read, which the method line says. The emulator refuses dry runs
(bq_gaps.yml `dry_run`): there and on DuckDB the plan is estimated offline (plan_bytes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flows.pipeline.plan import PlannedDay
from flows.pipeline.plan_bytes import (
    MIN_BILLED,
    ModelBytes,
    ModelRun,
    PlanBytes,
    ReadSizes,
    model_runs,
    offline_bytes,
)
from flows.pipeline.workspace import Workspace
from flows.project.lineage_build import project_lineage
from flows.project.model_reads import ModelReads
from flows.warehouse.interface import Warehouse

DRY_RUN_METHOD = (
    "bytes: BigQuery dry runs (total_bytes_processed) of each model's compiled SQL for its "
    "batch, on the tables as they are now (lake days not landed yet read nothing there); at "
    "least 10 MiB per table a query references"
)


def dry_run_plan(
    warehouse: Warehouse,
    runs: list[ModelRun],
    compiled: Callable[[ModelRun], str],
    tables: Callable[[ModelRun], int],
    price_per_tib: float,
) -> PlanBytes:
    """Each model run's bytes by a dry run of `compiled(run)`; billed at least MIN_BILLED for
    each of the `tables(run)` stored relations it references."""
    measured = []
    for run in runs:
        processed = warehouse.dry_run_bytes(compiled(run)) or 0
        measured.append(ModelBytes(run, processed, max(processed, MIN_BILLED * tables(run))))
    return PlanBytes(DRY_RUN_METHOD, tuple(measured), price_per_tib)


def plan_bytes(ws: Workspace, planned: list[PlannedDay]) -> PlanBytes:
    """The bytes and price of a plan's dbt models: dry runs where the warehouse takes them
    (real BigQuery), else the offline estimate."""
    runs = model_runs(ws.project, planned)
    project_dir = ws.settings.project_dir
    reads = ModelReads(ws.project, project_lineage(project_dir, project_dir / "target"))
    price = ws.settings.price_per_tib
    if not ws.warehouse.dry_runs:
        sizes = ReadSizes(ws.warehouse, ws.lake, ws.project.lake_tables)
        return offline_bytes(reads, sizes, runs, price)
    layers: dict[tuple[str, date, date], dict[str, str]] = {}

    def compiled(run: ModelRun) -> str:
        key = (run.layer, run.days[0], run.days[-1])
        if key not in layers:
            layers[key] = ws.dbt.compile_layer(*key)
        return layers[key][run.model]

    def tables(run: ModelRun) -> int:
        return len(reads.of(run.model, run.days[0], run.days[-1]))

    return dry_run_plan(ws.warehouse, runs, compiled, tables, price)
