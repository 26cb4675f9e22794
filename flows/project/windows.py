"""A model's window: the output dates a run of lake days start..end rewrites.

The Python twin of macros/window_bounds.sql, read from the same declaration (the model's
`meta.window`: lag_days, lead_days); tests/integration/test_windows.py checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flows.errors import ProjectError


@dataclass(frozen=True)
class Window:
    """Dates [start - lag_days, end + lead_days] of a run of lake days start..end."""

    lag_days: int = 0
    lead_days: int = 0

    def bounds(self, start: date, end: date | None = None) -> tuple[date, date]:
        """The first and last output date of a run of lake days start..end (end: start)."""
        last = end or start
        return start - timedelta(days=self.lag_days), last + timedelta(days=self.lead_days)

    def covers(self, start: date, end: date, day: date) -> bool:
        """Whether output date `day` is rewritten by a run of lake days start..end."""
        first, last = self.bounds(start, end)
        return first <= day <= last


def window_of(what: str, meta: dict[str, Any]) -> Window:
    """The window a node's meta declares (none declared: its own lake day, [D, D])."""
    declared = meta.get("window") or {}
    if not isinstance(declared, dict):
        raise ProjectError(f"{what}: meta window must be a mapping of lag_days and lead_days")
    try:
        return Window(int(declared.get("lag_days") or 0), int(declared.get("lead_days") or 0))
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"{what}: meta window {declared!r} must hold whole numbers") from exc
