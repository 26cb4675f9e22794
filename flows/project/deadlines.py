"""Deadlines in the project: meta `sluice.deadline: "HH:MM Area/City"` of models, lake tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flows.errors import ProjectError


@dataclass(frozen=True)
class Deadline:
    """When a layer's models or a lake table must be ready.

    Partition D is due at the first HH:MM (local time of Zone) after UTC day D has ended.
    """

    layer: str
    what: str
    spec: str
    at: time
    zone: ZoneInfo

    def due(self, day: date) -> datetime:
        """The moment (UTC) partition `day` must be ready."""
        closed = datetime.combine(day + timedelta(days=1), time(), UTC).astimezone(self.zone)
        moment = datetime.combine(closed.date(), self.at, self.zone)
        if moment < closed:
            moment = datetime.combine(closed.date() + timedelta(days=1), self.at, self.zone)
        return moment.astimezone(UTC)


def parse_deadline(layer: str, what: str, spec: object) -> Deadline:
    """A Deadline from its meta text, or a ProjectError naming the model or source."""
    try:
        clock, zone = str(spec).split()
        return Deadline(layer, what, str(spec), time.fromisoformat(clock), ZoneInfo(zone))
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ProjectError(
            f"{what}: meta sluice.deadline {spec!r} must be 'HH:MM Area/City'"
            f" (e.g. '12:00 Asia/Tokyo'): {exc}"
        ) from exc
