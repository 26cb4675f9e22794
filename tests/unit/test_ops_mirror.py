"""The ops mirror's parts that need no emulator: declared schemas, staged rows, SQL, failures."""

from __future__ import annotations

import csv
import json
import logging
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.cli.main import main
from flows.pipeline.hooks import publish_after_run, publish_quietly
from flows.settings import Settings
from flows.state.ledger import Ledger, Outcome, Status
from flows.state.store import MIRRORED, StateStore
from flows.warehouse.ops_mirror import (
    BigQueryOpsMirror,
    _csv,
    columns,
    merge_sql,
    staged_rows,
    table_ddl,
)

BY_NAME = {table.name: table for table in MIRRORED}


def _store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state.sqlite")


def _settings(tmp_path: Path, target: str = "bq_emulator") -> Settings:
    return Settings(
        target=target,  # type: ignore[arg-type]
        state=tmp_path / "state.sqlite",
        bq_project="sluice-check",
        bq_endpoint="http://127.0.0.1:9",
    )


def test_each_mirror_declares_exactly_the_sqlite_tables_columns(tmp_path: Path) -> None:
    _store(tmp_path)
    con = sqlite3.connect(tmp_path / "state.sqlite")
    for table in MIRRORED:
        sqlite_columns = [row[1] for row in con.execute(f"pragma table_info({table.name})")]
        assert [name for name, _ in table.columns] + list(table.local) == sqlite_columns, table.name
    assert set(BY_NAME) == {"partition_attempts", "gate_checks", "incidents"}  # no locks


def test_the_ddl_partitions_by_dt_and_quotes_reserved_column_names() -> None:
    attempts = table_ddl("sluice-check", "ops", BY_NAME["partition_attempts"])
    assert attempts.startswith("create table if not exists `sluice-check.ops.partition_attempts`")
    assert "`attempt` INT64 not null" in attempts and "`finished_at` TIMESTAMP," in attempts
    assert attempts.endswith("\npartition by dt")
    incidents = table_ddl("sluice-check", "ops", BY_NAME["incidents"])
    assert "`partition` DATE," in incidents and "partition by" not in incidents.split(")")[-1]


def test_the_merge_matches_on_the_key_and_updates_every_other_column() -> None:
    sql = merge_sql("p.ops.partition_attempts", "p.ops.stage", BY_NAME["partition_attempts"])
    assert "on dest.`dt` = src.`dt` and dest.`layer` = src.`layer`" in sql
    assert "dest.`attempt` = src.`attempt`\n" in sql
    assert "`status` = src.`status`" in sql and "`dt` = src.`dt`," not in sql
    assert "cast(json_value(`started_at`) as timestamp) as `started_at`" in sql
    assert "when not matched then insert" in sql and "delete" not in sql


