"""On real BigQuery a plan's bytes come from dry runs of each model's compiled SQL (BigQuery
cannot run here and the emulator refuses dry runs: a stand-in client answers as BigQuery does)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flows.pipeline.plan_bytes import MIN_BILLED, ModelRun
from flows.pipeline.plan_scan import DRY_RUN_METHOD, dry_run_plan
from flows.settings import Settings
from flows.warehouse.bigquery_warehouse import BigQueryWarehouse
from flows.warehouse.duckdb_warehouse import DuckDBWarehouse

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


@dataclass
class DryRunJob:
    total_bytes_processed: int


@dataclass
class StandInClient:
    """Answers a dry run with the bytes it was told for that SQL, recording every job."""

    bytes_of: dict[str, int]
    jobs: list[tuple[str, Any]] = field(default_factory=list)

    def query(self, sql: str, job_config: Any = None) -> DryRunJob:
        self.jobs.append((sql, job_config))
        return DryRunJob(self.bytes_of[sql])


def _warehouse(client: StandInClient, *, emulator: bool = False) -> BigQueryWarehouse:
    found = BigQueryWarehouse(
        Settings(target="bigquery", bq_project="my-project"), emulator=emulator
    )
    found.__dict__["client"] = client  # the cached client, as production would build it
    return found


def test_real_bigquery_prices_each_model_by_a_dry_run_of_its_compiled_sql() -> None:
    client = StandInClient({"select a from x": 3 * 2**30, "select b from y, z": 1000})
    warehouse = _warehouse(client)
    runs = [ModelRun("dwh", "fct", (D1, D2)), ModelRun("marts", "kpis", (D1, D2))]
    sql = {"fct": "select a from x", "kpis": "select b from y, z"}
    tables = {"fct": 1, "kpis": 2}
    found = dry_run_plan(warehouse, runs, lambda r: sql[r.model], lambda r: tables[r.model], 6.25)
    assert warehouse.dry_runs
    assert found.method == DRY_RUN_METHOD
    assert [(r.run.model, r.logical, r.billed) for r in found.runs] == [
        ("fct", 3 * 2**30, 3 * 2**30),
        ("kpis", 1000, 2 * MIN_BILLED),  # two tables referenced: 10 MiB each at least
    ]
    assert [sql for sql, _ in client.jobs] == ["select a from x", "select b from y, z"]
    for _, config in client.jobs:
        assert config.dry_run is True and config.use_query_cache is False
    assert found.per_day() == {D1: found.billed // 2, D2: found.billed // 2}


def test_the_emulator_and_duckdb_take_no_dry_run(tmp_path: Any) -> None:
    client = StandInClient({})
    emulator = _warehouse(client, emulator=True)
    assert not emulator.dry_runs and emulator.dry_run_bytes("select 1") is None
    assert client.jobs == []
    duck = DuckDBWarehouse(tmp_path / "w.duckdb")
    assert not duck.dry_runs and duck.dry_run_bytes("select 1") is None
