"""pr_check_warm_vs_cold: `make pr-check` of a one-model change with the base build cached ÷
without any cache (base exported, parsed, built and traced from scratch).

Both sides run `python -m tools.pr_check` in a process of its own on a copy of the project
committed in a scratch repository, changing one expression of `daily_kpis` (a different one
each time, so the PR side's lineage is always recomputed). The cold side runs once (it is the
cache the warm runs use); the warm side `BENCH_REPS` times. The goal is the warm figure.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import harness

NAME = "pr_check_warm_vs_cold"
COPIED = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests/dbt", "expectations")
KPIS = "models/marts/kpi/daily_kpis.sql"
ORIGINAL = "ratio('clicks', 'impressions')"


def _git(repo: Path, *args: str) -> None:
    command = ["git", "-c", "user.name=bench", "-c", "user.email=bench@sluice.invalid", *args]
    subprocess.run(command, cwd=repo, check=True, capture_output=True)


def _repository() -> Path:
    repo = harness.WORK / "pr-check-repo"
    shutil.rmtree(repo, ignore_errors=True)
    for name in (*COPIED, ".sqlfluff", ".sqlfluffignore"):
        source = harness.PROJECT / name
        if source.is_dir():
            shutil.copytree(source, repo / name)
        else:
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    (repo / ".gitignore").write_text("target/\nlogs/\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    return repo


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _check(repo: Path, variant: int, cpu: list[float]) -> float:
    """One PR check of a one-expression change of daily_kpis; its wall seconds (its CPU
    seconds, all its processes, appended to `cpu`)."""
    path = repo / KPIS
    original = path.read_text()
    path.write_text(original.replace(ORIGINAL, f"ratio('clicks', 'impressions + {variant}')", 1))
    began, used = time.perf_counter(), _cpu()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tools.pr_check", "--project-dir", str(repo), "--base", "main"],
            cwd=harness.ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.write_text(original)
    seconds = round(time.perf_counter() - began, 2)
    cpu.append(round(_cpu() - used, 2))
    if done.returncode != 0:
        raise SystemExit(f"{NAME}: pr-check failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    harness.log(f"{NAME}: variant {variant}: {seconds} s wall, {cpu[-1]} s CPU")
    return seconds


def main() -> None:
    harness.offline_environment()
    harness.WORK.mkdir(parents=True, exist_ok=True)
    repo = _repository()
    cold_cpu: list[float] = []
    warm_cpu: list[float] = []
    cold = [_check(repo, 1, cold_cpu)]
    warm = [_check(repo, 2 + n, warm_cpu) for n in range(harness.REPS)]
    review = (repo / "target" / "pr-review.md").read_text()
    harness.record(
        NAME,
        warm,
        cold,
        {
            "change": f"{KPIS}: {ORIGINAL} -> ratio('clicks', 'impressions + N')",
            "warm": "base exported, parsed, built and traced once before (cached by commit)",
            "cold": "target/pr-check of the scratch repository empty",
            "timing_line": review.strip().splitlines()[-1],
            # CPU seconds of every process of a run: what a shared machine's load stretches
            "cold_cpu_s": cold_cpu,
            "warm_cpu_s": warm_cpu,
        },
    )


if __name__ == "__main__":
    main()
