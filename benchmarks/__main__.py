"""`python -m benchmarks`: every bench_*.py in its own process, sharing one Prefect server."""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks import harness


def main() -> int:
    harness.offline_environment()
    harness.WORK.mkdir(parents=True, exist_ok=True)
    scripts = sorted(p.stem for p in harness.BENCH_DIR.glob("bench_*.py"))
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
    sys.exit(main())
