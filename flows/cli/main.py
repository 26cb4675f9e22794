"""The `sluice` command: validate options, call the flows, print one clear line on error."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
import uuid
from collections.abc import Sequence
from pathlib import Path

from flows.cli import report_command
from flows.cli.environment import prepare_process, without_heartbeats
from flows.cli.parser import build_parser
from flows.dates import check_order
from flows.errors import InvalidParameter, SluiceError, one_line

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _generate(args: argparse.Namespace) -> int:
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec
    from flows.settings import get_settings

    out = (args.out or get_settings().lake_folder).resolve()
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


class _NoTracebackForUserErrors(logging.Filter):
    """Prefect logs a flow's exception with its traceback; a user error deserves one line, and
    so does any error on the terminal (handlers that send logs elsewhere keep the traceback of
    an error that is not a Sluice one)."""

    def __init__(self, *, every_error: bool) -> None:
        super().__init__()
        self.every_error = every_error

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, SluiceError) or (error is not None and self.every_error):
            record.exc_info = None
            record.exc_text = None
        return True


def _quiet_user_errors(debug: bool) -> None:
    loggers = [
        logging.getLogger(),
        *(logging.getLogger(n) for n in logging.root.manager.loggerDict),
    ]
    for logger in loggers:
        for handler in logger.handlers:
            terminal = isinstance(handler, logging.StreamHandler) and not debug
            handler.addFilter(_NoTracebackForUserErrors(every_error=terminal))


def _prefect_api() -> str | None:
    """The server of `make serve` when it runs (None: the environment names it), else a
    temporary one's API URL, started now while the flow command's heavy modules are imported.

    A first run migrates Prefect's new database before the server answers: say so, since it
    takes a while (`make install` does it ahead for the project's PREFECT_HOME).
    """
    from flows.cli.imports_meanwhile import imports_meanwhile
    from flows.ops.temporary_server import TemporaryServer

    if _prefer_local_server():
        return None
    home = Path(os.environ["PREFECT_HOME"])
    home.mkdir(parents=True, exist_ok=True)  # Prefect makes only its last folder
    if not (home / "prefect.db").exists():
        print(
            f"sluice: first run: Prefect's temporary server prepares its database in {home} "
            "(up to a minute)",
            file=sys.stderr,
        )
    server = TemporaryServer(home)  # before any import of Prefect's: it starts meanwhile
    with imports_meanwhile():  # the flows, dbt and GX load while the server starts
        return server.wait()


def _pipeline(args: argparse.Namespace, api_url: str | None) -> int:
    from flows.cli import tables
    from flows.errors import PartitionsFailed
    from flows.ops.temporary_server import api_setting
    from flows.pipeline import prefect_flows as pipeline
    from flows.settings import get_settings

    _quiet_user_errors(_debugging(args))

    try:
        with without_heartbeats(), api_setting(api_url):
            if args.command == "run":
                result = pipeline.daily(args.date)
            elif args.command == "backfill":
                result = pipeline.backfill(
                    args.start,
                    args.end,
                    force=args.force,
                    max_concurrency=args.max_concurrency,
                    max_bytes=args.max_bytes,
                )
            else:
                result = pipeline.retry_failed(args.start, args.end)
    except PartitionsFailed as exc:
        tables.print_run(exc.report, get_settings().reports_dir)
        tables.print_summary(exc.report.summary, exc.report.seconds, exc.report.data_docs)
        raise
    tables.print_run(result, get_settings().reports_dir)
    tables.print_summary(result.summary, result.seconds, result.data_docs)
    return 0


def _accept(args: argparse.Namespace) -> int:
    from flows.pipeline.workspace import Workspace

    ws = Workspace.open()
    if args.layer not in ws.project.steps:
        raise InvalidParameter(
            f"--layer {args.layer!r} is not one of {', '.join(ws.project.steps)}"
        )
    if args.revoke:
        found = ws.ledger.revoke(args.date, args.layer)
        print(f"{'revoked' if found else 'nothing to revoke for'} {args.layer} {args.date}")
        return 0
    if not (args.reason or "").strip():
        raise InvalidParameter("--reason is required: say why the day is accepted")
    ws.ledger.accept(args.date, args.layer, args.reason.strip())
    print(
        f"accepted {args.layer} {args.date}: days that read it are no longer blocked by it, and "
        "its next run publishes it (sluice retry)"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from flows.cli import read_only

    return read_only.status(args)


def _incidents(args: argparse.Namespace) -> int:
    from flows.cli import read_only

    return read_only.incidents(args)


def _watchdog(args: argparse.Namespace) -> int:
    from flows.cli.state_tables import print_incidents
    from flows.ops import watchdog
    from flows.pipeline.workspace import Workspace

    ws = Workspace.open()
    findings = watchdog.check(ws)
    late = [f for f in findings if f.late]
    print(f"checked {len(findings)} due deadlines: {len(late)} late")
    for finding in late:
        print(f"  late: {finding.why}")
    print_incidents(ws.incidents.history(open_only=True))
    return 1 if late else 0


def _janitor(args: argparse.Namespace) -> int:
    from flows.cli import tables
    from flows.ops import janitor
    from flows.pipeline.workspace import Workspace

    tables.print_sweeps(janitor.sweep(Workspace.open(), apply=args.apply), applied=args.apply)
    return 0


def _ops(args: argparse.Namespace) -> int:
    from flows.errors import OpsPublishFailed
    from flows.settings import get_settings
    from flows.state.store import StateStore
    from flows.warehouse.choose import warehouse_for

    settings = get_settings()
    warehouse = warehouse_for(settings)
    mirror = warehouse.ops_mirror(StateStore(settings.state))
    if mirror is None:
        raise OpsPublishFailed(
            f"the ops dataset lives on BigQuery: the warehouse is {warehouse.name}, whose state "
            f"store {settings.state} is read where it is (set SLUICE_TARGET=bigquery)"
        )
    print(mirror.publish(f"ops-{uuid.uuid4().hex[:12]}", force=True).describe())
    return 0


def _server(args: argparse.Namespace) -> int:
    from flows.ops import server
    from flows.settings import get_settings

    settings = get_settings()
    local = server.Local.at(Path(os.environ["PREFECT_HOME"]), args.port)
    logs = settings.project_dir / "data" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    worker_env = {
        "SLUICE_PROJECT_DIR": str(settings.project_dir),
        "SLUICE_LAKE": str(settings.lake),
        "SLUICE_DUCKDB": str(settings.duckdb),
        "SLUICE_STATE": str(settings.state),
        "SLUICE_TARGET": settings.target,
    }
    server.serve(local, logs, worker_env)
    return 0


def _gates(args: argparse.Namespace) -> int:
    from flows.cli import tables
    from flows.pipeline.workspace import Workspace

    ws = Workspace.open()
    layers = [args.layer] if args.layer else list(ws.project.steps)
    if args.layer and args.layer not in ws.project.steps:
        raise SluiceError(f"--layer {args.layer!r} is not one of {', '.join(ws.project.steps)}")
    run_id = f"gates-{uuid.uuid4().hex[:12]}"
    results = [ws.gates.run(layer, args.date, run_id=run_id) for layer in layers]
    tables.print_gates(results, ws.gates.build_docs(ws.data_docs / run_id))
    return 0 if all(r.passed for r in results) else 1


def _plan(args: argparse.Namespace) -> int:
    from flows.cli import tables
    from flows.pipeline.plan import plan, plan_cost
    from flows.pipeline.plan_bytes import check_budget
    from flows.pipeline.plan_scan import plan_bytes
    from flows.pipeline.workspace import Workspace

    ws = Workspace.open()
    planned = plan(ws, args.start, args.end, force=args.force)
    # --max-bytes, else the setting (None: no budget)
    budget: int | None = ws.settings.max_bytes if args.max_bytes is None else args.max_bytes
    scanned, unmeasured = None, ""
    try:
        scanned = plan_bytes(ws, planned) if planned else None
    except SluiceError as exc:  # e.g. a run holds the DuckDB file: the plan still shows
        if budget is not None:
            raise
        unmeasured = one_line(exc)
    tables.print_plan(planned, cost=plan_cost(ws, planned), scanned=scanned)
    if unmeasured:
        print(f"estimated bytes: unknown ({unmeasured})")
    if scanned is not None:
        check_budget(scanned, budget)
    return 0


def _lineage(args: argparse.Namespace) -> int:
    from flows.cli import lineage_view
    from flows.project.lineage_build import project_lineage
    from flows.project.lineage_docs import annotate_docs
    from flows.settings import get_settings

    project_dir = get_settings().project_dir
    target = project_dir / "target"
    lineage = project_lineage(project_dir, target, refresh=args.refresh)
    if args.docs:
        count = annotate_docs(args.docs.resolve(), lineage)
        print(f"added the upstream columns of {count} model columns to the docs in {args.docs}")
    if not args.column:
        if not args.docs:
            print(lineage_view.summary(lineage, target))
        return 0
    ref = lineage.find(args.column)
    if args.json:
        print(json.dumps(lineage_view.as_json(lineage, ref, args.downstream), indent=2))
    else:
        print("\n".join(lineage_view.lines(lineage, ref, args.downstream)))
    return 0


def _check_options(args: argparse.Namespace) -> None:
    """Refuse options that cannot work together before anything starts."""
    start, end = getattr(args, "start", None), getattr(args, "end", None)
    if args.command != "lake" and start is not None and end is not None:
        check_order(start, end)
    if args.command == "backfill" and args.max_concurrency > 1:
        from flows.settings import get_settings
        from flows.warehouse.choose import warehouse_for

        warehouse = warehouse_for(get_settings())
        if not warehouse.concurrent_writers:
            raise InvalidParameter(
                "--max-concurrency above 1 needs a warehouse that takes several writers at "
                f"once; {warehouse.name} takes one"
            )


def _prefer_local_server() -> bool:
    """Use the server `sluice server` (make serve) started with this PREFECT_HOME when it runs,
    with its auth string (never sent to another process answering on the port); whether a
    Prefect API is now configured."""
    from flows.ops.local_auth import running

    if "PREFECT_API_URL" not in os.environ:
        local = running(Path(os.environ["PREFECT_HOME"]))
        if local is not None:
            os.environ["PREFECT_API_URL"] = local.api_url
            os.environ["PREFECT_API_AUTH_STRING"] = local.auth
    return "PREFECT_API_URL" in os.environ


def _debugging(args: argparse.Namespace) -> bool:
    """Whether errors show their traceback: --debug, or SLUICE_DEBUG=1."""
    return bool(args.debug) or os.environ.get("SLUICE_DEBUG", "") not in ("", "0")


def _where(exc: BaseException) -> str:
    """The last line of Sluice's own code the error passed through (file:line), if any."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if Path(frame.filename).resolve().is_relative_to(PACKAGE_DIR)
    ]
    if not frames:
        return ""
    frame = frames[-1]
    return f" in {Path(frame.filename).resolve().relative_to(PACKAGE_DIR.parent)}:{frame.lineno}"


