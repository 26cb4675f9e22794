"""Crash anywhere, re-run, same warehouse: the second chunk of the kill schedule.

See test_crash_safety.py: a module of its own so `--dist loadfile` can run it on another
worker; the session's baseline is shared (built once across workers).
"""

from __future__ import annotations

from pathlib import Path

from tests.crash_soak import Baseline, soak


def test_sigkill_anywhere_then_rerun_gives_the_clean_warehouse_second_chunk(
    crash_baseline: Baseline, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    soak(crash_baseline, 1, tmp_path / "crashed", str(PREFECT_API_URL.value()))
