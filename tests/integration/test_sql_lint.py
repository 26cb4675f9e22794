"""The SQL part of `make lint` (both sqlfluff passes) fails on bad SQL and says file and line.

Each test copies the dbt project to a temp folder, breaks it, and runs exactly the sqlfluff
commands that `make -n lint` prints for that copy (so the test follows the Makefile), with
SQL_PATHS set to the SQL files the break can reach: the dbt templater compiles only those, not
all of models/ and tests/dbt/ twice (`make lint` itself keeps the whole project clean).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flows.settings import PROJECT_DIR

VENV = PROJECT_DIR / ".venv"
COPIED = (
    "Makefile",
    "dbt_project.yml",
    "profiles.yml",
    ".sqlfluff",
    ".sqlfluff-rendered",
    ".sqlfluffignore",
    ".yamllint",
    "pyproject.toml",
    "uv.lock",
    "models",
    "macros",
    "tests/dbt",
)


@pytest.fixture()
def project_copy(tmp_path: Path) -> Path:
    """The dbt project and the Makefile in a temp folder (modification times kept)."""
    copy = tmp_path / "project"
    for name in COPIED:
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("target"))
        elif source.exists():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def _sql_lint_commands(project: Path, paths: list[str] | None = None) -> list[str]:
    """The SQL lint lines of `make lint` (SQL_PATHS=paths if given), expanded for this folder."""
    dry = subprocess.run(
        # -o: never reinstall the real .venv from the copy's pyproject.toml.
        [
            "make",
            "-n",
            "-s",
            "VENV=" + str(VENV),
            "-o",
            f"{VENV}/.installed",
            *(["SQL_PATHS=" + " ".join(paths)] if paths is not None else []),
            "lint",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in dry.stdout.splitlines() if "sqlfluff lint" in line]
    assert len(lines) == 2, dry.stdout
    return lines


def _run_sql_lint(project: Path, paths: list[str]) -> tuple[int, str]:
    """Run the SQL lint lines on paths in order, stopping at the first failure like make does."""
    (project / "target" / "lint").mkdir(parents=True, exist_ok=True)
    output = ""
    for command in _sql_lint_commands(project, paths):
        done = subprocess.run(
            ["bash", "-c", command], cwd=project, capture_output=True, text=True, check=False
        )
        output += done.stdout + done.stderr
        if done.returncode != 0:
            return done.returncode, output
    return 0, output


def _replace(path: Path, old: str, new: str) -> int:
    """Replace the first `old` in a file; return the 1-based line it is on."""
    text = path.read_text()
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old) :])
    return text[:at].count("\n") + 1


def _sql_files_calling(project: Path, macro: str) -> list[str]:
    """The SQL files under models/ and tests/dbt/ (what `make lint` lints) that call a macro."""
    call = re.compile(r"\b" + macro + r"\(")
    return sorted(
        str(path.relative_to(project))
        for folder in ("models", "tests/dbt")
        for path in (project / folder).rglob("*.sql")
        if call.search(path.read_text())
    )


def _findings(output: str) -> dict[str, list[tuple[int, str]]]:
    """sqlfluff's human output as {file: [(line, rule code), ...]}."""
    found: dict[str, list[tuple[int, str]]] = {}
    current = None
    for line in output.splitlines():
        header = re.match(r"== \[(.+)\] FAIL", line)
        if header:
            current = found.setdefault(header.group(1), [])
            continue
        finding = re.match(r"L:\s*(\d+) \| P:\s*\d+ \|\s*(\w+) \|", line)
        if finding and current is not None:
            current.append((int(finding.group(1)), finding.group(2)))
    return found


def test_a_lint_violation_and_a_syntax_error_are_reported_with_file_and_line(
    project_copy: Path,
) -> None:
    kpis = "models/marts/kpi/daily_kpis.sql"
    upper_line = _replace(
        project_copy / kpis, "        count(distinct user_id)", "        COUNT(DISTINCT user_id)"
    )
    performance = "models/marts/recommendations/recommendation_performance.sql"
    broken_line = _replace(
        project_copy / performance,
        "    group by event_date, algorithm, slot",
        "    group by event_date, algorithm, slot,\n    where",
    )

    code, output = _run_sql_lint(project_copy, [kpis, performance])

    assert code != 0, output
    found = _findings(output)
    assert set(found) == {kpis, performance}, output
    assert (upper_line, "CP01") in found[kpis]  # DISTINCT: keyword not lower case
    assert (upper_line, "CP03") in found[kpis]  # COUNT: function not lower case
    assert (broken_line + 1, "PRS") in found[performance]  # the unparsable `where`
    assert "Found unparsable section" in output


def test_an_uppercase_keyword_rendered_by_a_macro_fails_the_second_pass(
    project_copy: Path,
) -> None:
    _replace(project_copy / "macros/ratio.sql", " as {{ type_rate() }}", " AS {{ type_rate() }}")
    kpis = project_copy / "models/marts/kpi/daily_kpis.sql"
    call_lines = [n for n, line in enumerate(kpis.read_text().splitlines(), 1) if "ratio(" in line]
    # The break reaches the SQL files that call the macro: no other macro calls it.
    callers = _sql_files_calling(project_copy, "ratio")
    macros = project_copy / "macros"
    assert [m for m in macros.rglob("*.sql") if "ratio(" in m.read_text()] == [macros / "ratio.sql"]

    code, output = _run_sql_lint(project_copy, callers)

    assert code != 0, output
    assert "--config .sqlfluff-rendered" in _sql_lint_commands(project_copy, callers)[1]
    # `make lint` itself lints every model and singular test in both passes.
    for command in _sql_lint_commands(project_copy):
        assert "/sqlfluff lint models tests/dbt --format " in command, command
    found = _findings(output)
    # Reported at each model line that calls the macro (the first pass passed: it is macro code).
    assert sorted(found) == [
        "models/marts/kpi/daily_kpis.sql",
        "models/marts/recommendations/recommendation_performance.sql",
    ], output
    assert {line for line, rule in found["models/marts/kpi/daily_kpis.sql"]} == set(call_lines)
    assert {rule for findings in found.values() for _, rule in findings} == {"CP01"}
