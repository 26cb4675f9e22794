"""The sample lake's truth: what the generator delivered, counted per lake day and event date.

The generator reports every line it writes to a `TruthLedger`; the ledger writes
`_truth/dt=D.json` so tests can assert exact counts without re-deriving them.
Days are passed as indexes from the lake's first day (0 = start) to keep the hot path cheap.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

EVENT_TYPES = ("search", "impression", "click", "apply", "ab_exposure")
PLATFORMS = ("ios", "android", "web")
DUMP_TABLES = ("users", "companies", "jobs", "applications", "ab_patterns")
OUT_OF_WINDOW = "out_of_window"
_KPI_NAMES = (
    ("search", "searches"),
    ("impression", "impressions"),
    ("click", "clicks"),
    ("apply", "applies"),
)


@dataclass
class _LakeDayCounts:
    """Line counts of one lake day's event files."""

    lines: int = 0
    valid_lines: int = 0
    duplicate_lines: int = 0
    late_lines: int = 0
    too_late_lines: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    # (event day, event type) -> distinct valid events delivered this lake day
    by_date: Counter[tuple[int, str]] = field(default_factory=Counter)
    dump_rows: dict[str, int] = field(default_factory=dict)


@dataclass
class _DateKpis:
    """Platform KPIs of one event date, over its events that reached the lake in time."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    users: dict[str, set[str]] = field(default_factory=lambda: {p: set() for p in PLATFORMS})


class TruthLedger:
    """Accumulates the truth of a lake of `days` lake days starting at `start`."""

    def __init__(self, start: date, days: int) -> None:
        self._start = start
        self._lake = [_LakeDayCounts() for _ in range(days)]
        self._kpis = [_DateKpis() for _ in range(days)]

    def record_event(
        self, event_day: int, event_type: str, user_id: str, platform: str, day: int, copy_day: int
    ) -> None:
        """A valid event delivered on `day`, with its duplicate on `copy_day` (-1: none)."""
        if day >= len(self._lake):
            return  # delivered after the last lake day: not in the lake
        self._valid_line(event_day, event_type, day)
        if 0 <= copy_day < len(self._lake):
            copy = self._lake[copy_day]
            copy.duplicate_lines += 1
            copy.lines += 1
            copy.valid_lines += 1
            copy.late_lines += copy_day > event_day
            if copy_day != day:
                copy.by_date[event_day, event_type] += 1
        kpis = self._kpis[event_day]
        kpis.counts[platform, event_type] += 1
        kpis.users[platform].add(user_id)

    def _valid_line(self, event_day: int, event_type: str, day: int) -> None:
        counts = self._lake[day]
        counts.lines += 1
        counts.valid_lines += 1
        counts.late_lines += day > event_day
        counts.by_date[event_day, event_type] += 1

    def record_too_late(self, day: int) -> None:
        """An event delivered after the lateness window (landing: out_of_window)."""
        if day < len(self._lake):
            counts = self._lake[day]
            counts.lines += 1
            counts.too_late_lines += 1
            counts.quarantined[OUT_OF_WINDOW] += 1

    def record_malformed(self, day: int, reason: str) -> None:
        """A junk line landing quarantines with `reason`."""
        counts = self._lake[day]
        counts.lines += 1
        counts.quarantined[reason] += 1

    def record_dumps(self, day: int, rows: dict[str, int]) -> None:
        """Row counts of the day's dump tables."""
        self._lake[day].dump_rows = dict(rows)

    def event_lines(self, day: int) -> int:
        """Event lines (valid or too late, duplicates included) delivered on `day` so far."""
        return self._lake[day].lines

    def truth(self, day: int) -> dict[str, object]:
        """The truth document of lake day `day`."""
        counts = self._lake[day]
        return {
            "dt": self._iso(day),
            "lake": {
                "events": {
                    "lines": counts.lines,
                    "valid_lines": counts.valid_lines,
                    "quarantined": dict(counts.quarantined),
                    "duplicate_lines": counts.duplicate_lines,
                    "late_lines": counts.late_lines,
                    "too_late_lines": counts.too_late_lines,
                },
                "dumps": {table: {"rows": counts.dump_rows.get(table, 0)} for table in DUMP_TABLES},
            },
            "events_by_date": self._events_by_date(counts),
            "daily_kpis": self._daily_kpis(day),
        }

    def write(self, out: Path, day: int) -> Path:
        """Write `_truth/dt=D.json` (sorted keys, indent 2) and return its path."""
        path = out / "_truth" / f"dt={self._iso(day)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.truth(day), sort_keys=True, indent=2) + "\n")
        return path

    def _events_by_date(self, counts: _LakeDayCounts) -> dict[str, dict[str, int]]:
        by_date: dict[str, dict[str, int]] = {}
        for event_day in sorted({event_day for event_day, _ in counts.by_date}):
            by_date[self._iso(event_day)] = {t: counts.by_date[event_day, t] for t in EVENT_TYPES}
        return by_date

    def _daily_kpis(self, event_day: int) -> dict[str, dict[str, int]]:
        kpis = self._kpis[event_day]
        result: dict[str, dict[str, int]] = {}
        for platform in PLATFORMS:
            row = {name: kpis.counts[platform, t] for t, name in _KPI_NAMES}
            row["active_users"] = len(kpis.users[platform])
            result[platform] = row
        return result

    def _iso(self, day: int) -> str:
        return (self._start + timedelta(days=day)).isoformat()
