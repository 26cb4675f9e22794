"""Crash anywhere, re-run, same warehouse: SIGKILL the real CLI at seeded points, then recover.

The schedule of kills is dealt into two chunks (tests/crash_soak.py), this module's and
test_crash_safety_second_chunk.py's, so that `--dist loadfile` can run them side by side;
they share one baseline (the clean run's census and tables) per test session.
"""

from __future__ import annotations

from pathlib import Path

from flows.settings import PROJECT_DIR
from tests.crash_soak import CHUNKS, KILLS, SEED, Baseline, chunk, soak
from tests.faults import schedule


def test_sigkill_anywhere_then_rerun_gives_the_clean_warehouse(
    crash_baseline: Baseline, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    soak(crash_baseline, 0, tmp_path / "crashed", str(PREFECT_API_URL.value()))


def test_every_scheduled_kill_is_in_exactly_one_chunk_and_make_soak_runs_every_chunk(
    crash_baseline: Baseline,
) -> None:
    kills = schedule(SEED, KILLS, crash_baseline.census)
    dealt = [kill for index in range(CHUNKS) for kill in chunk(kills, index)]
    assert sorted(dealt, key=repr) == sorted(kills, key=repr) and len(dealt) == len(kills)
    chunks = sorted(p.name for p in Path(__file__).parent.glob("test_crash_safety*.py"))
    assert len(chunks) == CHUNKS, chunks
    soak_target = (PROJECT_DIR / "Makefile").read_text().split("\nsoak:", 1)[1].split("\n\n")[0]
    assert all(f"tests/integration/{name}" in soak_target for name in chunks), soak_target
