"""The `sluice` command: validate options, call the flows, print one clear line on error."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from flows.dates import parse_date
from flows.errors import SluiceError
from flows.offline import apply_offline_defaults


def _date(value: str) -> date:
    try:
        return parse_date(value)
    except SluiceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="sluice", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    lake = commands.add_parser("lake", help="work with the lake").add_subparsers(
        dest="lake_command", required=True
    )
    generate = lake.add_parser("generate", help="write a deterministic sample lake")
    generate.add_argument("--out", type=Path, help="lake folder (default: $SLUICE_LAKE)")
    generate.add_argument("--start", type=_date, required=True, help="first day, YYYY-MM-DD")
    generate.add_argument("--days", type=_positive, default=7)
    generate.add_argument("--events-per-day", type=_positive, default=10_000)
    generate.add_argument("--seed", type=int, default=42)

    run = commands.add_parser("run", help="process one lake day end to end")
    run.add_argument("--date", type=_date, required=True, help="lake day, YYYY-MM-DD")

    backfill = commands.add_parser("backfill", help="process a range of lake days")
    backfill.add_argument("--start", type=_date, required=True)
    backfill.add_argument("--end", type=_date, required=True)
    return parser


def _generate(args: argparse.Namespace) -> int:
    from flows.sample_lake import LakeSpec, generate_lake
    from flows.settings import get_settings

    out = (args.out or get_settings().lake).resolve()
    try:
        spec = LakeSpec(
            start=args.start, days=args.days, events_per_day=args.events_per_day, seed=args.seed
        )
    except ValueError as exc:
        raise SluiceError(f"sluice lake generate: {exc}") from exc
    if out.exists() and not out.is_dir():
        raise SluiceError(f"sluice lake generate: --out {out} exists and is not a folder")
    began = time.perf_counter()
    try:
        days = generate_lake(out, spec)
    except OSError as exc:
        raise SluiceError(f"sluice lake generate: cannot write the lake to {out}: {exc}") from exc
    print(
        f"wrote {len(days)} lake days ({days[0]}..{days[-1]}) to {out} "
        f"in {time.perf_counter() - began:.1f} s"
    )
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    from flows import pipeline, report

    if args.command == "run":
        result = pipeline.daily(args.date)
    else:
        result = pipeline.backfill(args.start, args.end)
    report.print_summary(result.summary, result.seconds)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sluice` console script."""
    apply_offline_defaults()
    args = build_parser().parse_args(argv)
    try:
        if args.command == "lake":
            return _generate(args)
        return _pipeline(args)
    except SluiceError as exc:
        print(f"sluice: error: {exc}", file=sys.stderr)
        return 1
