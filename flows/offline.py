"""Process environment defaults that keep every tool offline and Sluice's state under ./data."""

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
}


def apply_offline_defaults() -> None:
    """Set each default unless the caller already chose a value (call before importing prefect)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
