"""What every benchmark shares: scale, side-by-side timing, places (lake + warehouse), results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: where results.json and README.md are (the smoke test points it at a copy)
OUT = Path(os.environ.get("BENCH_OUT", str(ROOT / "benchmarks")))
#: lakes, warehouses and Prefect's home for the runs
WORK = Path(os.environ.get("BENCH_WORK", str(ROOT / "target" / "bench")))
#: the dbt project the runs use (the smoke test passes a copy)
PROJECT = Path(os.environ.get("SLUICE_PROJECT_DIR", str(ROOT)))
BENCH_DIR = ROOT / "benchmarks"
RESULTS = OUT / "results.json"
README = OUT / "README.md"
START = date(2026, 1, 1)

#: 1.0 is the size the questions are asked at (1M events a day); `make bench` runs 0.1.
SCALE = float(os.environ.get("BENCH_SCALE", "0.1"))
#: Timed repetitions of each side (after one warm-up run that is left out).
REPS = int(os.environ.get("BENCH_REPS", "3"))

#: name -> (what the figure is, its goal) for the README table.
GOALS: dict[str, tuple[str, str]] = {
    "pipeline_vs_plain_sql": ("Sluice daily run ÷ plain DuckDB SQL, same lake day", "≤ 1.5"),
    "flat_with_history": ("daily run with 365 days of history ÷ with 7 days", "≤ 1.15"),
    "gates_share": ("gate time ÷ build time, same lake day", "≤ 0.25"),
    "publish_share": ("publishing ÷ building, every layer write-audit-publish", "≤ 0.15"),
    "retry_vs_run": ("retry of a failed lake day ÷ running it once", "≤ 1.2"),
    "orchestration_overhead_s": (
        "seconds outside landing, dbt SQL, gates and publishing (numerator)",
        "≤ 1 s",
    ),
    "backfill_batched_vs_serial": ("30-day backfill ÷ 30 daily runs", "≤ 0.67"),
    "bq_max_concurrency": (
        "6-day backfill on the BigQuery emulator, --max-concurrency 3 ÷ 1",
        "none here: the emulator runs one job at a time (BigQuery lands side by side)",
    ),
    "vs_prefect_dbt": (
        "Sluice daily run ÷ PrefectDbtRunner dbt run, same day",
        "price of guarantees",
    ),
    "vs_full_refresh": ("daily incremental run ÷ full refresh of 30 days", "well below 1"),
    "landing_lines_per_s": ("landing ÷ DuckDB read_json alone, same files", "≤ 2.0"),
    "landing_peak_rss": (
        "peak RSS landing a 1M-line day ÷ a 100k-line day, fresh processes",
        "≤ 1,000 MB at 1M (details), flat",
    ),
    "memory": ("peak RSS at 10x the events ÷ peak RSS at 1x", "sub-linear"),
    "pr_check_warm_vs_cold": (
        "`make pr-check` of a one-model change, base cached ÷ no cache",
        "warm ≤ 60 s",
    ),
    "status_vs_help": ("`sluice status` ÷ `sluice --help`, fresh processes", "≤ 2.5"),
    "incidents_vs_help": ("`sluice incidents` ÷ `sluice --help`, fresh processes", "≤ 2.5"),
}


def scaled(events: int, floor: int = 100) -> int:
    """An events-per-day figure at BENCH_SCALE (never below floor)."""
    return max(floor, int(events * SCALE))


def day(offset: int) -> date:
    """The benchmark lake's day number `offset` (0-based)."""
    return START + timedelta(days=offset)


def offline_environment() -> None:
    """Telemetry off and Prefect quiet, with its home under the work folder."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # the temporary Prefect server starts slowly when other work shares the cores
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_HOME", str(WORK / "prefect"))
    os.environ.setdefault("SLUICE_PROJECT_DIR", str(ROOT))


# --- lakes and places -------------------------------------------------------------------------


def lake(days: int, events_per_day: int, *, start: date = START) -> Path:
    """A generated sample lake, cached under target/bench (the generator is deterministic)."""
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec

    path = WORK / "lakes" / f"{start}-{days}d-{events_per_day}e"
    done = path / "_bench_complete"
    if not done.exists():
        began = time.perf_counter()
        generate_lake(
            path, LakeSpec(start=start, days=days, events_per_day=events_per_day, seed=42)
        )
        done.write_text("")
        log(f"generated {path.name} in {time.perf_counter() - began:.1f} s")
    return path


@dataclass(frozen=True)
class Place:
    """A lake with its own warehouse and state store; activate() points Sluice at it."""

    root: Path
    lake: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def state(self) -> Path:
        return self.root / "state.sqlite"

    def activate(self) -> Any:
        """Point this process's Sluice settings at the place; return them."""
        from flows.settings import get_settings

        os.environ["SLUICE_LAKE"] = str(self.lake)
        os.environ["SLUICE_DUCKDB"] = str(self.warehouse)
        os.environ["SLUICE_STATE"] = str(self.state)
        get_settings.cache_clear()
        return get_settings()

    def env(self) -> dict[str, str]:
        """The environment of a `sluice` subprocess working on this place."""
        return {
            **os.environ,
            "SLUICE_LAKE": str(self.lake),
            "SLUICE_DUCKDB": str(self.warehouse),
            "SLUICE_STATE": str(self.state),
        }


