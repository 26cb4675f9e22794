"""make bq-check's semantic stage catches DuckDB-only SQL in a model, naming the model; the
janitor's sweep of a BigQuery project works on the emulator."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.settings import PROJECT_DIR
from tests.support import copy_project

CRUCIBLE = PROJECT_DIR / ".venv-bq-emulator" / "bin" / "crucible"
ZETASQL_PYTHON = PROJECT_DIR / ".venv-zetasql" / "bin" / "python"

pytestmark = pytest.mark.skipif(
    not (CRUCIBLE.exists() and ZETASQL_PYTHON.exists()),
    reason="the emulator and analyzer venvs are missing: run `make bq-venvs`",
)


def _inject(model: Path, old: str, new: str) -> None:
    text = model.read_text()
    assert old in text, f"{model} no longer holds {old!r}: update the injection"
    model.write_text(text.replace(old, new, 1))


def _bq_check(project: Path, work: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.bq_check",
            "--static-only",
            "--project-dir",
            str(project),
            "--work",
            str(work),
            "--crucible",
            str(CRUCIBLE),
            "--zetasql-python",
            str(ZETASQL_PYTHON),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_duckdb_only_sql_fails_the_bigquery_check_with_the_model_named(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "sluice")
    shutil.copy2(PROJECT_DIR / "bq_gaps.yml", project / "bq_gaps.yml")
    marts = project / "models" / "marts"
    # `::` casts and strftime run on DuckDB (and on the emulator) but are not GoogleSQL.
    _inject(
        marts / "kpi" / "daily_kpis.sql",
        "count(distinct user_id) as active_users",
        "count(distinct user_id)::bigint as active_users",
    )
    _inject(
        marts / "recommendations" / "recommendation_performance.sql",
        "        algorithm,\n        slot,\n        event_type\n",
        "        strftime(event_date, '%Y') as algorithm,\n        slot,\n        event_type\n",
    )

    done = _bq_check(project, tmp_path / "work")

    assert done.returncode == 1, done.stdout + done.stderr
    failures = [line for line in done.stderr.splitlines() if line.startswith("bq-check: FAIL")]
    assert any(
        "model daily_kpis (first build):" in line and "Syntax error" in line for line in failures
    ), failures
    assert any(
        "model recommendation_performance (first build):" in line
        and "Function not found: strftime" in line
        for line in failures
    ), failures
    # the parse stage names the `::` model too; nothing else in the project fails
    assert {re.search(r"model (\w+)", line).group(1) for line in failures} == {  # type: ignore[union-attr]
        "daily_kpis",
        "recommendation_performance",
    }, failures
    assert "ZetaSQL analyzed" in done.stdout


def test_the_janitor_sweeps_bigquery_on_the_emulator(tmp_path: Path) -> None:
    """Old audit and quarantine rows go by MERGE-delete, unused audit relations through the
    tables API; recent rows, other days and another `*_audit` dataset stay."""
    from datetime import UTC, date, datetime, timedelta

    from flows.settings import RetentionSettings, Settings
    from flows.warehouse.bigquery_warehouse import BigQueryWarehouse
    from tools.bq_check.emulator import running_emulator

    now = datetime(2027, 6, 1, 12, tzinfo=UTC)
    retention = RetentionSettings(audit_days=30, quarantine_days=30)  # quarantine: before May 2
    with running_emulator(CRUCIBLE, tmp_path / "crucible.log") as endpoint:
        settings = Settings(
            target="bq_emulator",
            bq_endpoint=endpoint,
            bq_project="sluice-sweep",
            state=tmp_path / "state.sqlite",
            project_dir=PROJECT_DIR,
        )
        warehouse = BigQueryWarehouse(settings, emulator=True)
        client = warehouse.client
        project = "sluice-sweep"
        for dataset in ("raw", "marts_audit", "other_audit"):
            client.create_dataset(f"{project}.{dataset}", exists_ok=True)
        warehouse.append_failures(
            [
                [run_id, checked, date(2027, 1, 1), "raw", "s", "e", "critical", None, None]
                for run_id, checked in (
                    ("old", now - timedelta(days=31)),
                    ("old", now - timedelta(days=90)),
                    ("recent", now - timedelta(days=29)),
                )
            ]
        )
        client.query(
            f"create table `{project}.raw.quarantine` as select d as dt, 'x' as line"
            " from unnest([date '2027-04-01', date '2027-05-01', date '2027-05-02']) as d"
        ).result()
        for relation in ("marts_audit.daily_kpis", "marts_audit.retired", "other_audit.keep"):
            client.query(f"create table `{project}.{relation}` as select 1 as x").result()
        client.query(f"create view `{project}.marts_audit.retired_view` as select 1 as x").result()

        def sweep(apply: bool) -> dict[str, int]:
            found = warehouse.sweep(
                retention,
                now,
                apply=apply,
                audit_schemas=frozenset({"marts_audit"}),
                built={("marts_audit", "daily_kpis")},
            )
            return {s.what: s.count for s in found}

        expected = {
            "audit.gate_failures rows": 2,
            "raw.quarantine rows": 2,
            "unused audit relations": 2,
        }
        assert sweep(apply=False) == expected
        assert sweep(apply=False) == expected  # a dry run deletes nothing
        assert sweep(apply=True) == expected
        assert sweep(apply=False) == dict.fromkeys(expected, 0)

        def rows(sql: str) -> list[tuple[object, ...]]:
            return sorted(tuple(row.values()) for row in client.query(sql).result())

        assert rows(f"select run_id from `{project}.audit.gate_failures`") == [("recent",)]
        assert rows(f"select dt from `{project}.raw.quarantine`") == [(date(2027, 5, 2),)]
        assert sorted(t.table_id for t in client.list_tables(f"{project}.marts_audit")) == [
            "daily_kpis"
        ]
        assert [t.table_id for t in client.list_tables(f"{project}.other_audit")] == ["keep"]
