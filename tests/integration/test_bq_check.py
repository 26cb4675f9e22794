"""make bq-check's semantic stage catches DuckDB-only SQL in a model, naming the model."""

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
