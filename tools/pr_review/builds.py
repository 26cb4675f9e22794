"""The two builds of a PR check: the base (exported, parsed, built whole once per commit and
sample lake) and the PR (a copy of the base build with the selected models rebuilt)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flows.errors import ProjectError
from flows.project.identifiers import digest
from flows.project.lineage_build import environment
from tools.pr_review.diff import Table, key_of

SAMPLE_START = date(2026, 11, 1)
SAMPLE_DAYS = 3
SAMPLE_EVENTS_PER_DAY = 400
SAMPLE_SEED = 42
MODIFIED = "state:modified+"


@dataclass(frozen=True)
class Layout:
    """Where one PR check keeps its files (all under <project>/target/pr-check)."""

    project_dir: Path

    @property
    def root(self) -> Path:
        return self.project_dir / "target" / "pr-check"

    @property
    def base_tree(self) -> Path:
        return self.root / "base"

    @property
    def state(self) -> Path:
        return self.root / "base-target"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def target(self) -> Path:
        """dbt's target path for the PR side, so the check leaves the project's target/ alone."""
        return self.root / "target"

    @property
    def warehouse(self) -> Path:
        # Base and PR parse with the same file name: dbt-duckdb names the database after it,
        # and a different database would mark every node modified.
        return self.root / "warehouse.duckdb"


def _git(project_dir: Path, *args: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(project_dir), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def resolve_base(project_dir: Path, base: str) -> str:
    """The commit to compare with: merge base with origin/<base>, else with <base>."""
    for candidate in (f"origin/{base}", base):
        sha = _git(project_dir, "merge-base", "HEAD", candidate)
        if sha:
            return sha
    sha = _git(project_dir, "rev-parse", "--verify", f"{base}^{{commit}}")
    if not sha:
        raise ProjectError(
            f"pr-check: base {base!r} is not a commit of the repository at {project_dir}: "
            "set PR_BASE to a branch or commit (e.g. make pr-check PR_BASE=main)"
        )
    return sha


def export_tree(project_dir: Path, sha: str, dest: Path) -> None:
    """Write the files of commit `sha` into `dest` (no worktree left registered in .git)."""
    archive = subprocess.run(
        ["git", "-C", str(project_dir), "archive", "--format=tar", sha],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise ProjectError(f"pr-check: git archive {sha} failed: {archive.stderr.decode()}")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")


def dbt_env(layout: Layout) -> dict[str, str]:
    """The environment of every dbt call: the throwaway warehouse, telemetry off."""
    return {
        **os.environ,
        "SLUICE_DUCKDB": str(layout.warehouse),
        "SLUICE_TARGET": "dev",
        "DBT_TARGET_PATH": str(layout.target),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


def dbt(
    project_dir: Path, args: Sequence[str], env: dict[str, str], *, capture: bool = False
) -> str:
    """Run the dbt CLI of this environment on a project; raise ProjectError if it fails."""
    command = [
        str(Path(sys.executable).parent / "dbt"),
        "--no-use-colors",
        *args[:1],
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        *args[1:],
    ]
    done = subprocess.run(command, env=env, capture_output=capture, text=True, check=False)
    if done.returncode != 0:
        detail = f":\n{done.stdout}{done.stderr}" if capture else " (see its output above)"
        raise ProjectError(f"pr-check: `dbt {' '.join(args)}` failed in {project_dir}{detail}")
    return done.stdout if capture else ""


def build_state(layout: Layout, base: str) -> str:
    """Parse the base commit into layout.state (kept while the commit is the same); its sha."""
    sha = resolve_base(layout.project_dir, base)
    marker = layout.state / "base.sha"
    if marker.exists() and marker.read_text() == sha and layout.base_tree.is_dir():
        return sha
    export_tree(layout.project_dir, sha, layout.base_tree)
    shutil.rmtree(layout.state, ignore_errors=True)
    dbt(layout.base_tree, ["parse", "--target-path", str(layout.state)], dbt_env(layout))
    marker.write_text(sha)
    return sha


def selected(
    layout: Layout,
    selector: str = MODIFIED,
    *,
    exclude: str | None = None,
    resource_type: str | None = None,
) -> list[str]:
    """Unique ids of the nodes `dbt ls --select <selector> --state <base>` lists, sorted."""
    args = ["ls", "--quiet", "--select", selector, "--state", str(layout.state)]
    args += ["--output", "json", "--output-keys", "unique_id"]
    if exclude:
        args += ["--exclude", exclude]
    if resource_type:
        args += ["--resource-type", resource_type]
    out = dbt(layout.project_dir, args, dbt_env(layout), capture=True)
    ids = [json.loads(line)["unique_id"] for line in out.splitlines() if line.startswith("{")]
    return sorted(ids)


def list_changes(layout: Layout) -> tuple[Any, list[str], list[str]]:
    """Parse the PR once, in-process: its manifest, then what `dbt ls` lists for
    state:modified+ and for state:modified alone (unique ids, sorted)."""
    from dbt.cli.main import dbtRunner

    common = ["--quiet", "--no-use-colors", "--project-dir", str(layout.project_dir)]
    common += ["--profiles-dir", str(layout.project_dir)]
    listed: list[list[str]] = []
    with environment(dbt_env(layout)):
        # The build's vars, so the build reuses this parse (dbt re-parses when vars change).
        parsed = dbtRunner().invoke(["parse", *common, "--vars", sample_window()])
        if not parsed.success:
            raise ProjectError(
                f"pr-check: dbt parse failed in {layout.project_dir}: {parsed.exception}"
            )
        manifest: Any = parsed.result
        runner = dbtRunner(manifest=manifest)
        for selector in (MODIFIED, "state:modified"):
            args = ["ls", *common, "--select", selector, "--state", str(layout.state)]
            done = runner.invoke([*args, "--output", "json", "--output-keys", "unique_id"])
            if not done.success:
                raise ProjectError(f"pr-check: dbt ls --select {selector} failed: {done.exception}")
            lines: list[str] = done.result if isinstance(done.result, list) else []
            listed.append(sorted(json.loads(line)["unique_id"] for line in lines))
    return manifest, listed[0], listed[1]


def land_sample(layout: Layout, warehouse: Path, project_dir: Path) -> tuple[date, date]:
    """Generate the fixed sample lake (once) and land every day of it into `warehouse`, with
    the lake specs of `project_dir`; return its first and last day."""
    from flows.lake.folder import FolderLake
    from flows.project.dbt_runner import DbtProject
    from flows.project.manifest import build_project
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec
    from flows.settings import Settings
    from flows.warehouse.duckdb_landing import connect, land_partition

    spec = LakeSpec(
        start=SAMPLE_START, days=SAMPLE_DAYS, events_per_day=SAMPLE_EVENTS_PER_DAY, seed=SAMPLE_SEED
    )
    marker = layout.lake / "_spec"
    if not marker.exists() or marker.read_text() != repr(spec):
        shutil.rmtree(layout.lake, ignore_errors=True)
        generate_lake(layout.lake, spec)
        marker.write_text(repr(spec))
    days = [SAMPLE_START + timedelta(days=n) for n in range(SAMPLE_DAYS)]
    warehouse.unlink(missing_ok=True)
    settings = Settings(
        lake=layout.lake,
        duckdb=warehouse,
        state=layout.root / "state.sqlite",
        project_dir=project_dir,
    ).resolved()
    with environment({"DBT_TARGET_PATH": str(warehouse.parent / "parse-target")}):
        project = build_project(DbtProject(settings).manifest, settings.project_dir)
    con = connect(settings.duckdb)
    try:
        for day in days:
            land_partition(
                con,
                FolderLake(layout.lake),
                project.lake_tables,
                day,
                lateness_days=project.lateness_days,
                load_id="pr-check",
            )
    finally:
        con.close()
    return days[0], days[-1]


def sample_window() -> str:
    last = SAMPLE_START + timedelta(days=SAMPLE_DAYS - 1)
    # Built under the published schemas' names (a throwaway warehouse): the review names marts.x.
    window = {"run_start": SAMPLE_START.isoformat(), "run_end": last.isoformat()}
    return json.dumps({**window, "build_schema_suffix": ""})


def base_build(layout: Layout, sha: str, *, empty: bool) -> Path:
    """The base commit built whole on the sample lake, cached by commit and sample; its file."""
    key = digest([sha, SAMPLE_START, SAMPLE_DAYS, SAMPLE_EVENTS_PER_DAY, SAMPLE_SEED, empty])
    folder = layout.root / "base-build" / key
    warehouse = folder / layout.warehouse.name  # same file name: same database name in SQL
    if (folder / "done").exists():
        print(f"pr-check: base build of {sha[:12]} from the cache ({folder})")
        return warehouse
    shutil.rmtree(layout.root / "base-build", ignore_errors=True)  # one base kept at a time
    folder.mkdir(parents=True)
    how = "empty (dbt --empty)" if empty else f"on the sample lake ({sample_window()})"
    print(f"pr-check: building the base {sha[:12]} whole {how}, once")
    land_sample(layout, warehouse, layout.base_tree)
    env = {**dbt_env(layout), "SLUICE_DUCKDB": str(warehouse)}
    env["DBT_TARGET_PATH"] = str(folder / "target")
    extra = ["--empty"] if empty else []
    dbt(layout.base_tree, ["run", "--vars", sample_window(), *extra], env)
    (folder / "done").write_text(sha)
    return warehouse


def build_pr(
    layout: Layout, base: Path, names: list[str], manifest: Any
) -> tuple[Path, list[str], int]:
    """A copy of the base build with `names` rebuilt (and tested) in-process with the parsed
    manifest; the file, the models built and the tests run.

    Each check builds into a file of its own (same name, so the same database name in SQL):
    dbt keeps the file it built open for the life of the process."""
    from dbt.cli.main import dbtRunner

    shutil.rmtree(layout.root / "pr-build", ignore_errors=True)
    warehouse = layout.root / "pr-build" / uuid.uuid4().hex[:12] / layout.warehouse.name
    warehouse.parent.mkdir(parents=True)
    shutil.copyfile(base, warehouse)
    if not names:
        return warehouse, [], 0
    args = ["build", "--no-use-colors", "--project-dir", str(layout.project_dir)]
    args += ["--profiles-dir", str(layout.project_dir), "--select", *names]
    args += ["--full-refresh", "--vars", sample_window()]
    with environment({**dbt_env(layout), "SLUICE_DUCKDB": str(warehouse)}):
        done = dbtRunner(manifest=manifest).invoke(args)
    results = getattr(done.result, "results", None) or []
    failed = [r.node.name for r in results if str(r.status) not in ("success", "pass")]
    if not done.success or failed:
        what = ", ".join(failed) or str(done.exception)
        raise ProjectError(f"pr-check: `dbt build` of the PR failed ({what}): see its output above")
    ids = [r.node.unique_id for r in results]
    tests = sum(1 for uid in ids if uid.startswith(("test.", "unit_test.")))
    return warehouse, sorted(uid for uid in ids if uid.startswith("model.")), tests


def tables_of(manifest: dict[str, Any], models: list[str]) -> list[Table]:
    tables = []
    for uid in models:
        node = manifest["nodes"][uid]
        if node["config"].get("materialized") in ("table", "incremental"):
            column = node["config"].get("event_time")
            key = key_of(manifest, uid)
            tables.append(Table(uid, node["schema"], node["alias"], key, column))
    return tables