def fresh_place(name: str, lake_path: Path) -> Place:
    """An empty warehouse and state store for a lake (rebuilt on every benchmark run)."""
    import shutil

    root = WORK / "places" / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return Place(root, lake_path)


def main_place(name: str) -> tuple[Place, date]:
    """The daily-run setting: 7 lake days built, day 8 (1M events times BENCH_SCALE) to time.

    The 7 days are built once per `make bench` (which empties target/bench/places) and copied.
    """

    lake_path = lake(8, scaled(1_000_000))
    template = Place(WORK / "places" / f"_main-{lake_path.name}", lake_path)
    if not (template.root / "_bench_complete").exists():
        fresh_place(template.root.name, lake_path).activate()
        backfill(day(0), day(6))
        (template.root / "_bench_complete").write_text("")
    place = fresh_place(name, template.lake)
    copy_warehouse(template, place)
    place.activate()
    return place, day(7)


def copy_warehouse(source: Place, dest: Place) -> None:
    """A consistent copy of a place's warehouse and state store (bound to each other).

    This process may still hold the warehouse open (dbt keeps its DuckDB environment): the
    checkpoint writes its WAL into the file first, or the copy would miss the last writes.
    """
    import shutil
    import sqlite3
    from contextlib import closing

    import duckdb

    con = duckdb.connect(str(source.warehouse))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    shutil.copy2(source.warehouse, dest.warehouse)
    with (
        closing(sqlite3.connect(source.state)) as src,
        closing(sqlite3.connect(dest.state)) as dst,
    ):
        src.backup(dst)


# --- running Sluice in this process ---------------------------------------------------------


def fail_at_landing(place: Place, dt: date) -> None:
    """Run lake day dt while its events/_SUCCESS is hidden (landing refuses it), then restore it."""
    from flows.errors import PartitionsFailed

    marker = place.lake / "events" / f"dt={dt.isoformat()}" / "_SUCCESS"
    hidden = marker.with_name("_SUCCESS.hidden")
    marker.rename(hidden)
    try:
        daily(dt)
    except PartitionsFailed:
        pass
    else:
        raise AssertionError(f"{dt} did not fail without its _SUCCESS")
    finally:
        hidden.rename(marker)


def daily(dt: date) -> Any:
    """The `daily` flow for one lake day (the same flow `sluice run --date` calls)."""
    from flows.pipeline import prefect_flows as pipeline

    return pipeline.daily(dt)


def backfill(first: date, last: date, *, force: bool = False) -> Any:
    """The `backfill` flow (the same flow `sluice backfill` calls)."""
    from flows.pipeline import prefect_flows as pipeline

    return pipeline.backfill(first, last, force=force)


def attempts_of(dt: date, run_id: str) -> list[Any]:
    """The ledger's attempts of one lake day in one run (from the active place)."""
    from flows.settings import get_settings
    from flows.state.ledger import Ledger
    from flows.state.store import StateStore

    ledger = Ledger(StateStore(get_settings().state))
    return [a for a in ledger.attempts(dt, dt) if a.run_id == run_id]


# --- timing ---------------------------------------------------------------------------------


def side_by_side(
    sides: dict[str, Callable[[], Any]],
    reps: int = REPS,
    warmup: int = 1,
    setups: dict[str, Callable[[], Any]] | None = None,
) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """Time each side `reps` times, interleaved (order alternating), after `warmup` runs each.

    A side's setup (untimed) runs before each of its runs. Returns the raw seconds per side
    and what each timed call returned.
    """
    names = list(sides)
    setups = setups or {}
    for _ in range(warmup):
        for name in names:
            setups.get(name, _nothing)()
            sides[name]()
    seconds: dict[str, list[float]] = {n: [] for n in names}
    returned: dict[str, list[Any]] = {n: [] for n in names}
    for rep in range(reps):
        for name in names if rep % 2 == 0 else reversed(names):
            setups.get(name, _nothing)()
            began = time.perf_counter()
            value = sides[name]()
            seconds[name].append(round(time.perf_counter() - began, 4))
            returned[name].append(value)
        log(f"rep {rep + 1}/{reps}: " + ", ".join(f"{n} {seconds[n][-1]:.2f} s" for n in names))
    return seconds, returned


