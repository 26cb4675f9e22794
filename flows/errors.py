"""The Sluice exception tree; every error names what failed and where.

SluiceError
├── InputError                  bad parameter or bad lake input: fix the input, do not retry
│   ├── InvalidParameter        a CLI option or flow parameter (date, range, path, identifier)
│   ├── PartitionIncomplete     a lake partition without its _SUCCESS marker, or missing
│   └── UnreadableFile          a lake file the warehouse cannot read (corrupt gzip, bad parquet)
├── ProjectError                the dbt project cannot be parsed or is inconsistent
└── StepFailed                  a pipeline step (landing, a dbt layer) failed for a partition
    └── TransientStepFailure    the same, but worth retrying (lock contention, I/O hiccup)
"""

from __future__ import annotations


class SluiceError(Exception):
    """Base class: a message a user can act on."""


class InputError(SluiceError):
    """Bad input; retrying will not help."""


class InvalidParameter(InputError):
    """A parameter failed validation."""


class PartitionIncomplete(InputError):
    """A lake partition is missing or has no _SUCCESS marker."""


class UnreadableFile(InputError):
    """A lake file could not be read."""


class ProjectError(SluiceError):
    """The dbt project is broken or inconsistent."""


class StepFailed(SluiceError):
    """A pipeline step failed for one partition."""

    def __init__(self, step: str, partition: str, message: str) -> None:
        super().__init__(f"{step} failed for partition {partition}: {message}")
        self.step = step
        self.partition = partition


class TransientStepFailure(StepFailed):
    """A step failure that a retry may cure."""
