"""A model's window: the output dates a run of lake days start..end rewrites.

The Python twin of macros/window_bounds.sql and macros/window_floor.sql, read from the same
declaration (the model's `meta.window`: lag_days, lead_days and, optionally, lake_day_column);
tests/integration/test_windows.py checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flows.errors import ProjectError
from flows.project.identifiers import identifier


@dataclass(frozen=True)
class Window:
    """Dates [start - lag_days, end + lead_days] of a run of lake days start..end.

    With `lake_day_column`, only the rows of those dates whose lake day (that column) is `start`
    or later: rows an earlier lake day decided are final (the earliest copy of an event wins, so
    a later lake day cannot change them), and neither the build nor publishing rewrites them.
    """

    lag_days: int = 0
    lead_days: int = 0
    lake_day_column: str | None = None

    def bounds(self, start: date, end: date | None = None) -> tuple[date, date]:
        """The first and last output date of a run of lake days start..end (end: start)."""
        last = end or start
        return start - timedelta(days=self.lag_days), last + timedelta(days=self.lead_days)

    def floor(self, start: date) -> tuple[str, date] | None:
        """(column, first lake day) below which a run starting at `start` keeps rows as they are."""
        return (self.lake_day_column, start) if self.lake_day_column else None

    def covers(self, start: date, end: date, day: date) -> bool:
        """Whether output date `day` is rewritten by a run of lake days start..end."""
        first, last = self.bounds(start, end)
        return first <= day <= last


def window_of(what: str, meta: dict[str, Any]) -> Window:
    """The window a node's meta declares (none declared: its own lake day, [D, D])."""
    declared = meta.get("window") or {}
    if not isinstance(declared, dict):
        raise ProjectError(f"{what}: meta window must be a mapping of lag_days and lead_days")
    column = declared.get("lake_day_column")
    if column is not None and not isinstance(column, str):
        raise ProjectError(f"{what}: meta window lake_day_column must be a column name")
    try:
        lag, lead = int(declared.get("lag_days") or 0), int(declared.get("lead_days") or 0)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"{what}: meta window {declared!r} must hold whole numbers") from exc
    return Window(lag, lead, identifier(column, "column") if column else None)