def unexpected(command: str, exc: BaseException) -> str:
    """The one line for an error Sluice did not foresee: the command, where, what."""
    return (
        f"{command} stopped{_where(exc)}: {type(exc).__name__}: {one_line(exc)} "
        "(--debug or SLUICE_DEBUG=1 shows the traceback)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sluice` console script: one line and exit 1 on any error (exit 130
    on Ctrl-C), a traceback only with --debug or SLUICE_DEBUG=1."""
    prepare_process()
    args = build_parser(__doc__).parse_args(argv)
    try:
        return _dispatch(args)
    except SluiceError as exc:
        if _debugging(args):
            raise
        print(f"sluice: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sluice {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if _debugging(args):
            raise
        print(f"sluice: error: {unexpected(args.command, exc)}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    """Check the options, then run the command they name."""
    _check_options(args)
    if args.command == "janitor":
        _prefer_local_server()  # its flow runs are cleaned too, when a server runs
    if args.command == "backfill" and args.dry_run:
        return _plan(args)
    command = _COMMANDS.get(args.command)
    if command is not None:
        return command(args)
    return _pipeline(args, _prefect_api())


_COMMANDS = {
    "lake": _generate,
    "accept": _accept,
    "status": _status,
    "server": _server,
    "gates": _gates,
    "incidents": _incidents,
    "report": report_command.run,
    "watchdog": _watchdog,
    "ops": _ops,
    "lineage": _lineage,
    "janitor": _janitor,
}
