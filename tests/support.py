"""Helpers shared by the tests: the session lake's shape, truth files, table checksums."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

START = date(2026, 11, 1)
DAYS = 5
EVENTS_PER_DAY = 2_000
SEED = 7
LOAD_METADATA = ("loaded_at", "load_id", "run_id")


@dataclass(frozen=True)
class Build:
    """A warehouse built from the session lake, day after day, and what it holds."""

    settings: Any
    run_id: str
    checksums: dict[str, tuple[int, int]]


def lake_days() -> list[date]:
    """The lake days of the session lake."""
    return [START + timedelta(days=i) for i in range(DAYS)]


def truth(lake_root: Path, day: date) -> dict[str, Any]:
    """The generator's truth file for one lake day."""
    return json.loads((lake_root / "_truth" / f"dt={day.isoformat()}.json").read_text())


PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros", "expectations")


def copy_project(dest: Path, source: Path | None = None) -> Path:
    """The dbt project and its expectations (not target/) copied to dest, so tests may edit them."""
    from flows.settings import PROJECT_DIR

    source = source or PROJECT_DIR
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, dest / name)
        else:
            shutil.copy2(source / name, dest / name)
    return dest


def copy_build(build: Build, folder: Path) -> tuple[Path, Path]:
    """A consistent copy of a build's warehouse and state store (they are bound to each other)."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(build.settings.duckdb))  # others may hold it open: write the WAL in
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    warehouse, state = folder / "warehouse.duckdb", folder / "state.sqlite"
    shutil.copy2(build.settings.duckdb, warehouse)
    with (
        closing(sqlite3.connect(build.settings.state)) as src,
        closing(sqlite3.connect(state)) as dst,
    ):
        src.backup(dst)
    return warehouse, state


def add_model(folder: Path, name: str, sql: str, key: str) -> Path:
    """A model a test adds to a project copy, with the key test every gated table needs."""
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{name}.sql"
    model.write_text(sql)
    (folder / f"_{name}.yml").write_text(
        "version: 2\n\nmodels:\n"
        f"  - name: {name}\n    columns:\n      - name: {key}\n"
        "        data_tests:\n          - unique\n          - not_null\n"
    )
    return model


def settings_at(project_dir: Path, lake: Path, warehouse: Path, state: Any = None) -> Any:
    """Settings for one test's project copy, lake, warehouse and state store (a path or a
    DatabaseUrl; default: the SQLite file beside the warehouse)."""
    from flows.settings import Settings

    return Settings(
        project_dir=project_dir,
        lake=lake,
        duckdb=warehouse,
        state=state or warehouse.with_suffix(".state.sqlite"),
    ).resolved()


def settings_for(lake_root: Path, warehouse: Path) -> Any:
    """Settings pointing at a test lake and warehouse, never the developer's data/."""
    from flows.settings import Settings

    return Settings(
        lake=lake_root, duckdb=warehouse, state=warehouse.with_suffix(".state.sqlite")
    ).resolved()


def table_checksums(
    warehouse: Path, schemas: tuple[str, ...] = ("raw", "dwh", "marts"), *, views: bool = True
) -> dict[str, tuple[int, int]]:
    """(row count, order-free content hash) of every table and (with views) view, leaving out
    load metadata. On DuckDB the pipeline's raw tables are views of the store of loads."""
    con = duckdb.connect(str(warehouse), read_only=False)
    try:
        tables = con.execute(
            """select table_schema, table_name from information_schema.tables
            where table_schema in (select unnest($schemas))
                and (table_type = 'BASE TABLE' or $views)
            order by 1, 2""",
            {"schemas": list(schemas), "views": views},
        ).fetchall()
        sums: dict[str, tuple[int, int]] = {}
        for schema, name in tables:
            columns = [
                c
                for (c,) in con.execute(
                    """select column_name from information_schema.columns
                    where table_schema = $s and table_name = $t order by ordinal_position""",
                    {"s": schema, "t": name},
                ).fetchall()
                if c not in LOAD_METADATA
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            count, digest = con.execute(
                f"select count(*), coalesce(sum(hash(struct_pack({select}))::hugeint), 0) "
                f'from "{schema}"."{name}"'
            ).fetchone()
            sums[f"{schema}.{name}"] = (int(count), int(digest))
        return sums
    finally:
        con.close()


@contextmanager
def duckdb_held_by_another_process(path: Path) -> Iterator[None]:
    """A DuckDB file opened for writing by a second Python process for the block's duration."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('open', flush=True);"
            " sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)


def state_variable(state: Any) -> str:
    """SLUICE_STATE for a state location: a path, or a database URL with its password (str() of
    a DatabaseUrl masks it)."""
    from flows.state.location import DatabaseUrl

    return state.url if isinstance(state, DatabaseUrl) else str(state)


def sluice_process(settings: Any, folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """The `sluice` command in a process of its own (no terminal) on a test's files, reporting
    to the session's throwaway Prefect server (the CLI need not start its own)."""
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    assert api_url
    env = {
        **os.environ,
        "SLUICE_PROJECT_DIR": str(settings.project_dir),
        "SLUICE_LAKE": str(settings.lake),
        "SLUICE_DUCKDB": str(settings.duckdb),
        "SLUICE_STATE": state_variable(settings.state),
        "SLUICE_TARGET": "dev",
        "PREFECT_HOME": str(folder / "prefect"),
        "PREFECT_API_URL": api_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "flows", *argv],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
