"""dbt in-process: parse the project once, then run layers for a window of lake days."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from dbt.cli.main import dbtRunner

from flows.errors import ProjectError, step_failure
from flows.project.identifiers import identifier
from flows.project.parse_cache import parsed_manifest
from flows.settings import Settings

# --no-write-json: the pipeline reads results in memory; writing manifest.json and
# run_results.json after every parse and run cost ~0.7 s each (benchmarks/README.md).
QUIET = ["--quiet", "--no-use-colors", "--no-send-anonymous-usage-stats", "--no-write-json"]


@dataclass(frozen=True)
class NodeResult:
    """One dbt node's outcome."""

    name: str
    kind: str
    status: str
    seconds: float
    message: str


@dataclass(frozen=True)
class LayerRun:
    """The outcome of building one layer for a window of lake days."""

    layer: str
    start: date
    end: date
    nodes: tuple[NodeResult, ...]
    seconds: float

    @property
    def dbt_seconds(self) -> float:
        return sum(n.seconds for n in self.nodes)


def dbt_environment(settings: Settings) -> None:
    """Point dbt at this process's warehouse and keep it offline and quiet."""
    os.environ["SLUICE_DUCKDB"] = str(settings.duckdb)
    os.environ["SLUICE_TARGET"] = settings.target
    os.environ["DBT_PROFILES_DIR"] = str(settings.project_dir)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _parse(settings: Settings, parse_args: list[str]) -> Any:
    """Parse the project (raise ProjectError when dbt cannot)."""
    result = dbtRunner().invoke(parse_args)
    if not result.success or result.result is None:
        raise ProjectError(f"dbt parse failed in {settings.project_dir}: {result.exception}")
    return result.result


class DbtProject:
    """A dbt project parsed once; every later invocation reuses the manifest."""

    def __init__(
        self, settings: Settings, parse_vars: dict[str, str] | None = None, variant: str = ""
    ) -> None:
        dbt_environment(settings)
        self.settings = settings
        self.parse_vars = dict(parse_vars or {})
        self._common = [
            "--project-dir",
            str(settings.project_dir),
            "--profiles-dir",
            str(settings.project_dir),
            "--target",
            settings.target,
        ]
        if variant:  # its own target folder keeps each variant's partial parse warm
            self._common += ["--target-path", str(settings.project_dir / "target" / variant)]
        parse_args = ["parse", *QUIET, *self._common]
        if self.parse_vars:
            parse_args += ["--vars", json.dumps(self.parse_vars)]
        self.manifest: Any = parsed_manifest(
            settings.project_dir, parse_args, lambda: _parse(settings, parse_args)
        )

    def invoke(self, args: list[str]) -> Any:
        """Run one dbt command in-process with the parsed manifest."""
        dbt_environment(self.settings)  # another Workspace in this process may have changed it
        return dbtRunner(manifest=self.manifest).invoke(
            [*args[:1], *QUIET, *self._common, *args[1:]]
        )

    def run_vars(self, start: date, end: date) -> str:
        """The --vars of a run: the parse vars (which fixed schemas) plus the lake days."""
        values = {**self.parse_vars, "run_start": start.isoformat(), "run_end": end.isoformat()}
        return json.dumps(values)

    def run_operation(self, macro: str, start: date, end: date, args: dict[str, str]) -> None:
        """Run a macro for lake days start..end; raise StepFailed if it fails."""
        result = self.invoke(
            [
                "run-operation",
                macro,
                "--args",
                json.dumps(args),
                "--vars",
                self.run_vars(start, end),
            ]
        )
        if not result.success:
            messages = [
                r.message for r in getattr(result.result, "results", None) or [] if r.message
            ]
            detail = "; ".join(messages) or str(result.exception)
            raise step_failure(f"dbt macro {macro}", str(start), detail)

    def compile_layer(self, layer: str, start: date, end: date) -> dict[str, str]:
        """The compiled SQL of every model of `layer` for lake days start..end, by model name
        (a compile asks the warehouse whether each incremental model exists, as a run does)."""
        args = ["compile", "--select", f"config.meta.layer:{layer}"]
        result = self.invoke([*args, "--vars", self.run_vars(start, end)])
        partition = start.isoformat() if start == end else f"{start}..{end}"
        if not result.success:
            raise step_failure(f"dbt compile of layer {layer}", partition, str(result.exception))
        return {
            r.node.name: str(r.node.compiled_code or "")
            for r in getattr(result.result, "results", None) or []
            if str(r.node.resource_type) == "model"
        }

    def run_layer(
        self,
        layer: str,
        start: date,
        end: date,
        *,
        full_refresh: bool = False,
        exclude: tuple[str, ...] = (),
    ) -> LayerRun:
        """Build every model of `layer` (but `exclude`, model names) for lake days start..end;
        raise StepFailed on any error.

        Data checks are the quality gates' job (flows/gates/); contracts are enforced here.
        """
        args = [
            "run",
            "--select",
            f"config.meta.layer:{layer}",
            "--vars",
            self.run_vars(start, end),
        ]
        if exclude:
            args += ["--exclude", *(identifier(name, "model") for name in exclude)]
        if full_refresh:
            args.append("--full-refresh")
        began = time.perf_counter()
        result = self.invoke(args)
        seconds = time.perf_counter() - began
        nodes = tuple(
            NodeResult(
                r.node.name,
                str(r.node.resource_type),
                str(r.status),
                float(r.execution_time or 0.0),
                r.message or "",
            )
            for r in getattr(result.result, "results", None) or []
        )
        partition = start.isoformat() if start == end else f"{start}..{end}"
        failed = [n for n in nodes if n.status not in ("success", "pass", "warn")]
        if failed or not result.success:
            detail = "; ".join(f"{n.name}: {n.message}" for n in failed) or str(result.exception)
            raise step_failure(f"dbt layer {layer}", partition, detail)
        if not any(n.kind == "model" for n in nodes):
            raise step_failure(f"dbt layer {layer}", partition, "selected no model")
        return LayerRun(layer, start, end, nodes, seconds)
