"""One line per error: dbt's node errors, DuckDB's lock, a blocked day's reasons, the CLI's last
word on any exception, and messages holding rich markup (flows.errors.one_line, flows.cli)."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from flows.alerts.incidents import Incident, Kind, Severity, Status
from flows.alerts.notifier import chat_text
from flows.cli import tables
from flows.cli.main import main
from flows.errors import WarehouseBusy, is_transient, one_line, step_failure
from flows.pipeline.blocking import Block, Refusal
from flows.pipeline.plan import PlannedDay
from flows.state.ledger import Reason
from tests.support import duckdb_held_by_another_process

# Captured from dbt-core 1.11 + dbt-duckdb: `dbt run` of a one-model project whose contract
# declares event_count bigint, country varchar, sessions integer, while the model selects
# `1 as event_count, 'x' as country, 2.5 as ctr` (RunResult.message of the failed node).
DBT_CONTRACT_FAILURE = (
    "Compilation Error in model daily_kpis (models/daily_kpis.sql)\n"
    "  This model has an enforced contract that failed.\n"
    "  Please ensure the name, data_type, and number of columns in your contract match the "
    "columns in your model's definition.\n"
    "  \n"
    "  | column_name | definition_type | contract_type | mismatch_reason       |\n"
    "  | ----------- | --------------- | ------------- | --------------------- |\n"
    "  | ctr         | DECIMAL(2,1)    |               | missing in contract   |\n"
    "  | event_count | INTEGER         | BIGINT        | data type mismatch    |\n"
    "  | sessions    |                 | INTEGER       | missing in definition |\n"
    "  \n"
    "  \n"
    "  > in macro assert_columns_equivalent (macros/relations/column/columns_spec_ddl.sql)\n"
    "  > called by macro default__get_assert_columns_equivalent "
    "(macros/relations/column/columns_spec_ddl.sql)\n"
    "  > called by macro get_assert_columns_equivalent "
    "(macros/relations/column/columns_spec_ddl.sql)\n"
    "  > called by macro duckdb__create_table_as (macros/adapters.sql)\n"
    "  > called by macro create_table_as (macros/adapters.sql)\n"
    "  > called by macro statement (macros/etc/statement.sql)\n"
    "  > called by macro materialization_table_duckdb (macros/materializations/table.sql)\n"
    "  > called by model daily_kpis (models/daily_kpis.sql)"
)
DBT_BINDER_FAILURE = (
    "Runtime Error in model retention (models/marts/retention.sql)\n"
    '  Binder Error: Referenced column "week" not found in FROM clause!\n'
    '  Candidate bindings: "weeks"\n'
    "  \n"
    "  LINE 12:     week,\n"
    "               ^"
)
CONTRACT_LINE = (
    "model daily_kpis breaks its contract: event_count: expected BIGINT, found INTEGER; "
    "ctr: DECIMAL(2,1) in the SQL, not in the contract; "
    "sessions: INTEGER in the contract, missing from the SQL"
)
GATE = (
    "GateFailed on 2026-11-03: dwh.fct_events.user_id expect_column_values_to_not_be_null "
    "(observed 3, 3 bad rows); dwh.fct_events expect_table_row_count_to_be_between "
    "(observed 12, 0 bad rows; between 1000 and 3000)"
)
LOCK_LINE = re.compile(
    r"the DuckDB file (?P<file>\S+) is locked by another process \(\S*python\S*, PID \d+; "
    r"a run writes it, see sluice status\): let it finish or stop it, then retry"
)


def test_a_dbt_contract_failure_names_the_model_and_each_column_expected_and_found() -> None:
    failure = step_failure("dbt layer marts", "2026-11-03", f"daily_kpis: {DBT_CONTRACT_FAILURE}")
    assert str(failure).count("\n") == 18  # the ledger keeps dbt's whole table
    assert one_line(failure) == f"dbt layer marts failed for partition 2026-11-03: {CONTRACT_LINE}"


def test_each_failed_dbt_node_keeps_its_first_words_after_its_name() -> None:
    detail = f"daily_kpis: {DBT_CONTRACT_FAILURE}; retention: {DBT_BINDER_FAILURE}"
    assert one_line(step_failure("dbt layer marts", "2026-11-03", detail), limit=1000) == (
        f"dbt layer marts failed for partition 2026-11-03: {CONTRACT_LINE}; "
        'model retention: Binder Error: Referenced column "week" not found in FROM clause!'
    )


def test_a_long_error_is_cut_in_the_middle_to_the_limit() -> None:
    line = one_line("x " * 400, limit=80)
    assert len(line) == 80 and " … " in line and "\n" not in line


def test_a_long_error_keeps_its_head_and_what_to_do_at_its_end() -> None:
    # A long PREFECT_HOME path once pushed the advice past the limit (CI, a deep tmp path).
    advice = "run `make install` (it migrates Prefect's database ahead), or run `make serve`"
    message = f"Prefect's temporary server (PREFECT_HOME=/tmp/{'d' * 300}) did not start — {advice}"
    line = one_line(message)
    assert len(line) == 300
    assert line.startswith("Prefect's temporary server (PREFECT_HOME=/tmp/ddd")
    assert line.endswith(advice) and " … " in line


def test_a_locked_duckdb_file_names_the_file_its_holder_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with duckdb_held_by_another_process(path), pytest.raises(duckdb.IOException) as refused:
        duckdb.connect(str(path))
    assert "Could not set lock" in str(refused.value)
    found = LOCK_LINE.fullmatch(one_line(refused.value))
    assert found is not None and found["file"] == str(path)
    assert is_transient(WarehouseBusy(one_line(refused.value)))


def test_a_blocked_days_reasons_name_each_refusal_and_its_cause_once() -> None:
    fct_events = Refusal(date(2026, 11, 3), "dwh", "fct_events", GATE)
    own = Refusal(
        date(2026, 11, 2), "marts", "daily_kpis",
        f"{Reason.WINDOW_BLOCKED}: {Block('daily_kpis', fct_events).describe()}",
    )  # fmt: skip
    blocks = [Block(name, fct_events) for name in ("daily_kpis", "retention", "funnel")]
    blocks.append(Block("bandit", own))
    message = "; ".join(block.describe() for block in blocks)
    assert len(message) > 1100
    cause = (
        "GateFailed on 2026-11-03: dwh.fct_events.user_id expect_column_values_to_not_be_null "
        "(observed 3, 3 bad rows) (+1 more)"
    )
    assert one_line(f"marts blocked: {message}", limit=1000) == (
        "marts blocked: daily_kpis, retention, funnel read fct_events refused on 2026-11-03 "
        f"(dwh): {cause}; bandit reads daily_kpis refused on 2026-11-02 (marts), which reads "
        f"fct_events refused on 2026-11-03 (dwh): {cause}"
    )


def test_an_incident_title_and_chat_message_say_the_error_in_one_line() -> None:
    seen = datetime(2026, 11, 3, 7, 30)
    incident = Incident(
        id="abc", kind=Kind.STEP_FAILED, severity=Severity.CRITICAL, status=Status.OPEN,
        partition=date(2026, 11, 3), layer="marts", what="daily_kpis",
        error_class="StepFailed", error_message=f"daily_kpis: {DBT_CONTRACT_FAILURE}",
        first_seen=seen, last_seen=seen, count=1,
    )  # fmt: skip
    assert incident.title == "[critical] step_failed marts 2026-11-03: daily_kpis"
    assert incident.error_line == f"StepFailed: {CONTRACT_LINE}"
    assert chat_text(incident).splitlines() == [
        incident.title,
        f"StepFailed: {CONTRACT_LINE}",
        "seen 1x, first 2026-11-03 07:30:00 UTC, incident abc",
    ]


def test_a_message_with_rich_markup_prints_verbatim_through_the_table_printer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tables.print_plan([PlannedDay(date(2026, 11, 3), "dwh", "x [/x] [bold]y[/bold]")])
    assert "x [/x] [bold]y[/bold]" in capsys.readouterr().out


def test_an_unforeseen_error_is_one_line_naming_the_command_and_where(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.sqlite"
    state.write_text("not a database, " * 20)
    clean_env.setenv("SLUICE_STATE", str(state))
    clean_env.delenv("SLUICE_DEBUG", raising=False)
    assert main(["incidents"]) == 1
    assert re.fullmatch(
        r"sluice: error: incidents stopped in flows/state/store\.py:\d+: DatabaseError: file is "
        r"not a database \(--debug or SLUICE_DEBUG=1 shows the traceback\)\n",
        capsys.readouterr().err,
    )
    with pytest.raises(Exception, match="file is not a database"):
        main(["--debug", "incidents"])
