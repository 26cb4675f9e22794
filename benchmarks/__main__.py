"""`python -m benchmarks [bench_NAME ...]`: every bench_*.py (or those named) in its own
process, sharing one Prefect server."""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks import harness

#: the daily-run questions first (they share one built warehouse), the long ones last;
#: vs_full_refresh reuses the warehouse the batched backfill built
FIRST = (
    "bench_pipeline_vs_plain_sql",
    "bench_orchestration_overhead",
    "bench_gates_share",
    "bench_publish_share",
    "bench_vs_prefect_dbt",
    "bench_retry_vs_run",
    "bench_landing",
    "bench_memory",
    "bench_backfill_batched_vs_serial",
    "bench_vs_full_refresh",
    "bench_flat_with_history",
)


def scripts_to_run(names: list[str]) -> list[str]:
    """The bench_*.py scripts named (all without names), in running order; ValueError naming
    any name that is not one."""
    found = sorted(p.stem for p in harness.BENCH_DIR.glob("bench_*.py"))
    unknown = [name for name in names if name not in found]
    if unknown:
        raise ValueError(f"no such benchmark: {', '.join(unknown)} (known: {', '.join(found)})")
    ordered = [s for s in FIRST if s in found] + [s for s in found if s not in FIRST]
    return [s for s in ordered if s in names] if names else ordered


def main(names: list[str]) -> int:
    try:
        scripts = scripts_to_run(names)
    except ValueError as exc:
        harness.log(str(exc))
        return 2
    harness.offline_environment()
    harness.WORK.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    failed = []
    with harness.prefect_server():
        for script in scripts:
            done = subprocess.run([sys.executable, "-m", f"benchmarks.{script}"], check=False)
            if done.returncode != 0:
                failed.append(script)
    harness.log(
        f"all benchmarks: {time.perf_counter() - began:.0f} s wall at BENCH_SCALE={harness.SCALE}"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
