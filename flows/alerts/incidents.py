"""Incidents: one record for every kind of trouble, deduplicated and resolved in the state store.

A problem (a failed step, a blocked gate, a missed SLA, a stale source) opens an incident keyed by
(kind, partition, layer, what). While it is open, the same problem only grows its count and
last_seen; the notifier hears once when it opens and once when it is resolved.
`python -m flows.ops.incidents` prints the JSON schema committed as schemas/incident.v1.json.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from flows.dates import Clock, utc_now
from flows.errors import one_line, transient_text
from flows.project.manifest import RAW_LAYER, Project
from flows.state.ledger import Attempt, Reason
from flows.state.ledger import Status as StepStatus
from flows.state.store import StateStore

log = logging.getLogger("sluice.incidents")
SCHEMA_ID = "https://sluice.dev/schemas/incident.v1.json"
# Failures that only follow from another day's incident: that incident is the one to fix.
CONSEQUENCES = (Reason.WINDOW_BLOCKED, Reason.NOT_PUBLISHED, Reason.ABANDONED)
_OBSERVED = re.compile(r" \(observed .*$")
_BATCH = re.compile(r"for partition \d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}")


class Kind(StrEnum):
    """What sort of trouble an incident is."""

    STEP_FAILED = "step_failed"
    GATE_BLOCKED = "gate_blocked"
    SLA_MISSED = "sla_missed"
    SOURCE_STALE = "source_stale"


class Severity(StrEnum):
    """critical: someone must act; warning: worth knowing (e.g. a transient failure)."""

    WARNING = "warning"
    CRITICAL = "critical"


class Status(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Links(BaseModel):
    """Where to look: the Prefect flow run and the Data Docs page, when they exist."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_serialization_defaults_required=True
    )

    flow_run: str | None = Field(default=None, description="Prefect UI page of the flow run")
    data_docs: str | None = Field(default=None, description="Great Expectations Data Docs page")


