"""The `sluice` command on a DuckDB file another process holds: one line, a non-zero exit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.cli.main import main
from tests.support import duckdb_held_by_another_process


def test_a_locked_warehouse_is_one_line_naming_the_file_and_what_to_do(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    clean_env.setenv("SLUICE_DUCKDB", str(warehouse))
    clean_env.setenv("SLUICE_STATE", str(tmp_path / "state.sqlite"))
    clean_env.delenv("SLUICE_DEBUG", raising=False)
    with duckdb_held_by_another_process(warehouse):
        assert main(["janitor"]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(
        rf"sluice: error: the DuckDB file {re.escape(str(warehouse))} is locked by another "
        r"process \(\S+, PID \d+; a run writes it, see sluice status\): let it finish or stop "
        r"it, then retry\n",
        err,
    ), err
