"""PR check: build and test only the dbt nodes changed since a base commit, on a sample lake.

`make pr-check` (`python -m flows.pr_check --base main`):
1. the base commit is the merge base of HEAD and origin/<base> (else <base>); its tree is
   exported with `git archive` and `dbt parse`d into its own target path: the state manifest;
2. `dbt ls --select state:modified+` against it lists what changed (working tree included)
   and everything downstream; nothing changed means nothing to do;
3. a fixed 3-day sample lake is generated and landed into a throwaway DuckDB file;
4. the unmodified parents the build needs (`@state:modified`, minus `state:modified+`) are
   materialized from the sample (`dbt run`, or `--empty` with --parents empty), untested;
5. `dbt build --select state:modified+` builds and tests the changed nodes and their children.
Everything lives under target/pr-check/ (dbt's own target path too); nothing touches data/.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flows.errors import ProjectError, SluiceError

SAMPLE_START = date(2026, 11, 1)
SAMPLE_DAYS = 3
SAMPLE_EVENTS_PER_DAY = 400
SAMPLE_SEED = 42
MODIFIED = "state:modified+"
# Every node a build of MODIFIED needs: modified nodes, their children and all their parents.
NEEDED = "@state:modified"


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
    """Parse the base commit into layout.state; return the base commit's sha."""
    sha = resolve_base(layout.project_dir, base)
    export_tree(layout.project_dir, sha, layout.base_tree)
    shutil.rmtree(layout.state, ignore_errors=True)
    dbt(layout.base_tree, ["parse", "--target-path", str(layout.state)], dbt_env(layout))
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


def land_sample(layout: Layout) -> tuple[date, date]:
    """Generate the fixed sample lake and land every day of it; return its first and last day."""
    from flows.lake.folder import FolderLake
    from flows.project.dbt_runner import DbtProject
    from flows.project.manifest import build_project
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec
    from flows.settings import Settings
    from flows.warehouse.duckdb_landing import connect, land_partition

    shutil.rmtree(layout.lake, ignore_errors=True)
    layout.warehouse.unlink(missing_ok=True)
    spec = LakeSpec(
        start=SAMPLE_START, days=SAMPLE_DAYS, events_per_day=SAMPLE_EVENTS_PER_DAY, seed=SAMPLE_SEED
    )
    days = generate_lake(layout.lake, spec)
    settings = Settings(
        lake=layout.lake,
        duckdb=layout.warehouse,
        state=layout.root / "state.sqlite",
        project_dir=layout.project_dir,
    ).resolved()
    saved = os.environ.get("DBT_TARGET_PATH")
    os.environ["DBT_TARGET_PATH"] = str(layout.target)
    try:
        project = build_project(DbtProject(settings).manifest, settings.project_dir)
    finally:
        if saved is None:
            os.environ.pop("DBT_TARGET_PATH", None)
        else:
            os.environ["DBT_TARGET_PATH"] = saved
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


def run_check(layout: Layout, base: str, *, empty_parents: bool = False) -> list[str]:
    """The whole check; returns the nodes it built and tested (empty: nothing changed)."""
    sha = build_state(layout, base)
    changed = selected(layout)
    print(f"pr-check: {len(changed)} nodes changed or downstream since {base} ({sha[:12]})")
    for uid in changed:
        print(f"  {uid}")
    if not changed:
        return []
    first, last = land_sample(layout)
    window = json.dumps({"run_start": first.isoformat(), "run_end": last.isoformat()})
    state = ["--state", str(layout.state), "--vars", window]
    env = dbt_env(layout)
    parents = selected(layout, NEEDED, exclude=MODIFIED, resource_type="model")
    if parents:
        how = "empty" if empty_parents else f"from the sample lake {first}..{last}"
        print(f"pr-check: materializing {len(parents)} unmodified parent models ({how}), untested")
        extra = ["--empty"] if empty_parents else []
        run = ["run", "--select", NEEDED, "--exclude", MODIFIED, *state, *extra]
        dbt(layout.project_dir, run, env)
    dbt(layout.project_dir, ["build", "--select", MODIFIED, *state], env)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m flows.pr_check`: one clear line and exit 1 on failure."""
    parser = argparse.ArgumentParser(prog="python -m flows.pr_check", description=__doc__)
    parser.add_argument("--base", default="main", help="branch or commit to compare with")
    parser.add_argument(
        "--parents",
        choices=("sample", "empty"),
        default="sample",
        help="build unmodified parents from the sample lake (default) or empty (dbt --empty)",
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    layout = Layout(args.project_dir.resolve())
    try:
        built = run_check(layout, args.base, empty_parents=args.parents == "empty")
    except SluiceError as exc:
        print(f"pr-check: error: {exc}", file=sys.stderr)
        return 1
    print(f"pr-check: ok, {len(built)} nodes built and tested" if built else "pr-check: ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
