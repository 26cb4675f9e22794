"""Where the state store lives: a SQLite file (a path), or a PostgreSQL database (a URL).

A URL may carry a password: it is never shown, in errors, logs or reprs; only a URL's scheme is
named when it is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

POSTGRES_SCHEME = "postgresql+psycopg"
_POSTGRES_SCHEMES = (POSTGRES_SCHEME, "postgresql")  # psycopg (3) is the driver either way
_SQLITE_PREFIX = "sqlite:///"
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,30}$")
EXPECTED = (
    "give a path (a SQLite file, the embedded default) or a "
    f"{POSTGRES_SCHEME}://user:password@host:port/database URL (several workers)"
)


@dataclass(frozen=True)
class DatabaseUrl:
    """`postgresql+psycopg://user:password@host:port/database`: a state store several workers
    share. str() and repr() show it with the password masked."""

    url: str = field(repr=False)

    @classmethod
    def parse(cls, value: str) -> DatabaseUrl:
        """Validate a PostgreSQL URL; the error names what is missing, never the URL."""
        scheme, _, rest = value.partition("://")
        if scheme not in _POSTGRES_SCHEMES:
            raise ValueError(f"{_named(scheme)} is not a PostgreSQL URL: {EXPECTED}")
        try:
            parts = urlsplit(f"{POSTGRES_SCHEME}://{rest}")
            _port = parts.port  # ValueError when not a number
        except ValueError:
            raise ValueError(
                f"{scheme}://… is not a valid URL (a password with '/', '#', '?' or '@' must be "
                f"percent-encoded): {EXPECTED}"
            ) from None
        if not parts.path.strip("/") or parts.fragment:
            raise ValueError(f"{scheme}://… names no database: {EXPECTED}")
        return cls(f"{POSTGRES_SCHEME}://{rest}")

    def __str__(self) -> str:
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        login = f"{parts.username}:***@" if parts.username else ":***@"
        host = parts.netloc.rpartition("@")[2]
        return parts._replace(netloc=login + host).geturl()

    def __repr__(self) -> str:
        return f"DatabaseUrl({str(self)!r})"


StateLocation = Path | DatabaseUrl


def _named(scheme: str) -> str:
    """`scheme://…`, when it is a scheme (anything else might be part of a secret)."""
    return f"{scheme}://…" if _SCHEME.match(scheme) else "the URL"


def state_location(value: object) -> object:
    """SLUICE_STATE as given: a PostgreSQL URL becomes a DatabaseUrl, `sqlite:///path` a path,
    any other URL is refused naming only its scheme (it may carry a password)."""
    if not isinstance(value, str) or "://" not in value:
        return value
    path = value[len(_SQLITE_PREFIX) :] if value.startswith(_SQLITE_PREFIX) else ""
    if path.strip("/") and path != ":memory:":
        return Path(path)  # sqlite:////abs/path keeps its root
    scheme = value.split("://", 1)[0]
    if scheme in _POSTGRES_SCHEMES:
        return DatabaseUrl.parse(value)
    raise ValueError(f"{_named(scheme)} is not a state store: {EXPECTED}")
