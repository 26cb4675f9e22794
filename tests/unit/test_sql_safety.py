"""No SQL built from unvalidated strings: tests/sql_scan.py over every statement flows/ and tools/
send a driver, its reviewed exceptions, and the unsafe snippets it must flag.

A reviewed exception is keyed by the digest of the code that defines the value (the statements
binding the variable, or the whole function): change that code and the review must be renewed.
A failing scan prints, for each unsafe piece, the Review that would accept it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sql_scan import Module, Review, Scanner, scan
from tests.unit.sql_unsafe_cases import REVIEWED_CASE, SAFE, UNSAFE

ROOT = Path(__file__).resolve().parents[2]
# Every Python file of the runtime package and of the developer tools, at any depth.
SCANNED = sorted([*(ROOT / "flows").rglob("*.py"), *(ROOT / "tools").rglob("*.py")])
_EMULATOR = "tools/bq_check: relations, columns and days of the emulator project and manifest"
_QUOTED = "a database name quoted by psycopg's sql.Identifier (the names are t_ + hex digits)"
_SIZES = (
    "size_sql (flows/warehouse/logical_size.py): the module constants _SUM_SQL / _FIXED_SQL "
    "formatted with an int and a column that passed identifier() and the warehouse's quote()"
)
# Why each value interpolated into SQL is not user input.
REVIEWED = {
    Review("flows/warehouse/duckdb_landing.py", "_land_table", "classify_sql", "cb8984689b44"): (
        "_classification and _reason_expression bind every value as $pN and the field paths as "
        "$paths; their SQL text is constant templates, placeholders, column numbers and the "
        "module constant _LINES or _DUMP (test_reason_expression_binds_every_value)"
    ),
    Review("flows/warehouse/duckdb_publish.py", "_copy_window", "kind", "dbf9c03d318e"): (
        "a column type read from DuckDB's own catalog and matched against _TYPE first"
    ),
    Review("flows/gates/runner.py", "_failing_rows", "query", "eb1bb4fe91b1"): (
        "built by failing_rows_query from the project's own suite files (code under review, "
        "not a parameter); column names pass identifier()"
    ),
    Review("flows/gates/runner.py", "_validate", "batch_sql", "2f82b31a31b5"): (
        "the suite's relation and partition column quoted by the warehouse, and the ISO text of "
        "the `dates: tuple[date, date]` parameter"
    ),
    Review("flows/warehouse/bigquery_warehouse.py", "identity", "made", "b7c5e01673b7"): (
        "uuid.uuid4().hex: 32 hexadecimal digits (the emulator takes no query parameters)"
    ),
    Review("flows/warehouse/bigquery_warehouse.py", "publish", "statement", "5b90c412a297"): (
        "returned by _copy_statements and _clear_window, which build each statement from "
        "identifier()-validated schemas, tables and columns and the ISO text of the window's dates"
    ),
    Review(
        "flows/warehouse/bigquery_warehouse.py",
        "publish",
        "self._clear_window(table, build, window, floor)",
        "92aa468fa226",
    ): (
        "built by _in_window from identifier()-validated columns (the window's lake day column "
        "passed identifier() in window_of) and the ISO text of `date` values"
    ),
    Review("flows/warehouse/duckdb_warehouse.py", "logical_sizes", "sums", "10a45d39e020"): (
        _SIZES
    ),
    Review("flows/warehouse/bigquery_warehouse.py", "logical_sizes", "sql", "f3dfcae418e6"): (
        _SIZES + "; the dates are the ISO text of `first` and `last` (date parameters)"
    ),
    Review("flows/pipeline/plan_scan.py", "dry_run_plan", "compiled(run)", "03b55bef25f0"): (
        "a model's SQL as dbt compiled it from the project's own files (DbtProject.compile_layer),"
        " sent as a dry run (nothing executes); the project is code under review"
    ),
    Review("flows/warehouse/ops_mirror.py", "merge_sql", "keys", "4a8c6c132495"): (
        "key columns of the module constant MIRRORED (flows/state/store.py)"
    ),
    Review("flows/warehouse/ops_mirror.py", "table_ddl", "lines", "583841abc7d6"): (
        "column names (identifier()) and BigQuery types of the module constant MIRRORED"
    ),
    Review("flows/warehouse/ops_mirror.py", "merge_sql", "casts", "3a8b90aa6e12"): (
        "_CAST templates for the columns and types of the module constant MIRRORED"
    ),
    Review("tools/bq_check/ops_run.py", "run_ops_check", "*", "9628e38a1c19"): _EMULATOR,
    Review("tools/bq_check/ops_run.py", "_assert_counts", "*", "9ec9e19a68d9"): _EMULATOR,
    Review("tools/bq_check/gates_run.py", "check_bad_row_blocked", "*", "0e2f0ab2caf7"): _EMULATOR,
    Review("tools/bq_check/flow_data.py", "check_marts", "published", "d152964fd0ce"): _EMULATOR,
    Review("tools/bq_check/flow_data.py", "check_marts", "audit", "1710bdb73fdd"): _EMULATOR,
    Review("tools/postgres_server.py", "create_database", "sql.Identifier(name)", "73c68e563542"): (
        _QUOTED
    ),
    Review(
        "tools/postgres_server.py",
        "create_database",
        "sql.SQL('create database {}')",
        "73c68e563542",
    ): (_QUOTED),
    Review("tools/postgres_server.py", "drop_database", "sql.Identifier(name)", "8a323483b84d"): (
        _QUOTED
    ),
    Review(
        "tools/postgres_server.py",
        "drop_database",
        "sql.SQL('drop database if exists {} with (force)')",
        "8a323483b84d",
    ): _QUOTED,
    Review("tools/bq_check/flows_faults_run.py", "_published_rows", "sql", "a27642f3ae51"): (
        _EMULATOR
    ),
    Review("tools/bq_check/janitor_run.py", "_plant", "project", "22a09ba7d79d"): _EMULATOR,
    Review("tools/bq_check/janitor_run.py", "_check_swept", "project", "22a09ba7d79d"): _EMULATOR,
    Review("tools/bq_check/janitor_run.py", "check_janitor", "last", "d64be01ad1bd"): _EMULATOR,
    Review("tools/bq_check/janitor_run.py", "check_janitor", "quarantine", "10c6353b5f3f"): (
        _EMULATOR
    ),
    Review("tools/bq_check/emulator_run.py", "_plant_sentinels", "*", "f826aa9ead08"): _EMULATOR,
    Review("tools/bq_check/emulator_run.py", "_check_publish", "*", "7c5047541ee3"): _EMULATOR,
    Review("tools/bq_check/emulator_run.py", "_raw_counts", "*", "64fbf575b6e0"): _EMULATOR,
    Review("tools/bq_check/emulator_run.py", "run_emulator_check", "*", "4e0b0e44328b"): _EMULATOR,
    Review("tools/bq_check/__main__.py", "_probe_gaps", "sql", "bf34b64e218c"): (
        "the probes of bq_gaps.yml (committed) with the emulator's project id"
    ),
}


def test_no_statement_in_flows_or_tools_interpolates_an_unvalidated_value() -> None:
    # A scan that finds no file (a moved package, a wrong glob) must not pass: count them.
    assert len(SCANNED) >= 80, f"only {len(SCANNED)} Python files under flows/ and tools/"
    names = {str(path.relative_to(ROOT)) for path in SCANNED}
    assert {
        "flows/warehouse/duckdb_landing.py",
        "flows/state/ledger.py",
        "flows/warehouse/ops_mirror.py",
        "tools/bq_check/emulator_run.py",
    } <= names
    scanner = Scanner([Module(path, ROOT) for path in SCANNED], frozenset(REVIEWED))
    findings = scanner.run()
    assert findings == [], "\n".join(f.describe() for f in findings)
    assert scanner.checked >= 140, f"only {scanner.checked} statements were examined"
    per_folder = {folder: 0 for folder in ("flows/warehouse", "flows/state", "tools/bq_check")}
    for module in scanner.modules:
        for folder in per_folder:
            per_folder[folder] += module.name.startswith(folder)
    assert min(per_folder.values()) >= 3, per_folder
    stale = set(REVIEWED) - scanner.used
    assert not stale, f"reviews no statement needs any more (remove them): {stale}"


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_the_scan_flags_an_unsafe_snippet(case: str, tmp_path: Path) -> None:
    snippet = tmp_path / f"{case}.py"
    snippet.write_text(UNSAFE[case])
    assert scan([snippet]) != [], f"{case} was not flagged:\n{UNSAFE[case]}"


@pytest.mark.parametrize("case", sorted(SAFE))
def test_the_scan_passes_a_safe_snippet(case: str, tmp_path: Path) -> None:
    snippet = tmp_path / f"{case}.py"
    snippet.write_text(SAFE[case])
    findings = scan([snippet])
    assert findings == [], "\n".join(f.describe() for f in findings)


def test_a_review_stops_holding_when_the_reviewed_code_changes(tmp_path: Path) -> None:
    reviewed_code, changed_code = REVIEWED_CASE
    snippet = tmp_path / "case.py"
    snippet.write_text(reviewed_code)
    (finding,) = scan([snippet])
    (review,) = finding.unsafe
    assert scan([snippet], frozenset([review])) == []  # the review holds for that code
    snippet.write_text(changed_code)  # the same variable name, now from user input
    assert scan([snippet], frozenset([review])) != []


def test_the_scan_follows_a_user_value_into_sql_through_calls(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "RAW = 'raw'\n"
        "def load(con, table, dt):\n"
        "    con.execute(f'delete from {RAW}.{table} where dt = $dt', {'dt': dt})\n"
        "def count(con, schema):\n"
        "    sql = 'select count(*) from ' + schema\n"
        "    return run(con, sql)\n"
        "def run(con, statement):\n"
        "    return con.execute(statement)\n"
        "def fine(con, name):\n"
        "    con.execute(f'select * from raw.{identifier(name, \"t\")}')\n"
        "def main(con, args):\n"
        "    count(con, args.schema)\n"
        "    run(con, 'select {}'.format(args.text))\n"
        "    load(con, args.table, args.date)\n"
        "    fine(con, args.name)\n"
        "    run(con, 'select 1')\n"
    )
    found = {(f.function, f.line) for f in scan([bad])}
    assert found == {("main", 12), ("main", 13), ("main", 14)}


def test_reason_expression_binds_every_value() -> None:
    from datetime import date

    from flows.project.lake_tables import FieldRule, LakeTable
    from flows.warehouse.duckdb_landing import _classification, _reason_expression

    fields = (
        FieldRule("kind", "string", (), ("a'b", "c")),
        FieldRule("happened_at", "timestamp", ()),
        FieldRule("slot_number", "integer", ("c",)),
        FieldRule("note_text", "string", None),
    )
    table = LakeTable("events", "app", "events", "jsonl", fields, "happened_at", "kind")
    sql, params = _reason_expression(table, date(2026, 11, 1), 3)
    query, query_params = _classification(table, date(2026, 11, 1), 3)
    for rule in fields:
        assert rule.name not in sql, rule.name  # field paths are bound, never inlined
        assert rule.name not in query, rule.name
    assert sql in query and query_params == params
    assert "a'b" not in sql and "missing_field" not in sql and "2026" not in sql
    values = list(params.values())
    assert params["paths"] == ["$.kind", "$.happened_at", "$.slot_number", "$.note_text"]
    for bound in (["a'b", "c"], "missing_field:kind", "bad_type:kind"):
        assert bound in values, bound
