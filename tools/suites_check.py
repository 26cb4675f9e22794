"""`make lint`: every table Sluice publishes has a quality gate (a suite file, or a default suite
derived from its YAML tests, which needs a declared key); the suites load and match their tables.

Run with the environment of the lint step (a throwaway DuckDB file): it parses the project as
the pipeline does and loads its suites exactly as the gates do (flows/gates/suites.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flows.cli.environment import apply_offline_defaults
from flows.errors import SluiceError


def main(argv: Sequence[str] | None = None) -> int:
    """Print each published table without a gate and return 1, or a summary line and 0."""
    argparse.ArgumentParser(prog="python -m tools.suites_check", description=__doc__).parse_args(
        argv
    )
    apply_offline_defaults()
    from flows.gates.suites import load_suites
    from flows.pipeline.workspace import BUILD_VARS
    from flows.project.dbt_runner import DbtProject
    from flows.project.manifest import AUDIT_SUFFIX, build_project
    from flows.settings import get_settings

    settings = get_settings()
    try:
        dbt = DbtProject(settings, BUILD_VARS, variant="lint-suites")
        project = build_project(dbt.manifest, settings.project_dir, AUDIT_SUFFIX)
        suites, unsuited = load_suites(project, settings.project_dir)
    except SluiceError as exc:
        print(f"suites_check: error: {exc}", file=sys.stderr)
        return 2
    for name, why in sorted(unsuited.items()):
        print(f"{name}: {why}")
    if unsuited:
        print(
            f"suites_check: {len(unsuited)} published tables have no quality gate", file=sys.stderr
        )
        return 1
    files = sum(1 for s in suites if s.path.is_file())
    print(
        f"suites_check: {len(suites)} published tables gated ({files} suite files, "
        f"{len(suites) - files} default suites from their YAML)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
