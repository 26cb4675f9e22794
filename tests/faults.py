"""Fault injection for tests: run the real `sluice` CLI in a subprocess and SIGKILL it mid-step.

Nothing in flows/ knows about this. A kill point is a function (file suffix, qualified name)
and an event (`call`: on entry; `return`: just after it finished, raising or not). Arming
imports the function's module and replaces the function on its module or class with a wrapper
(before the CLI imports anything that could hold the function itself) that counts the point in
any thread and sends SIGKILL to its own process on the n-th time. A census run counts every
point instead, so a schedule can draw n from what a real run does. (A profile hook on every
call, sys.setprofile, did the same but made each armed run about half again as slow.)
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
    """Wrap every kill point in this process (called first thing in the subprocess)."""
    import functools
    import importlib
    import threading

    from flows.cli.environment import apply_offline_defaults

    apply_offline_defaults()  # as the CLI does before it imports prefect (the points' modules do)
    counts = dict.fromkeys(spec["points"], 0)
    kill_point, kill_n = spec.get("kill") or (None, 0)
    _state.update(counts=counts, census=spec.get("census"))
    lock = threading.Lock()

    def reached(name: str) -> None:
        with lock:
            counts[name] += 1
            if name == kill_point and counts[name] == kill_n:
                os.kill(os.getpid(), signal.SIGKILL)

    for name in spec["points"]:
        suffix, qual, event = KILL_POINTS[name]
        owner: Any = importlib.import_module(suffix.removesuffix(".py").replace("/", "."))
        *outer, attr = qual.split(".")
        for part in outer:
            owner = getattr(owner, part)
        original = vars(owner)[attr]
        code = original.__code__
        assert code.co_qualname == qual and code.co_filename.endswith(suffix), (name, code)
        wrapper = _wrapped(original, functools.partial(reached, name), event)
        setattr(owner, attr, wrapper)
        # a module imported while importing the point's own may hold the function already
        for module in list(sys.modules.values()):
            for key, value in list(getattr(module, "__dict__", {}).items()):
                if value is original:
                    setattr(module, key, wrapper)


def _wrapped(original: Any, reached: Any, event: str) -> Any:
    """original, calling reached() on entry (`call`) or once it has returned or raised."""
    import functools

    if event == "call":

        @functools.wraps(original)
        def on_call(*args: Any, **kwargs: Any) -> Any:
            reached()
            return original(*args, **kwargs)

        return on_call

    @functools.wraps(original)
    def on_return(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        finally:
            reached()

    return on_return


def write_census() -> None:
    """In a census run, write how often each point was reached."""
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
