"""The `sluice` command's options: every subcommand and argument, validated as they are parsed."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from flows.dates import parse_date
from flows.errors import SluiceError
from flows.settings import parse_bytes


def _date(value: str) -> date:
    try:
        return parse_date(value)
    except SluiceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _port(value: str) -> int:
    port = _positive(value)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port (1-65535), got {value!r}")
    return port


def _positive(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def _byte_count(value: str) -> int:
    try:
        return parse_bytes(value, "--max-bytes")
    except SluiceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="sluice", description=description)
    parser.add_argument(
        "--debug", action="store_true", help="show an error's traceback (or SLUICE_DEBUG=1)"
    )
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
    run.add_argument("--date", type=_date, help="lake day (default: the last complete one)")

    backfill = commands.add_parser(
        "backfill", help="plan, then run the lake days of a range that are missing, failed or stale"
    )
    backfill.add_argument("--start", type=_date, required=True)
    backfill.add_argument("--end", type=_date, required=True)
    backfill.add_argument("--force", action="store_true", help="run every day, even if up to date")
    backfill.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    backfill.add_argument(
        "--max-concurrency",
        type=_positive,
        default=1,
        help="lake days landed at once on BigQuery (their dbt steps take turns); "
        "refused on DuckDB (one writer)",
    )
    backfill.add_argument(
        "--max-bytes",
        type=_byte_count,
        default=None,
        help="refuse the plan, before any job runs, when its models would read more bytes "
        "(BigQuery on demand; e.g. 500GB, 1TiB; default: setting max_bytes)",
    )

    retry = commands.add_parser("retry", help="re-run failed or blocked lake days")
    retry.add_argument("--start", type=_date)
    retry.add_argument("--end", type=_date)

    accept = commands.add_parser(
        "accept",
        help="accept a lake day's step despite its checks: it stops blocking the days that read "
        "it, and publishes on its next run (kept in the ledger; status shows it)",
    )
    accept.add_argument("--date", type=_date, required=True, help="lake day, YYYY-MM-DD")
    accept.add_argument("--layer", required=True, help="the step: raw or a dbt layer")
    accept.add_argument("--reason", help="why (required unless --revoke)")
    accept.add_argument("--revoke", action="store_true", help="withdraw the acceptance")

    gates = commands.add_parser("gates", help="run the quality gates of a lake day and print them")
    gates.add_argument("--date", type=_date, required=True, help="lake day, YYYY-MM-DD")
    gates.add_argument("--layer", help="one layer only (default: every layer with suites)")

    server = commands.add_parser(
        "server", help="run a local Prefect server (127.0.0.1) and a worker until Ctrl-C"
    )
    server.add_argument("--port", type=_port, default=4200)

    status = commands.add_parser("status", help="the state of each lake day and step")
    status.add_argument("--start", type=_date)
    status.add_argument("--end", type=_date)
    status.add_argument("--json", action="store_true", help="stable JSON for scripts")

    report = commands.add_parser(
        "report",
        help="write one HTML page of the last lake days from the state store: steps, errors, "
        "volumes, durations, gate checks, open incidents",
    )
    report.add_argument(
        "--days", type=_positive, default=30, help="lake days, up to the latest (default: 30)"
    )
    report.add_argument(
        "--out", type=Path, help="the page (default: sluice-report.html in the reports folder)"
    )

    incidents = commands.add_parser("incidents", help="list incidents, most recently seen first")
    incidents.add_argument("--open", action="store_true", help="only those still open")
    incidents.add_argument(
        "--json", action="store_true", help="JSON list (schemas/incident.v1.json items)"
    )

    commands.add_parser(
        "watchdog", help="check every due deadline now: missed SLAs and stale lake partitions"
    )

    janitor = commands.add_parser(
        "janitor", help="show (or with --apply delete) what is past the retention policy"
    )
    janitor.add_argument("--apply", action="store_true", help="delete (default: dry run)")

    lineage = commands.add_parser(
        "lineage",
        help="column lineage: the upstream columns of a model column, down to the lake fields",
    )
    lineage.add_argument(
        "column",
        nargs="?",
        help="<schema>.<model>.<column>, e.g. marts.daily_kpis.ctr (none: write the lineage file)",
    )
    lineage.add_argument("--json", action="store_true", help="stable JSON for scripts")
    lineage.add_argument(
        "--downstream", action="store_true", help="the columns and exposures it feeds instead"
    )
    lineage.add_argument(
        "--docs",
        type=Path,
        metavar="TARGET",
        help="add each column's upstream to the dbt docs generated in TARGET (e.g. target)",
    )
    lineage.add_argument(
        "--refresh", action="store_true", help="recompute even if the project did not change"
    )

    ops = commands.add_parser("ops", help="the ops dataset on BigQuery").add_subparsers(
        dest="ops_command", required=True
    )
    ops.add_parser(
        "publish",
        help="publish the ledger, gate checks and incidents to the ops dataset now (every row)",
    )
    return parser
