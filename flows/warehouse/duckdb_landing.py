"""Landing on DuckDB: a lake day's lines staged, classified, and replaced in raw and the quarantine.

A JSON-lines file is staged and classified a batch of lines at a time (flows/lake/lines.py), each
batch going straight into raw and the quarantine, so memory stays bounded whatever the day's
size; a CSV or Parquet dump (capped at max_file_bytes) is staged whole. The classification (one
CASE per line giving its quarantine reason, from the lake table's field rules, over one JSON
parse of the line's fields) also serves BigQuery landing, which classifies in an in-memory DuckDB.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from flows.errors import StepFailed, UnreadableFile, first_line
from flows.lake.layout import Lake, LakeFile, literal_path
from flows.lake.lines import line_batches, read_ahead
from flows.project.identifiers import identifier
from flows.project.lake_tables import FieldRule, LakeTable
from flows.project.manifest import QUARANTINE, RAW_SCHEMA
from flows.warehouse.duckdb_blocks import NO_AUTOMATIC_CHECKPOINT, settings_for_block, transaction
from flows.warehouse.duckdb_raw import (
    STORE_SCHEMA,
    clear_pending,
    ensure_raw_tables,
    record_pending,
)
from flows.warehouse.records import PartitionLanding, TableLanding

log = logging.getLogger(__name__)

# What is classified, a batch at a time (line_number, text, raw_line): a batch of lines of a
# JSON-lines file, which DuckDB reads from the Python variable _sluice_lines of the function that
# runs the statement (registering it instead would keep every batch alive until the transaction
# ends), or a whole dump staged in _sluice_dump. raw_line is only kept where it differs from
# text (a line that is not UTF-8).
_LINES = """(
    select line_number, try(decode(line)) as text,
        case when try(decode(line)) is null then line::varchar end as raw_line
    from _sluice_lines
)"""
_DUMP = "_sluice_dump"
_DUMP_DDL = """
create or replace temp table _sluice_dump (line_number bigint, text varchar, raw_line varchar)"""

# Whether field i's value (`value_<i>`, the text json_extract_string would give) is wrong for
# its declared type; a string must be a JSON string (its raw JSON `json_<i>` starts with a quote).
_TYPE_INVALID = {
    "string": "not starts_with(json_{i}, '\"')",
    "integer": "try_cast(value_{i} as bigint) is null",
    "number": "try_cast(value_{i} as double) is null",
    "boolean": "try_cast(value_{i} as boolean) is null",
    "date": "try_cast(value_{i} as date) is null",
    "timestamp": "typed_{i} is null",
}
# The reasons of a line that is not a JSON object, in order (they exclude each other's lines).
_NOT_AN_OBJECT = (
    ("text is null", "unreadable_line"),
    ("trim(text) = ''", "empty_line"),
    ("not json_valid(text)", "invalid_json"),
    ("true", "not_an_object"),
)


def land_partition(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    tables: tuple[LakeTable, ...],
    dt: date,
    *,
    lateness_days: int,
    load_id: str,
    schema: str = RAW_SCHEMA,
    store: bool = False,
) -> PartitionLanding:
    """Replace lake day `dt` of every raw table and the quarantine in `schema`; all or nothing.
    With store, land into the store of loads instead (duckdb_raw.py): the day's published load
    stays beside the new one, which is recorded as pending."""
    schema = STORE_SCHEMA if store else identifier(schema, "raw schema")
    with lake.fetch(tables, dt) as files:  # refuses incomplete days; a bucket's are copied
        ensure_raw_tables(con, tables, schema)
        con.execute("set TimeZone = 'UTC'")
        # The day's rows stay in the WAL until a checkpoint: the pipeline's landing makes one
        # right after (DuckDBWarehouse.land), so writing the day into the file is landing's
        # cost, once; publishing copies no row.
        with settings_for_block(con, **NO_AUTOMATIC_CHECKPOINT), transaction(con):
            if store:  # the day's earlier pending load goes (its published one stays)
                clear_pending(con, dt)
            else:
                _clear_day(con, schema, tables, dt)
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
            if store:
                record_pending(con, dt, load_id)
    return PartitionLanding(dt, results)


def _clear_day(
    con: duckdb.DuckDBPyConnection, schema: str, tables: tuple[LakeTable, ...], dt: date
) -> None:
    """Delete lake day dt from plain raw tables `tables` of `schema` and from its quarantine."""
    quarantine = identifier(QUARANTINE, "raw table")
    for table in tables:
        name = identifier(table.name, "raw table")
        con.execute(f"delete from {schema}.{name} where dt = $dt", {"dt": dt})
        con.execute(
            f"delete from {schema}.{quarantine} where dt = $dt and source_table = $table",
            {"dt": dt, "table": name},
        )


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
    name = identifier(table.name, "raw table")
    quarantine = identifier(QUARANTINE, "raw table")
    source = _LINES if table.format == "jsonl" else _DUMP
    classify_sql, params = _classification(table, dt, lateness_days, source)
    lines = landed = 0
    for lake_file in files:
        for staged, batch in _stage_file(con, table, lake_file, max_file_bytes):
            lines += staged
            landed += _move_batch(
                con, schema, name, lake_file, dt, load_id, classify_sql, params, batch
            )
    rows = con.execute(
        f"""select reason, count(*) from {schema}.{quarantine}
        where dt = $dt and source_table = $table and load_id = $load_id
            and loaded_at = now()::timestamp
        group by reason order by reason""",
        {"dt": dt, "table": name, "load_id": load_id},
    ).fetchall()
    quarantined = {str(reason): int(n) for reason, n in rows}
    if landed + sum(quarantined.values()) != lines:
        raise StepFailed(
            "landing",
            str(dt),
            f"{table.name}: read {lines} lines but landed {landed} and quarantined "
            f"{sum(quarantined.values())}",
        )
    return TableLanding(table.name, tuple(files), lines, landed, quarantined)


def _move_batch(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    name: str,
    lake_file: LakeFile,
    dt: date,
    load_id: str,
    classify_sql: str,
    params: dict[str, Any],
    _sluice_lines: pa.Table | None,
) -> int:
    """Classify a batch (the lines _sluice_lines, or the dump in _sluice_dump when None): its
    quarantined lines go to the quarantine, the others to raw.<table>; return how many landed."""
    source = _DUMP if _sluice_lines is None else _LINES
    con.execute(
        f"""create or replace temp table _sluice_quarantined as
        select line_number, coalesce(raw_line, text) as raw_line, reason
        from ({classify_sql}) where reason is not null""",
        params,
    )
    quarantine = identifier(QUARANTINE, "raw table")
    common = {"dt": dt, "file": lake_file.relative, "load_id": load_id}
    con.execute(
        f"""insert into {schema}.{quarantine}
        select $dt, $table, $file, line_number, raw_line, reason, now()::timestamp, $load_id
        from _sluice_quarantined""",
        {**common, "table": name},
    )
    inserted = con.execute(  # here, where DuckDB finds _sluice_lines
        f"""insert into {schema}.{name}
        select $dt, $file, line_number, text::json, now()::timestamp, $load_id
        from {source}
        where line_number not in (select line_number from _sluice_quarantined)""",
        common,
    ).fetchone()
    return int(inserted[0]) if inserted else 0


def _stage_file(
    con: duckdb.DuckDBPyConnection, table: LakeTable, lake_file: LakeFile, max_bytes: int
) -> Iterator[tuple[int, pa.Table | None]]:
    """A file's lines a batch at a time, each with its number of lines (records): an Arrow
    table (line_number, line) per batch of a JSON-lines file, or None once a dump is staged
    whole in _sluice_dump."""
    if table.format == "jsonl":
        for batch in read_ahead(line_batches(lake_file, max_bytes)):
            numbers = np.arange(batch.first, batch.first + len(batch), dtype=np.int64)
            yield len(batch), pa.table({"line_number": pa.array(numbers), "line": batch.lines})
        return
    if lake_file.size > max_bytes:
        raise UnreadableFile(
            f"lake file {lake_file.path} holds more than {max_bytes} bytes, the limit "
            "max_file_bytes (SLUICE_MAX_FILE_BYTES): split the dump, or raise the limit"
        )
    con.execute(_DUMP_DDL)
    records = (
        _stage_csv(con, lake_file) if table.format == "csv" else _stage_parquet(con, lake_file)
    )
    yield records, None


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
        """insert into _sluice_dump
        select k + 1 + (select count(*) from unnest($before) as b(t) where b.t < k), text, text
        from _sluice_csv""",
        {"before": thresholds},
    )
    if rejects:
        con.executemany(
            "insert into _sluice_dump values ($1, null, $2)",
            [[int(line), raw] for line, raw in rejects],
        )
    return _scalar(con, "select count(*) from _sluice_csv") + len(rejects)


def _stage_parquet(con: duckdb.DuckDBPyConnection, lake_file: LakeFile) -> int:
    try:
        con.execute(
            """insert into _sluice_dump
            select file_row_number + 1, to_json(row), to_json(row)
            from (select * exclude (file_row_number) , file_row_number
                  from read_parquet($path, file_row_number = true,
                                    hive_partitioning = false)) as row""",
            {"path": literal_path(lake_file)},
        )
    except duckdb.Error as exc:
        raise UnreadableFile(
            f"cannot read Parquet dump {lake_file.path}: {first_line(exc)}"
        ) from exc
    return _scalar(con, "select count(*) from _sluice_dump")


def _classification(
    table: LakeTable, dt: date, lateness_days: int, source: str = _LINES
) -> tuple[str, dict[str, Any]]:
    """A query giving each line of `source` (_LINES or _DUMP) its quarantine reason (null: it
    lands), parsing the line once for its fields (bound as $paths): `json_<i>` is field i's raw
    JSON, `value_<i>` its text as json_extract_string gives it, `typed_<i>` its instant."""
    reason, params = _reason_expression(table, dt, lateness_days)
    fields = "".join(f", field_json[{i}] as json_{i}" for i in range(1, len(table.fields) + 1))
    values = "".join(f", {column}" for column in _value_columns(table))
    # a null document, not a CASE, keeps malformed lines from the parser
    sql = f"""select line_number, text, raw_line, {reason} as reason
    from (select *{values} from (select *{fields} from (
        select *, json_extract(if(is_object, text, null), $paths) as field_json
        from (
            select *, case when json_valid(text) then json_type(text) = 'OBJECT' else false
                end as is_object
            from {source}))))"""
    return sql, params


def _value_columns(table: LakeTable) -> list[str]:
    """The value_<i> and typed_<i> columns of the fields whose value (not just their presence
    and JSON type) a rule reads."""
    columns = []
    for i, rule in enumerate(table.fields, start=1):
        moment = rule.type == "timestamp" or rule.name == table.event_date_field
        if moment or _value_read(table, rule):
            columns.append(f"json_extract_string(json_{i}, '$') as value_{i}")
        if moment:
            columns.append(
                f"try_cast(json_extract_string(json_{i}, '$') as timestamptz) as typed_{i}"
            )
    return columns


def _value_read(table: LakeTable, rule: FieldRule) -> bool:
    return rule.type != "string" or bool(rule.accepted) or rule.name == table.type_field


def _reason_expression(
    table: LakeTable, dt: date, lateness_days: int
) -> tuple[str, dict[str, Any]]:
    """One CASE expression giving each staged line its quarantine reason (null: it lands).

    It reads the columns _classification adds to each staged line: is_object, and each field's
    json_<i> and, where a rule reads it, value_<i> / typed_<i> (see _value_columns).
    """
    params: dict[str, Any] = {
        "paths": ["$." + identifier(r.name, f"{table.name} field") for r in table.fields]
    }

    def bind(value: Any) -> str:
        params[f"p{len(params)}"] = value
        return f"$p{len(params) - 1}"

    index = {rule.name: i for i, rule in enumerate(table.fields, start=1)}
    value = {name: f"value_{i}" for name, i in index.items()}
    absent = {
        r.name: f"value_{i} is null"
        if _value_read(table, r)
        else f"coalesce(json_{i}, 'null') = 'null'"
        for r, i in ((r, index[r.name]) for r in table.fields)
    }
    not_object = " ".join(f"when {cond} then {bind(reason)}" for cond, reason in _NOT_AN_OBJECT)
    whens = []
    for rule in table.fields:
        if rule.required_for is None:
            continue
        missing = absent[rule.name]
        if rule.required_for:
            kind = value[_rule(table, table.type_field).name]
            missing += f" and list_contains({bind(list(rule.required_for))}, {kind})"
        whens.append((missing, f"missing_field:{rule.name}"))
    for rule in table.fields:
        wrong = _TYPE_INVALID[rule.type].format(i=index[rule.name])
        whens.append((f"not ({absent[rule.name]}) and {wrong}", f"bad_type:{rule.name}"))
    for rule in (r for r in table.fields if r.accepted):
        outside = f"not list_contains({bind(list(rule.accepted))}, {value[rule.name]})"
        whens.append((f"{value[rule.name]} is not null and {outside}", f"bad_value:{rule.name}"))
    if table.event_date_field:
        moment = f"typed_{index[table.event_date_field]}"
        event_date = f"cast(timezone('UTC', {moment}) as date)"
        earliest = bind(dt - timedelta(days=lateness_days))
        whens.append((f"{event_date} < {earliest}", "out_of_window"))
        whens.append((f"{event_date} > {bind(dt)}", "future_event"))
    cases = "\n".join(f"when {cond} then {bind(reason)}" for cond, reason in whens)
    return f"case when not is_object then case {not_object} end\n{cases} end", params


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
