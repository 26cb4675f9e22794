"""PR check: build only what a change touches on a sample lake; review what it does to the data.

`make pr-check` (`python -m tools.pr_check --base main`):
1. the base commit is the merge base of HEAD and origin/<base> (else <base>); its tree is
   exported with `git archive` and `dbt parse`d into its own target path: the state manifest
   (both kept while the base commit stays the same);
2. `dbt ls --select state:modified+` against it lists what changed (working tree included)
   and everything downstream; nothing changed means nothing to do;
3. the column lineage of base and PR (flows/project/lineage_build.py) classifies each changed
   model (tools/pr_review/changes.py) and finds the downstream columns it reaches: only models
   with a data change and the models their changed columns reach are built;
4. the base is built whole on a fixed 3-day sample lake, once per base commit and sample
   (target/pr-check/base-build/<key>/); the PR build starts as a copy of it and rebuilds only
   the selected models with `dbt build --full-refresh` (their tests included);
5. the two builds are diffed in DuckDB, sqlfluff lints the changed files, the quality gates
   check the rebuilt tables, and the review goes to target/pr-review.md.
Everything else lives under target/pr-check/ (dbt's own target path too); nothing touches data/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flows.errors import ProjectError, SluiceError
from flows.project.lineage import Lineage
from tools.pr_review.builds import (
    MODIFIED,
    SAMPLE_DAYS,
    SAMPLE_EVENTS_PER_DAY,
    SAMPLE_SEED,
    SAMPLE_START,
    Layout,
    base_build,
    build_pr,
    build_state,
    list_changes,
    selected,
    tables_of,
)
from tools.pr_review.changes import Impact, Kind, ModelChange, classify, deploy_note, impact
from tools.pr_review.checks import Lint, changed_files, run_gates
from tools.pr_review.diff import diff_builds
from tools.pr_review.report import FILE_NAME as REVIEW_FILE
from tools.pr_review.report import Review, markdown, summary

__all__ = ["MODIFIED", "CheckResult", "Layout", "build_state", "main", "run_check", "selected"]


@dataclass(frozen=True)
class CheckResult:
    """What the check listed (state:modified+), what it built, and the review."""

    changed: list[str]
    built: list[str]
    review: Review | None = None
    warehouse: Path | None = None  # the PR build (this process's dbt keeps it open)


def _plan(
    layout: Layout, changed: list[str], direct: list[str]
) -> tuple[list[ModelChange], Impact, Lineage]:
    """Classify the directly changed models and find what their changed columns reach."""
    from flows.project.lineage_build import project_lineage

    base = project_lineage(layout.base_tree, layout.root / "base-lineage")
    pr = project_lineage(layout.project_dir, layout.root / "pr-lineage")
    changes = [classify(uid, base, pr) for uid in direct if uid in pr.models]
    models = [uid for uid in changed if uid.startswith("model.")]
    return changes, impact(changes, base, pr, models), pr


def run_check(layout: Layout, base: str, *, empty_parents: bool = False) -> CheckResult:
    """The whole check; the review is also written to target/pr-review.md."""
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str, began: float) -> float:
        seconds[name] = time.perf_counter() - began
        return time.perf_counter()

    sha = build_state(layout, base)
    parsed, changed, direct = list_changes(layout)
    print(f"pr-check: {len(changed)} nodes changed or downstream since {base} ({sha[:12]})")
    for uid in changed:
        print(f"  {uid}")
    if not changed:
        return CheckResult([], [])
    mark = lap("select", clock)
    changes, found, pr = _plan(layout, changed, [u for u in direct if u.startswith("model.")])
    mark = lap("lineage", mark)
    manifest = json.loads((layout.target / "manifest.json").read_text())
    rebuild = [c.node for c in changes if c.kind is not Kind.NO_DATA_CHANGE] + found.models
    tests = [u for u in direct if u.startswith(("test.", "unit_test.")) and u in manifest["nodes"]]
    names = [manifest["nodes"][u]["name"] for u in sorted({*rebuild, *tests})]
    files = changed_files(layout.project_dir, sha)
    lint = Lint(layout.project_dir, files, layout.root / "lint.duckdb")
    base_file = base_build(layout, sha, empty=empty_parents)
    mark = lap("base build", mark)
    warehouse, built, test_count = build_pr(layout, base_file, names, parsed)
    mark = lap("PR build", mark)
    diffs = diff_builds(base_file, warehouse, tables_of(manifest, built))
    mark = lap("diff", mark)
    gates = None
    tables = {(t.schema, t.name) for t in tables_of(manifest, built)}
    if tables and not empty_parents:
        days = [SAMPLE_START + timedelta(days=n) for n in range(SAMPLE_DAYS)]
        # Great Expectations keeps its DuckDB connection for the life of the process: give it
        # a copy of the PR build of its own, so a later check in this process is not blocked.
        shutil.rmtree(layout.root / "gates", ignore_errors=True)
        folder = layout.root / "gates" / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        copy = shutil.copyfile(warehouse, folder / warehouse.name)
        gates = run_gates(layout.project_dir, parsed, copy, folder / "state.sqlite", tables, days)
        mark = lap("gates", mark)
    findings = lint.findings()
    lap("sqlfluff wait", mark)
    seconds["total"] = time.perf_counter() - clock
    skipped = sorted(
        manifest["nodes"][u]["name"]
        for u in changed
        if u.startswith("model.") and u not in built and u in manifest["nodes"]
    )
    review = Review(
        base=base,
        sha=sha,
        sample=(
            f"the sample lake ({SAMPLE_DAYS} lake days from {SAMPLE_START}, "
            f"{SAMPLE_EVENTS_PER_DAY} events a day, seed {SAMPLE_SEED})"
        ),
        changes=tuple(changes),
        impact=found,
        lineage=pr,
        deploy={c.node: deploy_note(c, manifest["nodes"][c.node]) for c in changes},
        built=tuple(manifest["nodes"][u]["name"] for u in built),
        tests=test_count,
        skipped=tuple(skipped),
        diffs=tuple(diffs),
        linted=tuple(files),
        findings=tuple(findings),
        gates=gates,
        seconds=seconds,
    )
    out = layout.project_dir / "target" / REVIEW_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(review))
    print("\n".join(summary(review)))
    print(f"pr-check: review written to {out}")
    if gates and gates.failed:
        raise ProjectError(
            f"pr-check: {len(gates.failed)} critical gate checks failed on the PR build: "
            + "; ".join(c.describe() for _, c in gates.failed[:3])
        )
    return CheckResult(changed, built, review, warehouse)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tools.pr_check`: one clear line and exit 1 on failure."""
    parser = argparse.ArgumentParser(prog="python -m tools.pr_check", description=__doc__)
    parser.add_argument("--base", default="main", help="branch or commit to compare with")
    parser.add_argument(
        "--parents",
        choices=("sample", "empty"),
        default="sample",
        help="build the base from the sample lake (default) or empty (dbt --empty: no rows)",
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    layout = Layout(args.project_dir.resolve())
    try:
        result = run_check(layout, args.base, empty_parents=args.parents == "empty")
    except SluiceError as exc:
        print(f"pr-check: error: {exc}", file=sys.stderr)
        return 1
    if result.changed:
        count = len(result.built)
        print(f"pr-check: ok, {count} model{'s' if count != 1 else ''} built and tested")
    else:
        print("pr-check: ok, nothing changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
