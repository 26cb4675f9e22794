"""`sluice status` and `sluice incidents`: read the state store and print, nothing more.

No dbt parse, no warehouse, no Prefect: the steps and the files of each come from the project
card the last parse wrote (flows/state/cards.py), code versions from hashing those files, and a
folder lake's fingerprints from listing its folders (a bucket lake is not listed).
`tests/integration/test_status.py` proves which packages these commands import.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from functools import partial
from pathlib import Path

from flows.alerts.incidents import Incidents
from flows.cli.state_tables import print_incidents, print_states
from flows.lake.folder import FolderLake
from flows.lake.layout import fingerprint
from flows.project.code import code_versions
from flows.settings import get_settings
from flows.state.cards import read_card
from flows.state.ledger import Ledger
from flows.state.location import DatabaseUrl, StateLocation
from flows.state.locks import Locks
from flows.state.step_states import Now, step_states
from flows.state.store import StateStore

NO_RUN = "no partition has run yet"


def _store(where: StateLocation) -> StateStore | None:
    """The state store if one exists (a read-only command never creates a SQLite file; a
    PostgreSQL database exists, its tables are created on first use)."""
    return StateStore(where) if isinstance(where, DatabaseUrl) or where.exists() else None


def status(args: argparse.Namespace) -> int:
    """Where each lake day and step stands, from the ledger and the files as they are now."""
    settings = get_settings()
    store = _store(settings.state)
    first, last = Ledger(store).span() if store is not None else (None, None)
    card = read_card(store) if store is not None and first is not None else None
    start = args.start or first or args.end
    end = args.end or last or start
    if store is None or card is None or start is None or end is None:
        untold = (
            f"{NO_RUN} that status can show: the state store {settings.state} holds no project "
            "card (the steps and their files) yet; the next run or `sluice backfill --dry-run` "
            "writes it"
        )
        print("[]" if args.json else (untold if first is not None else NO_RUN))
        return 0
    ledger = Ledger(store)
    locks = Locks(store, lease=timedelta(seconds=settings.lease_seconds))
    lake = None
    if isinstance(settings.lake, Path):
        lake = partial(
            fingerprint, FolderLake(settings.lake, settings.max_file_bytes), card.lake_tables
        )
    now = Now(
        codes=code_versions(settings.project_dir, card),
        lake=lake,
        live_run=lambda dt: locks.live_run(f"partition:{dt.isoformat()}"),
        accepted=ledger.accepted(),
    )
    states = step_states(card.step_names, ledger.attempts(start, end), start, end, now)
    if args.json:
        print(json.dumps([s.as_json() for s in states], indent=2))
        return 0
    print_states(states)
    if lake is None:
        print(
            f"lake {settings.lake} is a bucket: status does not list it, so a re-delivered "
            "lake day is not shown stale here (`sluice backfill --dry-run` compares it)",
            file=sys.stderr,
        )
    return 0


def incidents(args: argparse.Namespace) -> int:
    """Incidents from the state store, most recently seen first."""
    store = _store(get_settings().state)
    found = Incidents(store).history(open_only=args.open) if store is not None else []
    if args.json:
        print(json.dumps([i.model_dump(mode="json") for i in found], indent=2))
    elif found:
        print_incidents(found)
    else:
        print("no open incident" if args.open else "no incident yet")
    return 0
