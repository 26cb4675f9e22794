"""Fault injection for tests: run the real `sluice` CLI in a subprocess and SIGKILL it mid-step.

Nothing in flows/ knows about this. A kill point is a function (file suffix, qualified name)
and an event (`call`: on entry; `return`: just after it finished). Arming installs a profile
hook in every thread (sys.setprofile / threading.setprofile) that counts entries of the point
and sends SIGKILL to its own process on the n-th one. A census run counts every point instead,
so a schedule can draw n from what a real run does.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (file suffix, qualified name, event): where a kill can land, by the part of the pipeline.
KILL_POINTS: dict[str, tuple[str, str, str]] = {
    # inside landing's transaction, between two raw tables
    "landing": ("flows/warehouse/duckdb_landing.py", "_land_table", "call"),
    # every SQL statement dbt sends: model builds, incremental deletes/inserts, publishing
    "dbt statement": ("dbt/adapters/sql/connections.py", "SQLConnectionManager.add_query", "call"),
    # a quality gate validating a suite
    "gate": ("flows/gates/runner.py", "Gates._validate", "call"),
    # ledger writes: before the attempt row exists, and after it closed but before the caller saw
    "ledger start": ("flows/state/ledger.py", "Ledger.start", "call"),
    "ledger finish": ("flows/state/ledger.py", "Ledger.finish", "return"),
    # write-audit-publish: copying a published layer's windows (publish or restore)
    "publish": ("flows/warehouse/duckdb_publish.py", "publish_tables", "call"),
}

_ARMED = """
import sys
sys.path.insert(0, {tests_parent!r})
from tests.faults import arm
arm({spec!r})
from flows.cli.main import main
code = main({argv!r})
from tests.faults import write_census
write_census()
sys.exit(code)
"""


@dataclass(frozen=True)
class Kill:
    """Kill the process the n-th time `point` is reached."""

    point: str
    n: int


@dataclass(frozen=True)
class Outcome:
    """How one CLI process ended."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


_state: dict[str, Any] = {}


def arm(spec: dict[str, Any]) -> None:
    """Install the profile hook in this process (called first thing in the subprocess)."""
    import threading

    points = {name: KILL_POINTS[name] for name in spec["points"]}
    by_name = {qual.rsplit(".", 1)[-1]: [] for _, qual, _ in points.values()}
    for name, (suffix, qual, event) in points.items():
        by_name[qual.rsplit(".", 1)[-1]].append((name, suffix, qual, event))
    counts = dict.fromkeys(points, 0)
    kill_point, kill_n = spec.get("kill") or (None, 0)
    _state.update(counts=counts, census=spec.get("census"))

    def hook(frame: Any, event: str, _arg: Any) -> None:
        if event != "call" and event != "return":
            return
        code = frame.f_code
        candidates = by_name.get(code.co_name)
        if candidates is None:
            return
        for name, suffix, qual, wanted in candidates:
            if wanted == event and code.co_qualname == qual and code.co_filename.endswith(suffix):
                counts[name] += 1
                if name == kill_point and counts[name] == kill_n:
                    os.kill(os.getpid(), signal.SIGKILL)

    threading.setprofile(hook)
    sys.setprofile(hook)


def write_census() -> None:
    """In a census run, write how often each point was reached."""
    sys.setprofile(None)
    if _state.get("census"):
        Path(_state["census"]).write_text(json.dumps(_state["counts"]))


def run_cli(
    argv: list[str],
    env: dict[str, str],
    *,
    kill: Kill | None = None,
    census: Path | None = None,
    timeout: float = 900,
) -> Outcome:
    """Run `sluice argv` in a fresh Python process, armed with a kill or counting points."""
    spec = {
        "points": list(KILL_POINTS),
        "kill": [kill.point, kill.n] if kill else None,
        "census": str(census) if census else None,
    }
    code = _ARMED.format(
        tests_parent=str(Path(__file__).resolve().parent.parent), spec=spec, argv=argv
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Outcome(tuple(argv), done.returncode, done.stdout, done.stderr)


def schedule(seed: int, kills: int, census: dict[str, int]) -> list[Kill]:
    """A seeded list of kills, cycling over every point a run reaches (n drawn per point)."""
    rng = random.Random(seed)
    reached = sorted(name for name, count in census.items() if count > 0)
    order: list[str] = []
    while len(order) < kills:
        batch = reached[:]
        rng.shuffle(batch)
        order.extend(batch)
    return [Kill(point, rng.randint(1, census[point])) for point in order[:kills]]
