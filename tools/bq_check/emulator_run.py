"""The emulator run: land two lake days into BigQuery, build the project, re-run one day, assert.

After the build, every layer's quality gates run on the emulator and on the DuckDB reference
(flows/bq_check/gates_run.py). Then the state store is published to the ops dataset twice
(flows/bq_check/ops_run.py), and a bad row must be blocked by the gates. Last, every pipeline
flow, the watchdog and the janitor run in a project of its own (tools/bq_check/flow_run.py).

The re-run proves the replace strategy: before it, every replace_window model gets a copy of one
row inside the day's window (which the re-run must remove: the window's partitions are
replaced) and one far outside it (which must survive: other partitions are untouched).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flows.errors import SluiceError
from flows.lake.folder import FolderLake
from flows.project.dbt_runner import DbtProject
from flows.project.identifiers import identifier, project_id
from flows.project.manifest import RAW_SCHEMA, Project, build_project
from flows.sample.lake import generate_lake
from flows.sample.spec import LakeSpec
from flows.settings import Settings
from flows.warehouse.bigquery_warehouse import BigQueryWarehouse
from flows.warehouse.choose import warehouse_for
from tools.bq_check.flow_data import AS_PUBLISHED, duckdb_reference
from tools.bq_check.flow_run import run_flow_check
from tools.bq_check.gaps import Gap, known_gap
from tools.bq_check.gates_run import check_bad_row_blocked, compare_gates
from tools.bq_check.ops_run import run_ops_check

FIRST_DAY = date(2026, 11, 1)
EVENTS_PER_DAY = 300
OUTSIDE_DAYS = 40  # the outside sentinel's distance from any window
PUBLISH_SUFFIX = "_copy"


class EmulatorCheckFailed(SluiceError):
    """The emulator run built something wrong or hit an emulator gap not in bq_gaps.yml."""


@dataclass
class EmulatorReport:
    """What the emulator run built and proved."""

    nodes_built: int = 0
    models_built: int = 0
    known_gaps_hit: list[str] = field(default_factory=list)
    proofs: list[str] = field(default_factory=list)


def emulator_settings(project_dir: Path, endpoint: str, work: Path) -> Settings:
    """Settings of the bq_emulator target, exported so profiles.yml reads the same values."""
    os.environ.update(
        SLUICE_TARGET="bq_emulator", SLUICE_BQ_ENDPOINT=endpoint, SLUICE_BQ_PROJECT="sluice-check"
    )
    return Settings(
        target="bq_emulator",
        bq_endpoint=endpoint,
        bq_project="sluice-check",
        lake=work / "lake",
        duckdb=work / "unused.duckdb",
        state=work / "state.sqlite",
        project_dir=project_dir,
    ).resolved()


def run_emulator_check(settings: Settings, gaps: tuple[Gap, ...]) -> EmulatorReport:
    """Build two lake days on the emulator, re-run one; raise EmulatorCheckFailed on a fault."""
    report = EmulatorReport()
    spec = LakeSpec(start=FIRST_DAY, days=2, events_per_day=EVENTS_PER_DAY, seed=42)
    days = generate_lake(settings.lake_folder, spec)
    warehouse = warehouse_for(settings)
    if not isinstance(warehouse, BigQueryWarehouse):
        raise EmulatorCheckFailed(
            f"the emulator check needs a BigQuery target, not {warehouse.name}"
        )
    dbt = DbtProject(
        settings, parse_vars={**warehouse.dbt_vars, **AS_PUBLISHED}, variant="bq-check"
    )
    project = build_project(dbt.manifest, settings.project_dir)
    landing = warehouse
    client = warehouse.client
    landed_rows = {
        day: landing.land(
            FolderLake(settings.lake_folder),
            project.lake_tables,
            day,
            lateness_days=project.lateness_days,
            load_id=f"check-{day}",
            schema=RAW_SCHEMA,
        ).landed
        for day in days
    }
    _dbt(dbt, ["seed"], {}, gaps, report)
    _dbt(dbt, ["build"], {"run_start": str(days[0]), "run_end": str(days[-1])}, gaps, report)
    reference, reference_project = _compare_with_duckdb(
        settings, dbt.manifest, client, days, report
    )
    gates, proof = compare_gates(settings, project, reference, reference_project, days)
    report.proofs.append(proof)
    models = _windowed_models(project)
    _check_publish(warehouse, project, models, days, report)
    before = {name: _counts(client, rel, column) for name, (rel, column, _) in models.items()}
    raw_before = _raw_counts(client, settings.bq_project)
    sentinels = _plant_sentinels(client, models, before, days[-1])
    landed = landing.land(
        FolderLake(settings.lake_folder),
        project.lake_tables,
        days[-1],
        lateness_days=project.lateness_days,
        load_id="check-rerun",
        schema=RAW_SCHEMA,
    )
    # `run`, as the pipeline does: the planted outside copy would fail whole-table tests
    _dbt(dbt, ["run"], {"run_start": str(days[-1])}, gaps, report)
    _assert_raw(client, settings.bq_project, raw_before, landed.landed, landed.quarantined, report)
    after = {name: _counts(client, rel, column) for name, (rel, column, _) in models.items()}
    _assert_replaced(before, after, sentinels, report)
    report.proofs.append(run_ops_check(settings, project, client, days, landed_rows))
    # the emulator has no DELETE, so the bad row stays in fct_events
    report.proofs.append(check_bad_row_blocked(gates, client, days[0]))
    # last, in a BigQuery project of its own: every pipeline flow, the watchdog and the janitor
    report.proofs.extend(run_flow_check(settings, reference, dbt.manifest, days, project.steps))
    return report


def _dbt(
    dbt: DbtProject,
    command: list[str],
    run_vars: dict[str, str],
    gaps: tuple[Gap, ...],
    report: EmulatorReport,
) -> None:
    result = dbt.invoke([*command, "--vars", json.dumps({**dbt.parse_vars, **run_vars})])
    results = getattr(result.result, "results", None) or []
    for node in results:
        status = str(node.status)
        if status in ("success", "pass"):
            report.nodes_built += 1
            report.models_built += int(str(node.node.resource_type) == "model")
            continue
        if status in ("skipped", "no-op"):
            continue
        gap = known_gap(gaps, node.message or "")
        if gap is None:
            raise EmulatorCheckFailed(
                f"dbt {command[0]}: {node.node.resource_type} {node.node.name} {status} on the"
                f" emulator, not a gap listed in bq_gaps.yml: {node.message}"
            )
        report.known_gaps_hit.append(f"{gap.id}: {node.node.name}")
    if not result.success and not results:
        raise EmulatorCheckFailed(f"dbt {command[0]} failed on the emulator: {result.exception}")


def _windowed_models(project: Project) -> dict[str, tuple[str, str, tuple[int, int]]]:
    """Incremental models with a partition column: relation, column, (lag, lead) of the window."""
    models = {
        table.name: (
            f"{table.database}.{table.schema}.{table.alias}",
            table.partition_column,
            (table.window.lag_days, table.window.lead_days),
        )
        for layer in project.layers
        for table in project.tables(layer)
        if table.materialized == "incremental" and table.partition_column
    }
    if not models:
        raise EmulatorCheckFailed("the project has no windowed incremental model to check")
    return dict(sorted(models.items()))


def _rows(client: Any, sql: str) -> list[Any]:
    return list(client.query(sql).result())


def _counts(client: Any, relation: str, column: str) -> dict[str, int]:
    sql = f"select cast({column} as string) as d, count(*) as n from `{relation}` group by d"
    return {str(row[0]): int(row[1]) for row in _rows(client, sql)}


def _plant_sentinels(
    client: Any,
    models: dict[str, tuple[str, str, tuple[int, int]]],
    counts: dict[str, dict[str, int]],
    rerun_day: date,
) -> dict[str, tuple[str, str]]:
    """Copy one row of each model into its re-run window and one far outside it."""
    planted = {}
    for name, (relation, column, (lag, _)) in models.items():
        inside = max((d for d in counts[name] if d != "None"), default=None)
        window_start = rerun_day - timedelta(days=lag)
        if inside is None or not window_start.isoformat() <= inside:
            continue  # nothing of this model lies in the re-run's window
        outside = (window_start - timedelta(days=OUTSIDE_DAYS)).isoformat()
        columns = [f.name for f in client.get_table(relation).schema]
        for target_day in (inside, outside):
            values = ", ".join(f"date '{target_day}'" if c == column else f"`{c}`" for c in columns)
            listed = ", ".join(f"`{c}`" for c in columns)
            client.query(
                f"insert into `{relation}` ({listed}) select {values} from `{relation}`"
                f" where {column} = date '{inside}' limit 1"
            ).result()
        planted[name] = (inside, outside)
    return planted


def _assert_replaced(
    before: dict[str, dict[str, int]],
    after: dict[str, dict[str, int]],
    sentinels: dict[str, tuple[str, str]],
    report: EmulatorReport,
) -> None:
    if "fct_events" not in sentinels:
        raise EmulatorCheckFailed("fct_events has no rows in the re-run's window to test with")
    for name, (inside, outside) in sentinels.items():
        expected = {**before[name], outside: 1}
        if after[name] != expected:
            changed = sorted(
                d for d in set(expected) | set(after[name]) if expected.get(d) != after[name].get(d)
            )
            raise EmulatorCheckFailed(
                f"model {name}: after re-running one day, rows per date differ at {changed}:"
                f" expected {[expected.get(d) for d in changed]},"
                f" found {[after[name].get(d) for d in changed]} (the copy planted at {inside}"
                f" must be replaced away, the one at {outside} must stay)"
            )
        report.proofs.append(
            f"{name}: the re-run replaced its window (copy planted at {inside} gone, rows per"
            f" date as before on {len(before[name])} dates); the copy at {outside} stayed"
        )


def _compare_with_duckdb(
    settings: Settings, manifest: Any, client: Any, days: list[date], report: EmulatorReport
) -> tuple[Settings, Project]:
    """Every model's row count on the emulator equals a DuckDB build of the same lake days.

    Returns the reference's settings and project (the gates are compared on it too).
    """
    reference, project = duckdb_reference(settings, days)
    models = sorted(
        (n.name, n.schema, n.alias) for n in manifest.nodes.values() if n.resource_type == "model"
    )
    counts = warehouse_for(reference).count_rows([(schema, alias) for _, schema, alias in models])
    expected = {name: counts[(schema, alias)] for name, schema, alias in models}
    found = {
        name: int(
            _rows(client, f"select count(*) from `{_relation(settings, schema, alias)}`")[0][0]
        )
        for name, schema, alias in models
    }
    differ = {n: (expected[n], found[n]) for n in expected if expected[n] != found[n]}
    if differ:
        raise EmulatorCheckFailed(f"row counts (DuckDB, emulator) differ: {differ}")
    report.proofs.append(
        f"row counts of all {len(models)} models equal a DuckDB build of the same lake days"
        f" ({sum(found.values())} rows)"
    )
    return reference, project


def _relation(settings: Settings, schema: str, table: str) -> str:
    """`project.schema.table` of the emulator, every part validated."""
    return ".".join(
        (project_id(settings.bq_project), identifier(schema, "schema"), identifier(table, "table"))
    )


def _check_publish(
    warehouse: BigQueryWarehouse,
    project: Project,
    models: dict[str, tuple[str, str, tuple[int, int]]],
    days: list[date],
    report: EmulatorReport,
) -> None:
    """Publishing marts -> marts_copy twice: the first creates the tables, the second MERGEs."""
    marts = [
        replace(table, published_schema=table.schema + PUBLISH_SUFFIX)
        for table in project.tables("marts")
    ]
    for _ in range(2):
        warehouse.publish(marts, days[0], days[-1])
    client = warehouse.client
    specs = [spec for spec in models.values() if ".marts." in spec[0]]
    for relation, column, _ in specs:
        copy = relation.replace(".marts.", f".marts{PUBLISH_SUFFIX}.")
        if _counts(client, copy, column) != _counts(client, relation, column):
            raise EmulatorCheckFailed(f"publishing: {copy} differs from {relation}")
    report.proofs.append(
        f"publishing: {len(specs)} marts copied to marts{PUBLISH_SUFFIX} by column name, then"
        " their window swapped again by MERGE: counts per date equal"
    )


def _raw_counts(client: Any, project: str) -> dict[str, dict[str, int]]:
    tables = [t.table_id for t in client.list_tables(f"{project}.raw")]
    return {t: _counts(client, f"{project}.raw.{t}", "dt") for t in sorted(tables)}


def _assert_raw(
    client: Any,
    project: str,
    before: dict[str, dict[str, int]],
    landed: int,
    quarantined: int,
    report: EmulatorReport,
) -> None:
    after = _raw_counts(client, project)
    if after != before:
        raise EmulatorCheckFailed(f"re-landing a day changed raw counts: {before} -> {after}")
    last = max(max(c) for c in after.values() if c)
    in_raw = sum(c.get(last, 0) for t, c in after.items() if t != "quarantine")
    if (in_raw, after["quarantine"].get(last, 0)) != (landed, quarantined):
        raise EmulatorCheckFailed(
            f"raw partition {last}: {in_raw} rows + {after['quarantine'].get(last, 0)} quarantined,"
            f" landing classified {landed} + {quarantined}"
        )
    report.proofs.append(
        f"raw: re-landing {last} replaced it ({in_raw} rows, {quarantined} quarantined),"
        f" the other day is unchanged"
    )
