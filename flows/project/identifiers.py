"""Names that may appear in SQL Sluice writes itself: validated against a whitelist pattern."""

from __future__ import annotations

import hashlib
import json
import re

from flows.errors import ProjectError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# A BigQuery project id: 6-30 lowercase letters, digits and hyphens, starting with a letter.
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def identifier(value: str, what: str) -> str:
    """Return value if it is a safe lowercase SQL identifier, else raise naming it."""
    if not _IDENTIFIER.match(value):
        raise ProjectError(f"{what} {value!r} is not a lowercase identifier ([a-z_][a-z0-9_]*)")
    return value


def project_id(value: str, what: str = "BigQuery project") -> str:
    """Return value if it is a valid BigQuery project id, else raise naming it."""
    if not _PROJECT_ID.match(value):
        raise ProjectError(
            f"{what} {value!r} is not a BigQuery project id (6-30 lowercase letters, digits, "
            "hyphens; starting with a letter)"
        )
    return value


def database_name(value: str) -> str:
    """A relation's database: a DuckDB catalog (an identifier) or a BigQuery project id."""
    if _IDENTIFIER.match(value):
        return value
    return project_id(value, "database")


def digest(value: object) -> str:
    """A short stable digest of a JSON-serialisable value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
