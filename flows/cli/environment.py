"""The process environment of a `sluice` command: tools offline, Sluice's state under ./data."""

from __future__ import annotations

import atexit
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

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


def prepare_process() -> None:
    """The offline defaults, and an end without the interpreter's last garbage collections.

    Those collections walk every object dbt, Great Expectations and Prefect left: 1.7 s at the
    end of each flow command on a quiet 2-core machine, 4 s on a busy one, after all its work
    and output. Freezing the heap skips them: registered before any other exit handler of the
    command, this runs after them all (the temporary server's stop, Prefect's and logging's
    flushes); the memory goes back with the process, and a DuckDB file's commits are already
    in its WAL.
    """
    apply_offline_defaults()
    atexit.register(gc.freeze)


@contextmanager
def without_heartbeats() -> Iterator[None]:
    """Flow runs in this process send Prefect no heartbeats, unless a setting asks for them.

    Heartbeats let Prefect's zombie detection see a flow run die; Sluice sees that already (the
    warehouse lease and the watchdog). They cost each flow run its end: Prefect joins the
    heartbeat thread, which sleeps a second at a time (0.77 s over a warm daily run's two
    joins). A deployment's runs, started by Prefect's worker, keep Prefect's own setting.
    """
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    if "heartbeat_frequency" in get_current_settings().flows.model_fields_set:
        yield  # PREFECT_FLOWS_HEARTBEAT_FREQUENCY (or a profile) chose
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
