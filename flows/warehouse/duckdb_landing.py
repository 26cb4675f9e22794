"""Landing on DuckDB: a lake day's lines staged, classified, and replaced in raw and the quarantine.

The classification (one CASE per line giving its quarantine reason, from the lake table's field
rules) also serves BigQuery landing, which classifies in an in-memory DuckDB.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from flows.errors import StepFailed, UnreadableFile, first_line
from flows.lake.layout import Lake, LakeFile, literal_path
from flows.lake.lines import line_batches
from flows.project.identifiers import identifier
from flows.project.lake_tables import FieldRule, LakeTable
from flows.project.manifest import QUARANTINE, RAW_SCHEMA
from flows.warehouse.records import PartitionLanding, TableLanding

log = logging.getLogger(__name__)

_MAX_CSV_LINE = 8 * 1024 * 1024

_RAW_DDL = """
create table if not exists {schema}.{table} (
    dt date not null,
    source_file varchar not null,
    line_number bigint not null,
    payload json not null,
    loaded_at timestamp not null,
    load_id varchar not null
)"""
_QUARANTINE_DDL = """
create table if not exists {schema}.quarantine (
    dt date not null,
    source_table varchar not null,
    source_file varchar not null,
    line_number bigint not null,
    raw_line varchar,
    reason varchar not null,
    loaded_at timestamp not null,
    load_id varchar not null
)"""
# Every file's lines are first staged here, then classified into raw or quarantine; raw_line
# is only kept where it differs from text (a line that is not UTF-8), to hold one copy.
_STAGE_DDL = """
create or replace temp table _sluice_stage (
    source_file varchar, line_number bigint, text varchar, raw_line varchar
)"""

# A field's value and JSON type are the i-th items (1-based) of the lists `field_values` and
# `field_types`, which _classify extracts from each line with one parse.
_TYPE_INVALID = {
    "string": "field_types[{i}] <> 'VARCHAR'",
    "integer": "try_cast(field_values[{i}] as bigint) is null",
    "number": "try_cast(field_values[{i}] as double) is null",
    "boolean": "try_cast(field_values[{i}] as boolean) is null",
    "date": "try_cast(field_values[{i}] as date) is null",
    "timestamp": "try_cast(field_values[{i}] as timestamptz) is null",
}


def ensure_raw_tables(
    con: duckdb.DuckDBPyConnection, tables: tuple[LakeTable, ...], schema: str = RAW_SCHEMA
) -> None:
    """Create a raw schema, its tables and the quarantine if they do not exist."""
    schema = identifier(schema, "raw schema")
    con.execute(f"create schema if not exists {schema}")
    for table in tables:
        con.execute(_RAW_DDL.format(schema=schema, table=identifier(table.name, "raw table")))
    con.execute(_QUARANTINE_DDL.format(schema=schema))


def land_partition(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    tables: tuple[LakeTable, ...],
    dt: date,
    *,
    lateness_days: int,
    load_id: str,
    schema: str = RAW_SCHEMA,
) -> PartitionLanding:
    """Replace lake day `dt` of every raw table and the quarantine in `schema` (the pipeline
    lands into the audit schema, published once the raw gate passed); all or nothing."""
    schema = identifier(schema, "raw schema")
    with lake.fetch(tables, dt) as files:  # refuses incomplete days; a bucket's are copied
        ensure_raw_tables(con, tables, schema)
        con.execute("set TimeZone = 'UTC'")
        con.execute("begin transaction")
        try:
            results = tuple(
                _land_table(
                    con,
                    schema,
                    table,
                    files[table.name],
                    dt,
                    lateness_days,
                    load_id,
                    lake.max_file_bytes,
                )
                for table in tables
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return PartitionLanding(dt, results)


def _land_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: LakeTable,
    files: list[LakeFile],
    dt: date,
    lateness_days: int,
    load_id: str,
    max_file_bytes: int,
) -> TableLanding:
    con.execute(_STAGE_DDL)
    lines = sum(_stage_file(con, table, lake_file, max_file_bytes) for lake_file in files)
    staged = _scalar(con, "select count(*) from _sluice_stage")
    if staged != lines:
        raise StepFailed(
            "landing", str(dt), f"{table.name}: read {lines} lines but staged {staged}"
        )
    name = identifier(table.name, "raw table")
    quarantine = identifier(QUARANTINE, "raw table")
    con.execute(f"delete from {schema}.{name} where dt = $dt", {"dt": dt})
    con.execute(
        f"delete from {schema}.{quarantine} where dt = $dt and source_table = $table",
        {"dt": dt, "table": name},
    )
    reason_sql, params = _reason_expression(table, dt, lateness_days)
    con.execute(
        f"""create or replace temp table _sluice_classified as
        select source_file, line_number, text, raw_line, {reason_sql} as reason
        from (
            select *,
                -- a null document, not a CASE, keeps malformed lines from the parser
                json_extract_string(if(is_object, text, null), $paths) as field_values,
                json_type(if(is_object, text, null), $paths) as field_types
            from (
                select *,
                    case when json_valid(text) then json_type(text) = 'OBJECT' else false end
                        as is_object
                from _sluice_stage
            )
        )""",
        params,
    )
    con.execute(
        f"""insert into {schema}.{name}
        select $dt, source_file, line_number, text::json, now()::timestamp, $load_id
        from _sluice_classified where reason is null order by source_file, line_number""",
        {"dt": dt, "load_id": load_id},
    )
    con.execute(
        f"""insert into {schema}.{quarantine}
        select $dt, $table, source_file, line_number, coalesce(raw_line, text), reason,
            now()::timestamp, $load_id
        from _sluice_classified where reason is not null order by source_file, line_number""",
        {"dt": dt, "table": name, "load_id": load_id},
    )
    rows = con.execute(
        "select reason, count(*) from _sluice_classified group by reason order by reason"
    ).fetchall()
    landed = sum(n for reason, n in rows if reason is None)
    quarantined = {str(reason): int(n) for reason, n in rows if reason is not None}
    return TableLanding(table.name, tuple(files), lines, landed, quarantined)


def _stage_file(
    con: duckdb.DuckDBPyConnection, table: LakeTable, lake_file: LakeFile, max_bytes: int
) -> int:
    """Stage one file's lines; return how many lines (records) the file holds."""
    if table.format == "jsonl":
        return _stage_lines(con, lake_file, max_bytes)
    if lake_file.size > max_bytes:
        raise UnreadableFile(
            f"lake file {lake_file.path} holds more than {max_bytes} bytes, the limit "
            "max_file_bytes (SLUICE_MAX_FILE_BYTES): split the dump, or raise the limit"
        )
    if table.format == "csv":
        return _stage_csv(con, lake_file)
    return _stage_parquet(con, lake_file)


