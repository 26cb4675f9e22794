"""The quality gates on the emulator: the DuckDB reference's verdicts, and a bad row blocked.

Every layer's gates run for the two sample days on the emulator's BigQuery build and on the
DuckDB reference build of the same lake days; each check's outcome and each suite's row count
must be equal, and every gate must pass. Then one fct_events row without its key is inserted
on the emulator: the DWH gate must block on exactly that check, and the emulator's
audit.gate_failures must hold that row.
"""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

from flows.errors import SluiceError
from flows.gates.checks import GateResult
from flows.gates.runner import Gates
from flows.project.manifest import Project
from flows.settings import Settings
from flows.state.store import StateStore
from flows.warehouse.choose import warehouse_for

BAD_SUITE = "dwh.fct_events"
BAD_COLUMN = "event_id"
NOT_NULL = "expect_column_values_to_not_be_null"


class GatesCheckFailed(SluiceError):
    """The gates on the emulator disagree with the DuckDB reference, or missed a bad row."""


def _verdicts(result: GateResult) -> list[tuple[Any, ...]]:
    """What must be equal on both warehouses: each check's outcome, each suite's row count."""
    checks = sorted(
        (c.suite, c.expectation, c.column or "", c.severity, c.success, c.unexpected_count)
        for c in result.checks
    )
    return [*checks, *sorted(("rows", *item) for item in result.row_counts.items())]


def _run_all(gates: Gates, days: list[date], run_id: str) -> dict[tuple[str, date], GateResult]:
    layers = sorted({suite.layer for suite in gates.suites})
    return {(layer, day): gates.run(layer, day, run_id) for layer in layers for day in days}


def compare_gates(
    settings: Settings,
    project: Project,
    reference: Settings,
    reference_project: Project,
    days: list[date],
) -> tuple[Gates, str]:
    """Gate every layer and day on the emulator and on DuckDB: verdicts equal, all pass.

    Returns the emulator's Gates (for the bad-row check) and what was proved.
    """
    began = time.perf_counter()
    work = settings.lake_folder.parent
    emulator = Gates(
        warehouse_for(settings),
        project,
        settings.project_dir,
        StateStore(work / "gates-emulator.sqlite"),
    )
    duck = Gates(
        warehouse_for(reference),
        reference_project,
        reference.project_dir,
        StateStore(work / "gates-duckdb.sqlite"),
    )
    found = _run_all(emulator, days, "check-gates")
    on_emulator = time.perf_counter() - began
    expected = _run_all(duck, days, "check-gates")
    for key, result in found.items():
        if _verdicts(result) != _verdicts(expected[key]):
            differ = set(_verdicts(result)) ^ set(_verdicts(expected[key]))
            failed = [c.describe() for c in result.checks if not c.success]
            raise GatesCheckFailed(
                f"gate {key[0]} {key[1]}: the emulator and DuckDB disagree on {sorted(differ)};"
                f" failed on the emulator: {failed}"
            )
        if not result.passed:
            blocking = [c.describe() for c in result.blocking]
            raise GatesCheckFailed(f"gate {key[0]} {key[1]} blocks the sample: {blocking}")
    checks = sum(len(r.checks) for r in found.values())
    rows = sum(sum(r.row_counts.values()) for r in found.values())
    on_duckdb = time.perf_counter() - began - on_emulator
    return emulator, (
        f"gates: {len(found)} layer-days ({checks} checks, {rows} rows counted) pass on the"
        f" emulator with the verdicts and row counts of DuckDB (emulator {on_emulator:.1f} s,"
        f" including Great Expectations' import; DuckDB {on_duckdb:.1f} s)"
    )


def check_bad_row_blocked(gates: Gates, client: Any, day: date) -> str:
    """Insert a fct_events row without event_id on day: the DWH gate blocks, the row is audited."""
    began = time.perf_counter()
    suite = next((s for s in gates.suites if s.name == BAD_SUITE), None)
    if suite is None:
        raise GatesCheckFailed(f"no suite {BAD_SUITE} to test a bad row with")
    relation = ".".join(suite.relation_parts())
    kept = [f.name for f in client.get_table(relation).schema if f.name != BAD_COLUMN]
    listed = ", ".join(f"`{name}`" for name in kept)
    client.query(
        f"insert into `{relation}` ({listed}) select {listed} from `{relation}`"
        f" where `{suite.partition_column}` = date '{day.isoformat()}' limit 1"
    ).result()
    run_id = "check-gates-bad-row"
    result = gates.run(suite.layer, day, run_id)
    blocking = [(c.suite, c.expectation, c.column, c.unexpected_count) for c in result.blocking]
    if blocking != [(BAD_SUITE, NOT_NULL, BAD_COLUMN, 1)]:
        raise GatesCheckFailed(
            f"a null {BAD_COLUMN} in {relation} on {day}: the gate should block on {NOT_NULL}"
            f" with 1 bad row, it blocked on {blocking}"
        )
    audited = list(
        client.query(
            "select suite, expectation, column_name, to_json_string(failing_row) as failing_row"
            f" from `{relation.split('.')[0]}.audit.gate_failures` where run_id = '{run_id}'"
        ).result()
    )
    found = [(*tuple(row.values())[:3], json.loads(row["failing_row"])) for row in audited]
    whole = {name: None for name in [BAD_COLUMN, *kept]}
    if [(*f[:3], {k: None for k in f[3]}) for f in found] != [
        (BAD_SUITE, NOT_NULL, BAD_COLUMN, whole)
    ] or found[0][3][BAD_COLUMN] is not None:
        raise GatesCheckFailed(
            f"audit.gate_failures on the emulator should hold the one bad row, holds {found}"
        )
    return (
        f"gates: a fct_events row without {BAD_COLUMN} on {day} blocked the DWH gate"
        f" ({NOT_NULL}, 1 bad row), and audit.gate_failures on the emulator holds it"
        f" ({time.perf_counter() - began:.1f} s)"
    )