class Incident(BaseModel):
    """One problem on one partition (or one flow), as stored and as sent to every sink."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        title="Sluice incident",
        json_schema_serialization_defaults_required=True,
    )

    version: Annotated[Literal[1], Field(description="schema version")] = 1
    id: str = Field(description="stable id of this incident (unique per opening)")
    kind: Kind
    severity: Severity
    status: Status
    partition: date | None = Field(description="lake day (UTC); null for a flow-level failure")
    layer: str | None = Field(description="step: raw, then each dbt layer; null for a flow")
    what: str = Field(description="what failed: model(s), expectation(s), source or flow")
    error_class: str | None = None
    error_message: str | None = None
    run_id: str | None = Field(default=None, description="the run that saw it last")
    links: Links = Links()
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    count: int = Field(ge=1, description="how many times the problem was seen while open")

    @property
    def title(self) -> str:
        """One line for subjects, chat messages and logs."""
        where = "".join(f" {p}" for p in (self.layer, self.partition) if p)
        verb = "resolved" if self.status == Status.RESOLVED else self.severity.value
        return f"[{verb}] {self.kind.value}{where}: {one_line(self.what)}"

    @property
    def error_line(self) -> str:
        """The error in one line (`<class>: <message>`; the store keeps the whole message)."""
        if not self.error_message:
            return ""
        return f"{self.error_class or 'error'}: {one_line(self.error_message)}"


@dataclass(frozen=True)
class Problem:
    """What a detector saw; Incidents turns it into a new or a repeated incident."""

    kind: Kind
    severity: Severity
    partition: date | None
    layer: str | None
    what: str
    error_class: str | None = None
    error_message: str | None = None
    run_id: str | None = None

    @property
    def key(self) -> str:
        return "|".join((self.kind, str(self.partition or ""), self.layer or "", self.what))


class Notifier(Protocol):
    def notify(self, incident: Incident) -> object: ...


def incident_schema() -> dict[str, Any]:
    """The JSON schema of an incident notification (what schemas/incident.v1.json holds)."""
    schema = Incident.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def flow_run_url(run_id: str | None) -> str | None:
    """The Prefect UI page of a flow run, when a Prefect API is configured and the id is one."""
    api = os.environ.get("PREFECT_UI_URL") or os.environ.get("PREFECT_API_URL")
    if not api or not run_id:
        return None
    try:
        uuid.UUID(run_id)
    except ValueError:
        return None
    return f"{api.rstrip('/').removesuffix('/api')}/runs/flow-run/{run_id}"


def _row(row: Any) -> Incident:
    values = dict(row)  # a row of the state store, by column
    values.pop("dedup_key")
    return Incident.model_validate({**values, "links": json.loads(row["links"])})


class Incidents:
    """Opens, refreshes, resolves and lists incidents; tells the notifier about changes."""

    def __init__(
        self,
        store: StateStore,
        notifier: Notifier | None = None,
        clock: Clock = utc_now,
        data_docs: Path | None = None,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.data_docs = data_docs

    def _links(self, problem: Problem) -> Links:
        """The flow run page; for a blocked gate, the Data Docs index its run writes at its end
        (`<data_docs>/<run id>/index.html`, see Gates.build_docs)."""
        docs = None
        if problem.kind == Kind.GATE_BLOCKED and self.data_docs and problem.run_id:
            docs = self.data_docs / problem.run_id / "index.html"
        return Links(
            flow_run=flow_run_url(problem.run_id),
            data_docs=docs.as_uri() if docs else None,
        )

    def open(self, problem: Problem) -> Incident:
        """Open an incident, or count one more sighting of the same open one (no notification)."""
        now = self.clock()
        values = {
            "kind": problem.kind.value,
            "severity": problem.severity.value,
            "partition": problem.partition.isoformat() if problem.partition else None,
            "layer": problem.layer,
            "what": problem.what,
            "error_class": problem.error_class,
            "error_message": problem.error_message,
            "run_id": problem.run_id,
            "links": self._links(problem).model_dump_json(),
            "now": now.isoformat(),
            "key": problem.key,
        }
        with self.store.transaction() as con:
            updated = con.execute(
                """update incidents set count = count + 1, last_seen = :now, run_id = :run_id,
                    error_class = :error_class, error_message = :error_message, links = :links,
                    severity = case when :severity = 'critical' then :severity else severity end
                where dedup_key = :key and status = 'open'""",
                values,
            ).rowcount
            if not updated:
                con.execute(
                    """insert into incidents (id, dedup_key, kind, severity, status, partition,
                        layer, what, error_class, error_message, run_id, links, first_seen,
                        last_seen, count)
                    values (:id, :key, :kind, :severity, 'open', :partition, :layer, :what,
                        :error_class, :error_message, :run_id, :links, :now, :now, 1)""",
                    {**values, "id": uuid.uuid4().hex},
                )
            row = con.execute(
                "select * from incidents where dedup_key = :key and status = 'open'", values
            ).fetchone()
        incident = _row(row)
        if not updated:
            self._tell(incident)
        return incident

    def resolve(
        self,
        partition: date | None,
        layer: str | None,
        *,
        kinds: tuple[Kind, ...] = tuple(Kind),
        what: str | None = None,
    ) -> list[Incident]:
        """Resolve the open incidents of a partition and layer; one notification each."""
        place: dict[str, object] = {
            "partition": partition.isoformat() if partition else None,
            "layer": layer,
        }
        candidates = [
            incident
            for incident in map(
                _row,
                self.store.read(
                    """select * from incidents where status = 'open'
                    and partition is not distinct from :partition
                    and layer is not distinct from :layer order by first_seen""",
                    place,
                ),
            )
            if incident.kind in kinds and what in (None, incident.what)
        ]
        if not candidates:
            return []  # the common case (a step succeeded, nothing was wrong): no write
        now = self.clock()
        found = []
        with self.store.transaction() as con:
            for incident in candidates:
                closed = con.execute(
                    """update incidents set status = 'resolved', resolved_at = :now
                    where id = :id and status = 'open'""",
                    {"now": now.isoformat(), "id": incident.id},
                ).rowcount
                if closed:  # not resolved meanwhile by another process
                    changes = {"status": Status.RESOLVED, "resolved_at": now}
                    found.append(incident.model_copy(update=changes))
        for incident in found:
            self._tell(incident)
        return found

    def _tell(self, incident: Incident) -> None:
        if self.notifier is not None:
            self.notifier.notify(incident)

    def history(self, *, open_only: bool = False) -> list[Incident]:
        """Incidents, most recently seen first."""
        rows = self.store.read(
            "select * from incidents where status = 'open' or not :open_only"
            " order by last_seen desc, first_seen desc",
            {"open_only": open_only},
        )
        return [_row(row) for row in rows]

    def observer(self, project: Project) -> Callable[[Attempt], None]:
        """The ledger's hook: a finished attempt opens, refreshes or resolves incidents."""

        def observe(attempt: Attempt) -> None:
            try:
                if attempt.status == StepStatus.SUCCEEDED:
                    self.resolve(attempt.dt, attempt.layer)
                    return
                problem = attempt_problem(attempt, partial(what_failed, project))
                if problem is not None:
                    self.open(problem)
            except Exception:  # the step's own outcome is recorded: never fail it for this
                log.exception("could not record the incident of %s %s", attempt.layer, attempt.dt)

        return observe


def what_failed(project: Project, layer: str, message: str) -> str:
    """The lake tables or models an error message names (else the step itself)."""
    if layer == RAW_LAYER:
        tables = project.lake_tables
        found = [f"{t.source}.{t.name}" for t in tables if f"/{t.lake_path}/dt=" in message]
        return ", ".join(found) or "landing"
    found = [m for m in project.models_in(layer) if re.search(rf"(?<!\w){re.escape(m)}: ", message)]
    return ", ".join(found) or f"dbt layer {layer}"


def attempt_problem(attempt: Attempt, names: Callable[[str, str], str]) -> Problem | None:
    """The problem a failed or blocked attempt shows (None for consequences of another day's)."""
    if attempt.error_class in CONSEQUENCES:
        return None
    if attempt.status not in (StepStatus.FAILED, StepStatus.BLOCKED):
        return None
    if _BATCH.search(attempt.error_message or ""):
        return None  # a failed batch of days is always re-run day by day: those attempts tell
    message = attempt.error_message or ""
    if attempt.status == StepStatus.BLOCKED:
        blocking = (attempt.details.get("gate") or {}).get("blocking") or [message]
        what = "; ".join(sorted({_OBSERVED.sub("", str(check)) for check in blocking}))
        kind, severity = Kind.GATE_BLOCKED, Severity.CRITICAL
    else:
        what = names(attempt.layer, message)
        kind = Kind.STEP_FAILED
        transient = attempt.error_class == "TransientStepFailure" or transient_text(message)
        severity = Severity.WARNING if transient else Severity.CRITICAL
    return Problem(
        kind,
        severity,
        attempt.dt,
        attempt.layer,
        what,
        attempt.error_class,
        message,
        attempt.run_id,
    )


def main() -> None:
    """Print the incident JSON schema (redirect it to schemas/incident.v1.json)."""
    print(json.dumps(incident_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
