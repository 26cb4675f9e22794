"""BigQuery's logical size of stored values, the bytes on-demand queries are billed for, as SQL.

The rules (cloud.google.com/bigquery/pricing, "Data size calculation"): INT64, FLOAT64, DATE,
DATETIME, TIME and TIMESTAMP 8 bytes; NUMERIC 16, BIGNUMERIC 32, INTERVAL 16; BOOL 1; STRING
and BYTES 2 + their UTF-8 / byte length; JSON the UTF-8 length of its canonical text; NULL 0.
DuckDB's types are sized as the BigQuery types the project's models become there (VARCHAR is
STRING, DECIMAL is NUMERIC, BIGINT and INTEGER are INT64, ...), so an estimate made on DuckDB
speaks of what BigQuery would bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

_FIXED = {
    **dict.fromkeys(
        ("INT64", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"),
        8,
    ),
    **dict.fromkeys(("FLOAT64", "FLOAT", "DOUBLE", "REAL"), 8),
    **dict.fromkeys(("DATE", "DATETIME", "TIME", "TIMESTAMP", "TIMESTAMPTZ"), 8),
    **dict.fromkeys(("TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS"), 8),
    **dict.fromkeys(("NUMERIC", "DECIMAL", "INTERVAL"), 16),
    "BIGNUMERIC": 32,
    **dict.fromkeys(("BOOL", "BOOLEAN"), 1),
}
_TEXT = ("STRING", "VARCHAR", "TEXT", "BYTES", "BLOB")
TIB = 1024**4
_SHOWN = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
TEXT_OVERHEAD = 2  # bytes BigQuery adds to every non-null STRING or BYTES value


class Dialect(StrEnum):
    DUCKDB = "duckdb"
    BIGQUERY = "bigquery"


# One aggregate per column kind: the column's logical bytes over the rows of a group. `{c}` is
# the column, quoted by the warehouse after identifier() validated it.
_SUM_SQL = {
    Dialect.DUCKDB: {
        "text": "coalesce(sum(2 + strlen(cast({c} as varchar))), 0)",
        "json": "coalesce(sum(strlen(cast({c} as varchar))), 0)",
    },
    Dialect.BIGQUERY: {
        "text": "coalesce(sum(2 + byte_length({c})), 0)",
        "json": "coalesce(sum(byte_length(to_json_string({c}))), 0)",
    },
}
_FIXED_SQL = "count({c}) * {n}"


def base_type(type_name: str) -> str:
    """A type's name without parameters, upper case (DECIMAL(28,6) -> DECIMAL)."""
    return type_name.split("(", 1)[0].split("<", 1)[0].strip().upper()


def fixed_size(type_name: str) -> int | None:
    """The bytes of one non-null value of a fixed-size type (None: sized by its content)."""
    return _FIXED.get(base_type(type_name))


def value_size(type_name: str, value: object) -> int:
    """BigQuery's logical bytes of one value of a column of type `type_name` (tests and
    hand checks use it; the warehouses compute the same in SQL)."""
    if value is None:
        return 0
    fixed = fixed_size(type_name)
    if fixed is not None:
        return fixed
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
    overhead = TEXT_OVERHEAD if base_type(type_name) in _TEXT else 0
    return overhead + len(raw)


def size_sql(dialect: Dialect, type_name: str, quoted: str) -> str:
    """The aggregate that sums the logical bytes of column `quoted` (already quoted) of type
    `type_name` over a group's rows; a type without a fixed size that is not text is sized as
    its text, like JSON."""
    fixed = fixed_size(type_name)
    if fixed is not None:
        return _FIXED_SQL.format(c=quoted, n=int(fixed))
    kind = "text" if base_type(type_name) in _TEXT else "json"
    return _SUM_SQL[dialect][kind].format(c=quoted)


@dataclass(frozen=True)
class Sizes:
    """The rows of a relation's date (or of the whole relation) and the logical bytes of each
    column asked for."""

    rows: int
    columns: dict[str, int]

    def bytes_of(self, columns: frozenset[str]) -> int:
        """The logical bytes of `columns` (those asked for) in these rows."""
        return sum(size for name, size in self.columns.items() if name in columns)


# Sizes per date of a date-partitioned relation; one entry under None for a whole relation.
SizesByDate = dict[date | None, Sizes]


def human_bytes(count: float) -> str:
    """`count` bytes in binary units with three significant digits (1.23 GiB, 512 B)."""
    value, unit = float(count), 0
    while abs(value) >= 1024 and unit < len(_SHOWN) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.3g} {_SHOWN[unit]}"
