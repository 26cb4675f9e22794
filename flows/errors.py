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
├── PlanOverBudget              a backfill's plan reads more bytes than max_bytes allows
└── StepFailed                  a pipeline step (landing, a dbt layer) failed for a partition
    └── TransientStepFailure    the same, but worth retrying (lock contention, I/O hiccup)
"""

from __future__ import annotations

import errno
import re
from typing import Any

_TRANSIENT_TEXT = (
    "could not set lock",
    "is locked by another process",  # the same, as one_line words it
    "database is locked",
    "resource temporarily unavailable",
    "connection reset",
    "timed out",
    "503 service unavailable",
    "500 internal error",
    "429 too many requests",
    # concurrent DML on one table: BigQuery's words, then the emulator's (DuckDB's conflict)
    "could not serialize access",
    "transactioncontext error: conflict",
    # concurrent DDL: two lake days creating one audit table at once on the emulator
    "catalog write-write conflict",
)
_TRANSIENT_ERRNO = (errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ECONNRESET)
_TRANSIENT_CLASSES = ("ServerError", "TooManyRequests", "ServiceUnavailable", "InternalServerError")
# PostgreSQL (a shared state store; psycopg's errors carry `sqlstate`): a serialization failure,
# a deadlock, a lost connection (class 08), a server shutting down, too many connections.
_TRANSIENT_SQLSTATE = ("40001", "40P01", "08", "57P01", "57P02", "57P03", "53300")


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


class PlanOverBudget(SluiceError):
    """A backfill's plan would read more bytes than its budget (max_bytes): nothing ran."""


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


# DuckDB: IO Error: Could not set lock on file "<path>": Conflicting lock is held in <program>
# (PID <n>)[ by user <u>]. See also https://duckdb.org/docs/...
_LOCKED = re.compile(
    r"(?:IO Error: )?Could not set lock on file \"(?P<file>[^\"]+)\": Conflicting lock is held in "
    r"(?P<program>.+?) \(PID (?P<pid>\d+)\)(?: by user \S+)?\.?(?: See also \S+)?"
)
# dbt: "<Kind> Error in model <name> (<path>)" then the detail, indented, on the next lines.
_DBT_NODE = re.compile(
    r"(?:(?P<prefix>[\w.]+): )?(?P<kind>[A-Z]\w*(?: \w+)?) Error in "
    r"(?P<type>model|test|seed|snapshot|unit_test|sql operation) (?P<name>[\w.]+) \([^)\n]*\)"
)
_CONTRACT_ROW = re.compile(r"^\|\s*(\S+)\s*\|\s*(.*?)\s*\|\s*(.*?)\s*\|\s*(.+?)\s*\|$")
# Block.describe (flows/pipeline/blocking.py): "<model> reads <relation> refused on <day>
# (<layer>): <reason>", joined by "; " per blocked model; a reason may nest another block.
_BLOCK = re.compile(
    r"(?P<model>[\w.]+) (?P<verb>reads|would rewrite dates of) (?P<name>[\w.]+) refused on "
    r"(?P<day>\d{4}-\d{2}-\d{2}) \((?P<layer>[\w-]+)\): "
)
_NESTED = ("WindowBlocked: ", "not published: ")
_NEXT_CHECK = re.compile(r"; (?=[\w.]+ \w+ \(observed )")  # Check.describe()s joined by "; "
ONE_LINE_LIMIT = 300


def _unlocked(text: str) -> str:
    """DuckDB's lock error as which file, held by what, and what to do."""
    return _LOCKED.sub(
        lambda m: (
            f"the DuckDB file {m['file']} is locked by another process ({m['program']}, PID "
            f"{m['pid']}; a run writes it, see sluice status): let it finish or stop it, then retry"
        ),
        text,
    )


