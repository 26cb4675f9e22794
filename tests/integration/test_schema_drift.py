"""Schema drift policy: raw keeps new fields; a model whose columns no longer match its contract
stops the partition naming the column; adding it to the model and the contract, then retrying,
accepts it (README: "A new field in the lake")."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.errors import PartitionsFailed
from flows.lake.folder import FolderLake
from flows.pipeline.plan import plan
from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import Workspace
from flows.state.ledger import Status
from flows.warehouse.duckdb_landing import land_partition
from tests.fuzz_lake import dump_dir, events_dir
from tests.support import START, copy_project, settings_at, table_checksums

DAY2 = START + timedelta(days=1)


def _add_field(lake: Path, day: Any, name: str) -> int:
    """Give every event of a lake day a new field; return how many events have it."""
    part = sorted(events_dir(lake, day).glob("*.jsonl.gz"))[0]
    lines = gzip.decompress(part.read_bytes()).splitlines()
    out, count = [], 0
    for number, line in enumerate(lines):
        try:
            event = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        if isinstance(event, dict):
            event[name] = f"ref-{number % 3}"
            count += 1
            line = json.dumps(event).encode()
        out.append(line)
    part.write_bytes(gzip.compress(b"".join(line + b"\n" for line in out)))
    return count


@pytest.fixture(scope="module")
def drift_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec

    root = tmp_path_factory.mktemp("drift") / "lake"
    generate_lake(root, LakeSpec(start=START, days=2, events_per_day=200, seed=9))
    return root


def test_raw_keeps_new_fields_and_new_dump_columns(
    project: Any, drift_lake: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(drift_lake, lake)
    added = _add_field(lake, START, "referrer")
    users = next(dump_dir(lake, "users", START).glob("*.csv"))
    rows = users.read_text().splitlines()
    users.write_text("\n".join([rows[0] + ",referral_code", *(r + ",R7" for r in rows[1:])]) + "\n")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        land_partition(
            con, FolderLake(lake), project.lake_tables, START, lateness_days=3, load_id="drift"
        )
        kept, referrers = con.execute(
            """select count(*), count(distinct payload->>'referrer') from raw.events
            where payload->>'referrer' is not null"""
        ).fetchone()
        quarantined = con.execute(
            "select count(*) from raw.quarantine where source_table = 'events'"
        ).fetchone()[0]
        codes = con.execute(
            "select count(*), min(payload->>'referral_code') from raw.users"
        ).fetchone()
    finally:
        con.close()
    assert kept + quarantined >= added and kept > 0 and referrers == 3
    assert codes == (len(rows) - 1, "R7")


def _add_column_to_models(project: Path) -> None:
    # staging derives its fields from the source YAML: declaring the field there is its edit
    sources = project / "models" / "staging" / "app" / "_app__sources.yml"
    text = sources.read_text()
    declared = "                app_version: {type: string, required: []}\n"
    added = "                referrer: {type: string, required: []}\n"
    assert text.count(declared) == 1, declared
    sources.write_text(text.replace(declared, declared + added))
    fact = project / "models" / "dwh" / "fct_events.sql"
    fact.write_text(
        re.sub(r"\bapp_version\b(,?)", r"app_version,\n        referrer\1", fact.read_text())
    )


def _add_column_to_contract(project: Path) -> None:
    contract = project / "models" / "dwh" / "_dwh__models.yml"
    lines = contract.read_text().splitlines(keepends=True)
    at = lines.index("      - name: app_version\n")
    entry = "      - name: referrer\n        data_type: string\n        description: Referrer.\n"
    contract.write_text("".join([*lines[:at], entry, *lines[at:]]))


def _kept(sums: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    return {k: v for k, v in sums.items() if k == "dwh.fct_events" or k.startswith("marts.")}


def test_a_column_outside_the_contract_stops_the_partition_then_retry_accepts_it(
    prefect_server: None, drift_lake: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(drift_lake, lake)
    project = copy_project(tmp_path / "project")
    warehouse = tmp_path / "w.duckdb"
    settings = settings_at(project, lake, warehouse)
    run_partitions(Workspace.open(settings), [(START, None)])
    before = _kept(table_checksums(warehouse, ("dwh", "marts")))

    added = _add_field(lake, DAY2, "referrer")
    _add_column_to_models(project)  # the model changed, the contract did not
    ws = Workspace.open(settings)
    with pytest.raises(PartitionsFailed):
        run_partitions(ws, [(DAY2, None)])
    failed = ws.ledger.latest(DAY2, DAY2)[(DAY2, "dwh")]
    assert failed.status == Status.FAILED
    assert "fct_events" in (failed.error_message or "")
    assert "referrer" in (failed.error_message or "")
    # the failed model and everything downstream of it are as they were before the run
    assert _kept(table_checksums(warehouse, ("dwh", "marts"))) == before

    _add_column_to_contract(project)
    ws = Workspace.open(settings)
    todo = plan(ws, START, DAY2, only_failed=True)
    assert [(p.dt, p.from_layer) for p in todo] == [(DAY2, "dwh")]
    run_partitions(ws, [(p.dt, p.from_layer) for p in todo])
    assert ws.ledger.latest(DAY2, DAY2)[(DAY2, "dwh")].status == Status.SUCCEEDED
    con = duckdb.connect(str(warehouse))  # this process already holds it open
    try:
        by_day = dict(
            con.execute(
                """select landed_date, count(referrer) from dwh.fct_events
                group by 1 order by 1"""
            ).fetchall()
        )
    finally:
        con.close()
    assert by_day[START] == 0  # history before the field existed: null
    assert 0 < by_day[DAY2] <= added