def _nothing() -> None:
    return None


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


# --- results --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gb = 0.0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory_gb = round(kb / 1024 / 1024, 1)
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
    }


def record(
    name: str,
    numerator: list[float],
    denominator: list[float],
    details: dict[str, Any],
    *,
    ratio: float | None = None,
) -> dict[str, Any]:
    """Write one figure into results.json (raw timings kept) and regenerate the README table."""
    num, den = median(numerator), median(denominator)
    entry = {
        "ratio": round(ratio if ratio is not None else num / den, 4),
        "numerator_s": num,
        "denominator_s": den,
        "details": {
            **details,
            "numerator_runs_s": numerator,
            "denominator_runs_s": denominator,
            "scale": SCALE,
            "repetitions": len(numerator),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            # the machine is shared: its 1-minute load average when the figure was recorded
            "load_average": round(os.getloadavg()[0], 2),
            "machine": machine(),
        },
    }
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[name] = entry
    RESULTS.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    write_readme(results)
    log(f"{name}: ratio {entry['ratio']} ({num} s ÷ {den} s), goal {GOALS[name][1]}")
    return entry


_TABLE_START = "<!-- results: regenerated by benchmarks/harness.py -->"
_TABLE_END = "<!-- end of results -->"


def _table(results: dict[str, Any]) -> str:
    rows = [
        "| name | what | ratio | numerator (s) | denominator (s) | goal | scale | reps "
        "| load | measured |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in GOALS:
        entry = results.get(name)
        what, goal = GOALS[name]
        if entry is None:
            rows.append(f"| `{name}` | {what} | not run | | | {goal} | | | | |")
            continue
        d = entry["details"]
        rows.append(
            f"| `{name}` | {what} | **{entry['ratio']}** | {entry['numerator_s']} | "
            f"{entry['denominator_s']} | {goal} | {d.get('scale')} | {d.get('repetitions')} | "
            f"{d.get('load_average', '')} | {d.get('measured_at')} |"
        )
    machines: dict[str, list[str]] = {}
    for name, e in results.items():
        machines.setdefault(json.dumps(e["details"].get("machine"), sort_keys=True), []).append(
            name
        )
    lines = [_TABLE_START, ""]
    for m, names in sorted(machines.items(), key=lambda item: -len(item[1])):
        info = json.loads(m) or {}
        which = "" if len(machines) == 1 else f" ({', '.join(f'`{n}`' for n in sorted(names))})"
        if len(machines) > 1 and m == max(machines, key=lambda k: len(machines[k])):
            which = " (the other rows)"
        lines.append(
            f"Machine{which}: {info.get('cpu')}, {info.get('cores')} cores, "
            f"{info.get('memory_gb')} GB, Python {info.get('python')}, {info.get('os')}."
        )
    lines += ["", *rows, "", _TABLE_END]
    return "\n".join(lines)


def write_readme(results: dict[str, Any]) -> None:
    """Replace the results table between the README's markers."""
    text = README.read_text()
    head, _, rest = text.partition(_TABLE_START)
    _, _, tail = rest.partition(_TABLE_END)
    README.write_text(head + _table(results) + tail)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextmanager
def prefect_server() -> Iterator[None]:
    """A Prefect server on 127.0.0.1 (a free port) for the runs, unless PREFECT_API_URL is set.

    Like `make serve`: flows then talk to one long-lived server instead of each process
    starting a temporary one (which times out when the cores are busy).
    """
    import socket

    from flows.ops import server

    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    local = server.Local.at(Path(os.environ["PREFECT_HOME"]), port)
    began = time.perf_counter()
    process = server.start_server(local, WORK / "prefect-server.log")
    try:
        server.wait_healthy(local, process, timeout=300)
        log(f"Prefect server on {local.api_url} in {time.perf_counter() - began:.1f} s")
        os.environ["PREFECT_API_URL"] = local.api_url
        os.environ["PREFECT_API_AUTH_STRING"] = local.auth
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        os.environ.pop("PREFECT_API_AUTH_STRING", None)
        server.stop(process)


@contextmanager
def question(name: str) -> Iterator[None]:
    """Announce a benchmark, give it a Prefect server, and report its wall time."""
    offline_environment()
    WORK.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    # a script may time fewer repetitions than BENCH_REPS: results.json records its own count
    log(f"{name}: BENCH_SCALE={SCALE}, BENCH_REPS={REPS}")
    from flows.cli.environment import without_heartbeats

    with prefect_server(), without_heartbeats():  # as `sluice run` does
        yield
    log(f"{name}: done in {time.perf_counter() - began:.1f} s")