def _stage_lines(con: duckdb.DuckDBPyConnection, lake_file: LakeFile, max_bytes: int) -> int:
    lines = 0
    for batch in line_batches(lake_file, max_bytes):
        numbers = np.arange(batch.first, batch.first + len(batch), dtype=np.int64)
        arrow = pa.table({"line_number": pa.array(numbers), "line": batch.lines})
        con.register("_sluice_lines", arrow)
        try:
            con.execute(
                """insert into _sluice_stage
                select $file, line_number, try(decode(line)),
                    case when try(decode(line)) is null then line::varchar end
                from _sluice_lines""",
                {"file": lake_file.relative},
            )
        finally:
            con.unregister("_sluice_lines")
        lines += len(batch)
    return lines


def _stage_csv(con: duckdb.DuckDBPyConnection, lake_file: LakeFile) -> int:
    if lake_file.size == 0:  # not even a header: a broken delivery, not an empty table
        raise UnreadableFile(
            f"CSV dump {lake_file.path} is empty (0 bytes, no header line): re-deliver it"
        )
    params = {"path": literal_path(lake_file)}
    reader = """read_csv($path, header = true, hive_partitioning = false, all_varchar = true,
        strict_mode = true, store_rejects = true, rejects_table = '_sluice_rejects',
        rejects_scan = '_sluice_scans', max_line_size = 8388608)"""
    try:
        con.execute("drop table if exists _sluice_rejects")
        con.execute("drop table if exists _sluice_scans")
        con.execute(
            f"""create or replace temp table _sluice_csv as
            select row_number() over () as k, to_json(row) as text
            from (select * from {reader}) as row""",
            params,
        )
        rejects = con.execute(  # the reader reports one error per bad column: one row per line
            "select line, any_value(csv_line) from _sluice_rejects group by line order by line"
        ).fetchall()
    except duckdb.Error as exc:
        raise UnreadableFile(f"cannot read CSV dump {lake_file.path}: {first_line(exc)}") from exc
    # Accepted record k sits on line k + 1 (the header) plus the rejected lines before it;
    # reject j (1-based, lines ascending) has (line - 1 - j) accepted records before it.
    thresholds = [int(line) - 1 - j for j, (line, _) in enumerate(rejects, start=1)]
    con.execute(
        """insert into _sluice_stage
        select $file, k + 1 + (select count(*) from unnest($before) as b(t) where b.t < k),
            text, text
        from _sluice_csv""",
        {"file": lake_file.relative, "before": thresholds},
    )
    if rejects:
        con.executemany(
            "insert into _sluice_stage values ($1, $2, null, $3)",
            [[lake_file.relative, int(line), raw] for line, raw in rejects],
        )
    return _scalar(con, "select count(*) from _sluice_csv") + len(rejects)


