"""Tables of the read-only commands: where each lake day and step stands, and incidents."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from flows.alerts.incidents import Incident
from flows.alerts.incidents import Status as IncidentStatus
from flows.cli.table_layout import WIDE, Cell, number, seconds, table
from flows.errors import one_line
from flows.state.step_states import StepState


def print_states(states: list[StepState], console: Console | None = None) -> None:
    """Print where each lake day and step stands (each step's time too, on a wide terminal)."""
    console = console or Console()
    wide = console.width >= WIDE
    columns = [("date", Cell.KEY), ("step", Cell.KEY), ("state", Cell.KEY),
               ("tries", Cell.NUMBER)]  # fmt: skip
    columns += [("secs", Cell.NUMBER)] if wide else []
    shown = table("Sluice partitions", [*columns, ("rows out", Cell.NUMBER), ("why", Cell.TEXT)])
    for s in states:
        secs = [seconds(s.latest.seconds if s.latest else None)] if wide else []
        shown.add_row(
            s.dt.isoformat(),
            escape(s.layer),
            s.state,
            str(s.attempts),
            *secs,
            number(s.latest.rows_out if s.latest else None),
            escape(one_line(s.why)),
        )
    console.print(shown)


def _incident_state(incident: Incident) -> str:
    """resolved, or how bad an open one is."""
    if incident.status == IncidentStatus.RESOLVED:
        return incident.status.value
    return incident.severity.value


def print_incidents(incidents: list[Incident], console: Console | None = None) -> None:
    """Print incidents, most recently seen first (when, too, on a wide terminal)."""
    console = console or Console()
    wide = console.width >= WIDE
    columns = [("state", Cell.KEY), ("kind", Cell.KEY), ("date", Cell.KEY), ("step", Cell.KEY),
               ("seen", Cell.NUMBER)]  # fmt: skip
    columns += [("last seen (UTC)", Cell.KEY)] if wide else []
    shown = table("Sluice incidents", [*columns, ("what", Cell.TEXT)])
    for i in incidents:
        last = [f"{i.last_seen:%Y-%m-%d %H:%M:%S}"] if wide else []
        shown.add_row(
            _incident_state(i),
            i.kind.value,
            i.partition.isoformat() if i.partition else "",
            escape(i.layer or ""),
            str(i.count),
            *last,
            escape(one_line(i.what)),
        )
    console.print(shown)
