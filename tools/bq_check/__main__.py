"""`python -m flows.bq_check`: the emulator run, the ZetaSQL analysis and the BigQuery parse."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from flows.cli.environment import apply_offline_defaults
from flows.errors import SluiceError
from flows.project.dbt_runner import DbtProject
from flows.settings import PROJECT_DIR, Settings
from tools.bq_check.emulator import running_emulator
from tools.bq_check.emulator_run import (
    FIRST_DAY,
    EmulatorReport,
    emulator_settings,
    run_emulator_check,
)
from tools.bq_check.flow_data import AS_PUBLISHED
from tools.bq_check.gaps import Gap, load_gaps
from tools.bq_check.semantic import analyze, compiled_models, source_tables
from tools.bq_check.sql_parse import parse_models


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flows.bq_check", description=__doc__)
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument(
        "--work", type=Path, help="scratch folder (default: <project>/target/bq-check)"
    )
    parser.add_argument(
        "--crucible", type=Path, default=PROJECT_DIR / ".venv-bq-emulator" / "bin" / "crucible"
    )
    parser.add_argument(
        "--zetasql-python", type=Path, default=PROJECT_DIR / ".venv-zetasql" / "bin" / "python"
    )
    parser.add_argument(
        "--static-only",
        action="store_true",
        help="skip the emulator data run: compile, analyze and parse only",
    )
    return parser.parse_args(argv)


def _probe_gaps(settings: Settings, gaps: tuple[Gap, ...]) -> list[str]:
    """Each listed gap's probe must still fail on the emulator with the listed error text."""
    from google.cloud import bigquery

    from flows.warehouse.bigquery_client import bigquery_client

    client = bigquery_client(settings, emulator=True)
    dataset = bigquery.Dataset(f"{settings.bq_project}.sluice_probe")
    dataset.location = settings.bq_location
    client.create_dataset(dataset, exists_ok=True)
    stale = []
    for gap in gaps:
        if not gap.probe:
            continue
        sql = gap.probe.replace("{project}", settings.bq_project)
        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        try:
            client.query(sql, job_config=config if gap.probe_dry_run else None).result()
        except Exception as exc:
            if gap.match and gap.match.lower() in str(exc).lower():
                continue
            stale.append(f"gap {gap.id}: the probe fails differently now: {exc}")
            continue
        stale.append(f"gap {gap.id}: the emulator now supports it; remove it from bq_gaps.yml")
    return stale


def _compile(settings: Settings) -> tuple[list[Any], Any]:
    """Compile every model for BigQuery (production vars) against the emulator."""
    dbt = DbtProject(settings, AS_PUBLISHED, variant="bq-compile")
    run_vars = json.dumps({"run_start": FIRST_DAY.isoformat()})
    result = dbt.invoke(["compile", "--select", "resource_type:model", "--vars", run_vars])
    if not result.success:
        raise SluiceError(f"dbt compile for BigQuery failed: {result.exception or result.result}")
    return [r.node for r in result.result.results], dbt.manifest


def main(argv: list[str] | None = None) -> int:
    apply_offline_defaults()
    args = _arguments(argv)
    project_dir = args.project_dir.resolve()
    work = (args.work or project_dir / "target" / "bq-check").resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    began = time.perf_counter()
    failures: list[str] = []
    timings: dict[str, float] = {}
    try:
        gaps = load_gaps(project_dir)
        with running_emulator(args.crucible, work / "crucible.log") as endpoint:
            settings = emulator_settings(project_dir, endpoint, work)
            failures += _probe_gaps(settings, gaps)
            timings["start"] = time.perf_counter() - began
            # no table exists yet: models compile as a first build (in_window renders all_dates)
            compiled, manifest = _compile(settings)
            passes = {"first build": compiled_models(compiled)}
            timings["compile"] = time.perf_counter() - began - sum(timings.values())
            emulator = EmulatorReport()
            if not args.static_only:
                emulator = run_emulator_check(settings, gaps)
                timings["emulator run"] = time.perf_counter() - began - sum(timings.values())
                compiled, manifest = _compile(settings)  # the tables exist: incremental SQL
                passes["incremental"] = compiled_models(compiled)
                timings["compile"] += time.perf_counter() - began - sum(timings.values())
        semantic = analyze(passes, source_tables(manifest), args.zetasql_python, work)
        timings["ZetaSQL"] = time.perf_counter() - began - sum(timings.values())
        parsed = parse_models([m for models in passes.values() for m in models])
        timings["sqlfluff parse"] = time.perf_counter() - began - sum(timings.values())
    except SluiceError as exc:
        print(f"bq-check: error: {exc}", file=sys.stderr)
        return 1
    failures += semantic.failures + parsed.failures
    _print_summary(emulator, semantic.analyzed, parsed.parsed, gaps, timings)
    for failure in failures:
        print(f"bq-check: FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


def _print_summary(
    emulator: EmulatorReport,
    analyzed: int,
    parsed: int,
    gaps: tuple[Gap, ...],
    timings: dict[str, float],
) -> None:
    print(
        f"bq-check: emulator built {emulator.nodes_built} nodes ({emulator.models_built} model"
        f" builds) over two lake days and a one-day re-run"
    )
    for proof in emulator.proofs:
        print(f"  proved: {proof}")
    for hit in emulator.known_gaps_hit:
        print(f"  known gap hit: {hit}")
    print(
        f"bq-check: ZetaSQL analyzed {analyzed} compiled model statements;"
        f" sqlfluff (bigquery) parsed {parsed}"
    )
    print(f"bq-check: listed gaps: {', '.join(g.id for g in gaps) or 'none'}")
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    print(f"bq-check: {sum(timings.values()):.1f} s ({steps})")


if __name__ == "__main__":
    sys.exit(main())
