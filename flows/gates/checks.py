"""What a gate found: each check's outcome, a layer's result on one day, the SQL of failing rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from typing import Any

from flows.project.identifiers import identifier


@dataclass(frozen=True)
class Check:
    """One expectation's outcome on one partition; `bounds` is the row count range a volume
    check compared with (low, high), drawn from history (flows/gates/volume.py)."""

    suite: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    observed: Any
    unexpected_count: int | None
    why: str
    expected: str = ""
    bounds: tuple[int, int] | None = None

    @classmethod
    def of_json(cls, values: dict[str, Any]) -> Check:
        """A check as the gate history stored it (keys added since may be missing)."""
        known = {f.name for f in fields(cls)}
        check = cls(**{k: v for k, v in values.items() if k in known})
        bounds = check.bounds
        return replace(check, bounds=(int(bounds[0]), int(bounds[1])) if bounds else None)

    def describe(self) -> str:
        where = f"{self.suite}.{self.column}" if self.column else self.suite
        bad = self.unexpected_count or 0
        expected = f"; {self.expected}" if self.expected else ""
        return f"{where} {self.expectation} (observed {self.observed!r}, {bad} bad rows{expected})"


@dataclass(frozen=True)
class GateResult:
    """A layer's gate on one partition."""

    layer: str
    dt: date
    checks: tuple[Check, ...] = ()
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def blocking(self) -> list[Check]:
        return [c for c in self.checks if not c.success and c.severity == "critical"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if not c.success and c.severity != "critical"]

    @property
    def passed(self) -> bool:
        return not self.blocking

    def refused(self) -> dict[str, str]:
        """Each table a blocking check failed on (suites are named <schema>.<table>), and why."""
        found: dict[str, list[str]] = {}
        for check in self.blocking:
            found.setdefault(check.suite.rsplit(".", 1)[-1], []).append(check.describe())
        return {table: "; ".join(reasons) for table, reasons in found.items()}

    def as_details(self) -> dict[str, Any]:
        return {
            "checks": len(self.checks),
            "blocking": [c.describe() for c in self.blocking],
            "warnings": [c.describe() for c in self.warnings],
        }


_UNIQUE = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


def failing_rows_query(
    config: Any, outcome: dict[str, Any], batch_sql: str, quote: Callable[[str], str]
) -> str | None:
    """SQL for every failing row of the batch, whole (None for a table-level expectation).

    GX's `unexpected_index_query` does not run on a query asset: map expectations inline the
    batch query without parentheses (their condition is kept), uniqueness ones bind `$1` or
    cross-join the batch. The SQL is the same on DuckDB and BigQuery but for `quote` (the
    warehouse's identifier quotes); whole rows also spare BigQuery GX's repeated column names.
    """
    kwargs = config.kwargs
    if "unexpected_rows_query" in kwargs:
        return str(kwargs["unexpected_rows_query"]).replace("{batch}", f"({batch_sql})")
    if config.type in _UNIQUE:
        columns = kwargs.get("column_list") or [kwargs["column"]]
        names = ", ".join(quote(identifier(c, "column")) for c in columns)
        return (
            f"select batch.* from ({batch_sql}) as batch join"
            f" (select {names} from ({batch_sql}) as dup group by {names} having count(*) > 1)"
            f" as dups using ({names})"
        )
    query = outcome.get("unexpected_index_query")
    if not isinstance(query, str):
        return None
    _, found, condition = query.partition(f"FROM {batch_sql} ")
    return f"select batch.* from ({batch_sql}) as batch {condition}" if found else query


def raised(info: Any) -> str:
    """The message of an exception GX reports for an expectation or its metrics ('' if none)."""
    if not isinstance(info, dict):
        return ""
    for entry in [info, *info.values()]:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message") or "the check raised")
    return ""


def plain(value: Any) -> Any:
    """A JSON-friendly version of a value GX or DuckDB returned."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
