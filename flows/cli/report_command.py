"""`sluice report`: the page of the last lake days, from the state store (never the warehouse)."""

from __future__ import annotations

import argparse

from flows.errors import SluiceError


def run(args: argparse.Namespace) -> int:
    """Write the page (`--out`, default: beside the run reports) and say where it is."""
    from flows.dates import utc_now
    from flows.pipeline import report_data, report_page
    from flows.pipeline.run_report import overview_path
    from flows.settings import get_settings
    from flows.state.store import StateStore

    settings = get_settings()
    overview = report_data.gather(StateStore(settings.state), args.days, utc_now())
    path = (args.out or overview_path(settings.reports_dir)).resolve()
    try:
        report_page.write(path, overview, settings.state)
    except OSError as exc:
        raise SluiceError(f"sluice report: cannot write {path}: {exc}") from exc
    span = f"{overview.days[0]}..{overview.days[-1]}" if overview.days else "no lake day yet"
    print(f"wrote the report of {len(overview.days)} lake days ({span}) to {path.as_uri()}")
    return 0
