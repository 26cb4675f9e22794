"""What a flow run did: each lake day's attempts and error, and a per-layer summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from flows.state.ledger import Attempt, Status


@dataclass
class PartitionRun:
    """What happened to one lake day in this run."""

    dt: date
    attempts: list[Attempt] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    stopped: bool = False  # a step failed: the day's later steps do not run

    @property
    def succeeded(self) -> bool:
        return self.error is None

    def record(self, attempt: Attempt) -> None:
        """Add an attempt; one that did not succeed is the day's error. A blocked step
        published what passed, so the day's later steps still run (its blocked models are
        left out there); a failed one stops the day."""
        self.attempts.append(attempt)
        if attempt.status != Status.SUCCEEDED:
            self.error = f"{attempt.layer} {attempt.status}: {attempt.error_message}"
            self.stopped = self.stopped or attempt.status != Status.BLOCKED

    def fail(self, layer: str, exc: BaseException) -> None:
        """A step raised: the day stops."""
        self.error, self.stopped = f"{layer}: {exc}", True


@dataclass(frozen=True)
class LayerSummary:
    """One line of the summary: a step's partitions, rows now in its tables, lines quarantined."""

    layer: str
    partitions: int
    rows: int
    quarantined: int
    seconds: float


@dataclass(frozen=True)
class RunReport:
    """What a flow run did: each partition and a per-layer summary."""

    run_id: str
    runs: list[PartitionRun]
    summary: list[LayerSummary]
    seconds: float
    data_docs: Path | None = None

    @property
    def failed(self) -> list[PartitionRun]:
        return [r for r in self.runs if not r.succeeded]
