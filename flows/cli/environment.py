"""The process environment of a `sluice` command: tools offline, Sluice's state under ./data."""

from __future__ import annotations

import os

from flows.settings import PROJECT_DIR

OFFLINE_ENV = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_HOME": str(PROJECT_DIR / "data" / "prefect"),
    "PREFECT_LOGGING_LEVEL": "INFO",
    # Prefect's temporary server migrates a new database before it answers: on a fresh, busy
    # 2-core machine that outlasts Prefect's default of 20 s (STACK-NOTES, December 2026).
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def apply_offline_defaults() -> None:
    """Set each default unless the caller already chose a value (call before importing prefect)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