def test_gate_checks_get_a_stable_key_and_values_travel_as_json_literals(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.transaction() as con:
        con.execute(
            "insert into gate_checks (dt, layer, suite, run_id, checked_at, success, row_count,"
            " details) values ('2026-11-01', 'raw', 'raw.events', 'r1',"
            " '2026-11-01T10:00:00+00:00', 1, null, 'line\nbreak \"q\"')"
        )
    table = BY_NAME["gate_checks"]
    first, again = staged_rows(store, table), staged_rows(store, table)
    assert first == again and len(first) == 1
    assert columns(table)[0] == ("check_id", "STRING")
    check_id, *values = first[0]
    assert len(json.loads(check_id)) == 32
    assert values[5:] == ["1", "null", json.dumps('line\nbreak "q"')]
    staged = _csv(first).getvalue().decode()
    assert staged.count("\n") == 1  # one line per row: the break travels escaped
    assert next(csv.reader([staged.strip()])) == first[0]


def _mirror(tmp_path: Path, store: StateStore, client: Any) -> BigQueryOpsMirror:
    return BigQueryOpsMirror(client, "sluice-check", "ops", store, timedelta(minutes=30))


def test_only_a_bigquery_warehouse_has_an_ops_mirror(tmp_path: Path) -> None:
    from flows.warehouse.choose import warehouse_for

    assert warehouse_for(_settings(tmp_path, "dev")).ops_mirror(_store(tmp_path)) is None
    assert publish_after_run(_settings(tmp_path, "dev"), "run-1") is None
    emulator = warehouse_for(_settings(tmp_path)).ops_mirror(_store(tmp_path))
    assert isinstance(emulator, BigQueryOpsMirror)


class _LoadFails:
    """Stands in for BigQuery (which cannot run here): creating works, every load job fails."""

    location = "US"

    def __init__(self) -> None:
        self.queries: list[str] = []

    def create_dataset(self, dataset: Any, exists_ok: bool) -> None:
        pass

    def query(self, sql: str) -> Any:
        self.queries.append(sql)
        return self

    def result(self) -> list[Any]:
        return []

    def load_table_from_file(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("503 Service Unavailable")


def test_a_failed_publish_is_logged_naming_the_table_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(tmp_path)
    ledger = Ledger(store)
    attempt = ledger.start(date(2026, 11, 1), "raw", "r1", code_version="c", input_fingerprint="f")
    ledger.finish(attempt, Outcome(Status.FAILED, error_class="StepFailed", error_message="boom"))
    client = _LoadFails()
    with caplog.at_level(logging.WARNING, logger="sluice.ops"):
        assert publish_quietly(_mirror(tmp_path, store, client), "run-1") is None
    assert (
        "publishing 1 rows of partition_attempts to sluice-check.ops.partition_attempts failed"
        " at the load: 503 Service Unavailable" in caplog.text
    )
    assert "the next run's publish sends the table again" in caplog.text
    assert store.read("select count(*) as n from ops_published")[0]["n"] == 0
    assert any(
        q.startswith("drop table if exists `sluice-check.ops._sluice_ops_stage_")
        for q in client.queries
    )
    assert store.read("select count(*) as n from partition_locks")[0]["n"] == 0


def test_sluice_ops_publish_on_the_duckdb_target_exits_1_naming_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLUICE_TARGET", "dev")
    monkeypatch.setenv("SLUICE_STATE", str(tmp_path / "state.sqlite"))
    from flows.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["ops", "publish"]) == 1
    finally:
        get_settings.cache_clear()
    error = capsys.readouterr().err
    assert "sluice: error: the ops dataset lives on BigQuery: the warehouse is the DuckDB" in error


class _Accepts(_LoadFails):
    """Stands in for BigQuery: every load job stages all its lines."""

    def load_table_from_file(self, body: Any, *args: Any, **kwargs: Any) -> Any:
        self.output_rows = body.getvalue().count(b"\n")
        return self


def test_only_tables_changed_since_their_last_publish_are_sent_again(tmp_path: Path) -> None:
    store, client = _store(tmp_path), _Accepts()
    mirror = _mirror(tmp_path, store, client)
    ledger = Ledger(store)
    attempt = ledger.start(date(2026, 11, 1), "raw", "r1", code_version="c", input_fingerprint="f")

    def merged() -> list[str]:
        found = [q.split("`")[1].rsplit(".", 1)[1] for q in client.queries if q.startswith("merge")]
        client.queries.clear()
        return found

    first = mirror.publish("p1")
    assert first.rows == {"partition_attempts": 1, "gate_checks": 0, "incidents": 0}
    assert merged() == ["partition_attempts", "gate_checks", "incidents"]
    assert mirror.publish("p2").unchanged == ("partition_attempts", "gate_checks", "incidents")
    assert merged() == []
    ledger.finish(attempt, Outcome(Status.FAILED, error_class="StepFailed", error_message="boom"))
    assert mirror.publish("p3").rows == {"partition_attempts": 1}
    assert merged() == ["partition_attempts"]
    assert mirror.publish("p4", force=True).unchanged == ()
    assert merged() == ["partition_attempts", "gate_checks", "incidents"]