def _contract(body: str) -> str:
    """dbt's contract mismatch table as `column: expected X, found Y` parts, mismatches first."""
    parts: list[tuple[int, str]] = []
    for line in body.splitlines():
        row = _CONTRACT_ROW.match(line.strip())
        if not row or row[1] == "column_name" or set(row[1]) == {"-"}:
            continue
        column, found, expected, why = row.groups()
        if why == "data type mismatch":
            parts.append((0, f"{column}: expected {expected}, found {found}"))
        elif why == "missing in contract":
            parts.append((1, f"{column}: {found} in the SQL, not in the contract"))
        else:
            parts.append((2, f"{column}: {expected} in the contract, missing from the SQL"))
    found_parts = [text for _, text in sorted(parts)] or ["see the dbt log"]
    return " breaks its contract: " + "; ".join(found_parts)


def _dbt_detail(body: str) -> str:
    """What a dbt node error says is wrong (not its macro stack), to follow the node's name."""
    if "enforced contract that failed" in body:
        return _contract(body)
    if "enforced contract, and its 'columns' specification is missing" in body:
        return " has an enforced contract but no columns in its YAML"
    lines = [line.strip() for line in body.splitlines()]
    useful = [line for line in lines if line and not line.startswith((">", "compiled code at"))]
    return f": {useful[0]}" if useful else " failed"


def _dbt_nodes(text: str) -> str:
    """dbt's multi-line node errors, each as `<type> <name>: <what is wrong>`."""
    found = list(_DBT_NODE.finditer(text))
    if not found:
        return text
    pieces = [text[: found[0].start()]]
    for node, following in zip(found, [*found[1:], None], strict=True):
        body = text[node.end() : following.start() if following else len(text)]
        detail = _dbt_detail(body.removesuffix("; ").rstrip("; \n"))
        pieces.append(f"{node['type']} {node['name']}{detail}")
    return pieces[0] + "; ".join(pieces[1:])


def _root_cause(reason: str) -> str:
    """The refusals a chain of blocks goes through, and the first check of the last one."""
    chain = ""
    while reason.startswith(_NESTED):
        nested = _BLOCK.search(reason)
        if nested is None:
            break
        chain += f", which reads {nested['name']} refused on {nested['day']} ({nested['layer']})"
        reason = reason[nested.end() :]
    checks = _NEXT_CHECK.split(reason)
    more = f" (+{len(checks) - 1} more)" if len(checks) > 1 else ""
    return f"{chain}: {checks[0]}{more}"


def _blocks(text: str) -> str:
    """Blocked models grouped by the refusal they read: each refusal and its cause once."""
    top = [m for m in _BLOCK.finditer(text) if not text[: m.start()].endswith(_NESTED)]
    if not top:
        return text
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    causes: dict[tuple[str, str, str, str], str] = {}
    for block, following in zip(top, [*top[1:], None], strict=True):
        key = (str(block["verb"]), str(block["name"]), str(block["day"]), str(block["layer"]))
        reason = text[block.end() : following.start() if following else len(text)]
        groups.setdefault(key, []).append(block["model"])
        causes.setdefault(key, _root_cause(reason.removesuffix("; ")))
    parts = []
    for key, models in groups.items():
        said, name, day, layer = key
        verb = "read" if said == "reads" and len(models) > 1 else said
        parts.append(f"{', '.join(models)} {verb} {name} refused on {day} ({layer}){causes[key]}")
    return text[: top[0].start()] + "; ".join(parts)


def one_line(error: BaseException | str, limit: int = ONE_LINE_LIMIT) -> str:
    """Any error, or an error message, as one line for the terminal and notifications.

    dbt's node errors keep their model and what dbt says is wrong (a contract's columns,
    expected and found); DuckDB's lock error names the file, its holder and what to do; a
    blocked day's reasons name each refusal once. The ledger and the log keep the full text.
    """
    text = str(error).strip() if isinstance(error, BaseException) else error.strip()
    if not text:
        return type(error).__name__ if isinstance(error, BaseException) else ""
    text = _blocks(_dbt_nodes(_unlocked(text)))
    text = " ".join(text.split())
    return text if len(text) <= limit else _cut_middle(text, limit)


def _cut_middle(text: str, limit: int) -> str:
    """The text in `limit` characters: its head and its tail around " … ".

    An error says what failed first and what to do last, so the cut falls in between.
    """
    tail = (limit - 3) // 3
    head = limit - 3 - tail
    return f"{text[:head].rstrip():<{head}} … {text[-tail:].lstrip():>{tail}}"


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
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATE):
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
