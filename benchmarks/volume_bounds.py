"""How well the volume gate tells a broken delivery from an ordinary day, against the rule before.

A 120-day sample lake with the generator's weekly pattern and holidays is generated; each lake
day's event lines (the raw.events partition the gate counts) come from its truth file. Some
ordinary days (not holidays, after the first four weeks) get 35 % or 60 % of their lines
removed. Both rules then judge the days in order, each learning from the history it would have:
- now: flows/gates/volume.py (same weekday, median ± robust spread, passed days only, holidays
  left out, a coarse band in the first weeks);
- before: 0.5..2 x the median of the last 7 checked days, blocked days included, no blocking
  with fewer than 3 days.
Printed: false blocks (an untouched day stopped) and drops caught, per rule; with --json, the
same as JSON. `python -m benchmarks.volume_bounds [--days 120] [--events 3000]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from statistics import median

from flows.gates.volume import VolumeRule
from flows.sample.lake import generate_lake
from flows.sample.spec import LakeSpec
from flows.settings import DEFAULT_HOLIDAYS, holiday_dates

START = date(2026, 11, 2)  # a Monday; 120 days reach past the year-end holidays
DROPS = (0.35, 0.60)


@dataclass(frozen=True)
class Verdicts:
    """What one rule did over the lake."""

    false_blocks: list[date]
    caught: dict[float, int]
    injected: dict[float, int]


def lake_lines(days: int, events: int, seed: int) -> dict[date, int]:
    """Event lines per lake day of a generated lake (its truth files)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        spec = LakeSpec(start=START, days=days, events_per_day=events, seed=seed)
        generate_lake(root, spec)
        return {
            START + timedelta(days=i): json.loads(
                (root / "_truth" / f"dt={START + timedelta(days=i)}.json").read_text()
            )["lake"]["events"]["lines"]
            for i in range(days)
        }


def injections(lines: dict[date, int], holidays: frozenset[date]) -> dict[date, float]:
    """Every fifth ordinary day after the first four weeks loses 35 % or 60 % of its lines."""
    ordinary = [d for d in sorted(lines) if d >= START + timedelta(days=28) and d not in holidays]
    return {day: DROPS[n % 2] for n, day in enumerate(ordinary[::5])}


def judge_now(
    lines: dict[date, int], drops: dict[date, float], holidays: frozenset[date]
) -> Verdicts:
    rule = VolumeRule.of({})
    history: dict[date, int] = {}
    blocked = []
    for day in sorted(lines):
        count = int(lines[day] * (1 - drops.get(day, 0)))
        stop, _ = rule.bounds(day, history, holidays)
        if stop.low <= count <= stop.high:
            history[day] = count  # only passed days are learned from
        else:
            blocked.append(day)
    return _verdicts(blocked, drops)


def judge_before(lines: dict[date, int], drops: dict[date, float]) -> Verdicts:
    checked: list[int] = []
    blocked = []
    for day in sorted(lines):
        count = int(lines[day] * (1 - drops.get(day, 0)))
        recent = checked[-7:]
        if len(recent) >= 3:
            middle = median(recent)
            if not middle * 0.5 <= count <= middle * 2 + 1:
                blocked.append(day)
        checked.append(count)  # blocked days were history too
    return _verdicts(blocked, drops)


def _verdicts(blocked: list[date], drops: dict[date, float]) -> Verdicts:
    return Verdicts(
        false_blocks=[d for d in blocked if d not in drops],
        caught={drop: sum(1 for d in blocked if drops.get(d) == drop) for drop in DROPS},
        injected={drop: sum(1 for v in drops.values() if v == drop) for drop in DROPS},
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.volume_bounds")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lines = lake_lines(args.days, args.events, args.seed)
    years = range(START.year, START.year + 2)
    holidays = holiday_dates(DEFAULT_HOLIDAYS, years)
    drops = injections(lines, holidays)
    results = {"now": judge_now(lines, drops, holidays), "before": judge_before(lines, drops)}
    summary = {
        name: {
            "false_blocks": len(v.false_blocks),
            "false_block_days": [d.isoformat() for d in v.false_blocks],
            **{f"caught_{int(d * 100)}pct": f"{v.caught[d]}/{v.injected[d]}" for d in DROPS},
        }
        for name, v in results.items()
    }
    in_lake = sorted(d.isoformat() for d in holidays if d in lines)
    weekend = median(n for d, n in lines.items() if d.weekday() >= 5 and d not in holidays)
    weekday = median(n for d, n in lines.items() if d.weekday() < 5 and d not in holidays)
    facts = {"days": args.days, "events_per_day": args.events, "holidays": in_lake}
    facts["weekend_over_weekday"] = round(weekend / weekday, 3)
    if args.json:
        print(json.dumps({"lake": facts, "rules": summary}, indent=2))
        return
    print(f"lake: {facts}")
    for name, found in summary.items():
        print(f"{name:>6}: {found}")


if __name__ == "__main__":
    main()