def _stage_parquet(con: duckdb.DuckDBPyConnection, lake_file: LakeFile) -> int:
    try:
        con.execute(
            """insert into _sluice_stage
            select $file, file_row_number + 1, to_json(row), to_json(row)
            from (select * exclude (file_row_number) , file_row_number
                  from read_parquet($path, file_row_number = true,
                                    hive_partitioning = false)) as row""",
            {"path": literal_path(lake_file), "file": lake_file.relative},
        )
    except duckdb.Error as exc:
        raise UnreadableFile(
            f"cannot read Parquet dump {lake_file.path}: {first_line(exc)}"
        ) from exc
    return _scalar(
        con,
        "select count(*) from _sluice_stage where source_file = $file",
        {"file": lake_file.relative},
    )


def _reason_expression(
    table: LakeTable, dt: date, lateness_days: int
) -> tuple[str, dict[str, Any]]:
    """One CASE expression giving each staged line its quarantine reason (null: it lands).

    It reads the columns _land_table adds to each staged line: is_object, and the lists
    field_values / field_types of the table's fields in order (bound as $paths).
    """
    params: dict[str, Any] = {
        "paths": ["$." + identifier(r.name, f"{table.name} field") for r in table.fields]
    }

    def bind(value: Any) -> str:
        params[f"p{len(params)}"] = value
        return f"$p{len(params) - 1}"

    index = {rule.name: i for i, rule in enumerate(table.fields, start=1)}
    value = {name: f"field_values[{i}]" for name, i in index.items()}
    whens = [
        ("text is null", "unreadable_line"),
        ("trim(text) = ''", "empty_line"),
        ("not json_valid(text)", "invalid_json"),
        ("not is_object", "not_an_object"),
    ]
    for rule in table.fields:
        if rule.required_for is None:
            continue
        missing = f"{value[rule.name]} is null"
        if rule.required_for:
            kind = value[_rule(table, table.type_field).name]
            missing += f" and list_contains({bind(list(rule.required_for))}, {kind})"
        whens.append((missing, f"missing_field:{rule.name}"))
    for rule in table.fields:
        wrong = _TYPE_INVALID[rule.type].format(i=index[rule.name])
        whens.append((f"{value[rule.name]} is not null and {wrong}", f"bad_type:{rule.name}"))
    for rule in (r for r in table.fields if r.accepted):
        outside = f"not list_contains({bind(list(rule.accepted))}, {value[rule.name]})"
        whens.append((f"{value[rule.name]} is not null and {outside}", f"bad_value:{rule.name}"))
    if table.event_date_field:
        moment = value[_rule(table, table.event_date_field).name]
        event_date = f"cast(timezone('UTC', try_cast({moment} as timestamptz)) as date)"
        earliest = bind(dt - timedelta(days=lateness_days))
        whens.append((f"{event_date} < {earliest}", "out_of_window"))
        whens.append((f"{event_date} > {bind(dt)}", "future_event"))
    cases = "\n".join(f"when {cond} then {bind(reason)}" for cond, reason in whens)
    return f"case {cases} end", params


def _rule(table: LakeTable, name: str | None) -> FieldRule:
    for rule in table.fields:
        if rule.name == name:
            return rule
    raise StepFailed("landing", "-", f"{table.name} has no field {name!r}")


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> int:
    row = con.execute(sql, params or {}).fetchone()
    return int(row[0]) if row else 0


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file for writing (the process must be its only writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path))
