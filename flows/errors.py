"""The Sluice exception tree; every error names what failed and where.

SluiceError
├── InputError                  bad parameter or bad lake input: fix the input, do not retry
│   ├── InvalidParameter        a CLI option or flow parameter (date, range, path, identifier)
│   ├── PartitionIncomplete     a lake partition without its _SUCCESS marker, or missing
│   ├── UnreadableFile          a lake file the warehouse cannot read (corrupt gzip, bad parquet)
│   └── StateMismatch           the state store belongs to another warehouse
├── ProjectError                the dbt project cannot be parsed or is inconsistent
├── OpsPublishFailed            the state store could not be published to the ops dataset
├── LockHeld                    another run holds the lock (names the holder and its lease)
├── LockLost                    a run lost a lock it held: it stops before it publishes
├── WarehouseBusy               another process holds the warehouse (transient)
└── StepFailed                  a pipeline step (landing, a dbt layer) failed for a partition
    └── TransientStepFailure    the same, but worth retrying (lock contention, I/O hiccup)
"""

from __future__ import annotations

import errno
from typing import Any

_TRANSIENT_TEXT = (
    "could not set lock",
    "database is locked",
    "resource temporarily unavailable",
    "connection reset",
    "timed out",
    "503 service unavailable",
    "500 internal error",
    "429 too many requests",
)
_TRANSIENT_ERRNO = (errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ECONNRESET)
_TRANSIENT_CLASSES = ("ServerError", "TooManyRequests", "ServiceUnavailable", "InternalServerError")


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


class OpsPublishFailed(SluiceError):
    """Publishing the state store to the BigQuery ops dataset failed; the message says where."""


class LockHeld(SluiceError):
    """Another run holds the lock; the message names the holder and its lease."""


class WarehouseBusy(SluiceError):
    """Another process holds the warehouse (a DuckDB file has one writer); worth retrying."""


class StateMismatch(InputError):
    """The state store belongs to another warehouse: its ledger does not describe this one."""


class LockLost(SluiceError):
    """A run no longer holds a lock it took (its lease was taken over): it must not publish."""


class StepFailed(SluiceError):
    """A pipeline step failed for one partition."""

    def __init__(self, step: str, partition: str, message: str) -> None:
        super().__init__(f"{step} failed for partition {partition}: {message}")
        self.step = step
        self.partition = partition


class TransientStepFailure(StepFailed):
    """A step failure that a retry may cure."""


class PartitionsFailed(SluiceError):
    """Some partitions of a flow run failed; the others completed."""

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its class name if it has none): for one-line output."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def transient_text(message: str) -> bool:
    """True when an error message describes contention or a passing I/O or service fault."""
    lowered = message.lower()
    return any(pattern in lowered for pattern in _TRANSIENT_TEXT)


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may cure this error; bad input, bad SQL and failed gates never are."""
    if isinstance(exc, TransientStepFailure | WarehouseBusy):
        return True
    if isinstance(exc, SluiceError):
        return False
    if type(exc).__name__ in _TRANSIENT_CLASSES:
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNO:
        return True
    return transient_text(str(exc))


def step_failure(step: str, partition: str, message: str) -> StepFailed:
    """A StepFailed, transient when its message says so (e.g. a lock held by another process)."""
    kind = TransientStepFailure if transient_text(message) else StepFailed
    return kind(step, partition, message)
