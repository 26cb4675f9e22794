"""Semantic check: every model compiled for BigQuery, analyzed by ZetaSQL in dependency order.

The catalog starts from the sources' declared column types; each analyzed model adds its output
schema, which must equal its contract where it has one. DuckDB-only SQL (strftime, ilike, `::`,
list functions, UNION of incompatible types) fails here with the model's name.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.errors import SluiceError

WORKER = Path(__file__).with_name("zetasql_worker.py")
WORKER_TIMEOUT = 600
# Contract and source type names -> the BigQuery names the analyzer reports.
_ALIASES = {
    "varchar": "string",
    "text": "string",
    "integer": "int64",
    "bigint": "int64",
    "int": "int64",
    "boolean": "bool",
    "decimal": "numeric",
    "double": "float64",
    "float": "float64",
}


class SemanticCheckFailed(SluiceError):
    """A model's BigQuery SQL does not analyze, or its output differs from its contract."""


@dataclass(frozen=True)
class CompiledModel:
    """One model as compiled for BigQuery."""

    name: str
    path: tuple[str, str, str]
    sql: str
    contract: tuple[tuple[str, str], ...] | None


@dataclass
class SemanticReport:
    """What the analyzer saw."""

    analyzed: int = 0
    failures: list[str] = field(default_factory=list)


def bigquery_type(declared: str) -> str:
    """A declared data_type as the analyzer names it: lowercase, no parameters, no aliases."""
    base = re.sub(r"\(.*\)$", "", declared.strip().lower()).strip()
    return _ALIASES.get(base, base)


def compiled_models(compiled: list[Any]) -> list[CompiledModel]:
    """The compiled model nodes of a `dbt compile`, parents before children."""
    nodes = {node.unique_id: node for node in compiled if node.resource_type == "model"}
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen:
            return
        seen.add(uid)
        for parent in nodes[uid].depends_on.nodes:
            if parent in nodes:
                visit(parent)
        ordered.append(uid)

    for uid in sorted(nodes):
        visit(uid)
    models = []
    for uid in ordered:
        node = nodes[uid]
        if not node.compiled_code:
            raise SemanticCheckFailed(f"model {node.name} was not compiled")
        contract = None
        if node.config.contract.enforced:
            contract = tuple(
                (c.name, bigquery_type(c.data_type or "")) for c in node.columns.values()
            )
        path = (node.database, node.schema, node.alias)
        models.append(CompiledModel(node.name, path, node.compiled_code, contract))
    return models


def source_tables(manifest: Any) -> list[dict[str, Any]]:
    """Every source table with its declared column types; raise naming a column without one."""
    tables = []
    for source in manifest.sources.values():
        columns = []
        for column in source.columns.values():
            if not column.data_type:
                raise SemanticCheckFailed(
                    f"source {source.source_name}.{source.name}: column {column.name} has no"
                    " data_type (the analyzer's catalog starts from the declared types)"
                )
            columns.append([column.name, bigquery_type(column.data_type)])
        if columns:
            tables.append(
                {"path": [source.database, source.schema, source.identifier], "columns": columns}
            )
    return tables


def analyze(
    passes: dict[str, list[CompiledModel]],
    tables: list[dict[str, Any]],
    python: Path,
    work: Path,
) -> SemanticReport:
    """Run the ZetaSQL worker over each pass of models (e.g. first build and incremental)."""
    if not python.exists():
        raise SemanticCheckFailed(f"{python} not found: `make bq-venvs` creates the zetasql venv")
    request = {
        "tables": tables,
        "passes": [
            {
                "statements": [
                    {
                        "name": m.name,
                        "path": list(m.path),
                        "sql": m.sql,
                        "fallback": [list(c) for c in m.contract] if m.contract else None,
                    }
                    for m in models
                ]
            }
            for models in passes.values()
        ],
    }
    request_path = work / "zetasql_request.json"
    request_path.write_text(json.dumps(request))
    done = subprocess.run(
        [str(python), str(WORKER), str(request_path)],
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise SemanticCheckFailed(f"the ZetaSQL analyzer failed: {done.stderr[-2000:]}")
    report = SemanticReport()
    answers = json.loads(done.stdout)["passes"]
    for (label, models), results in zip(passes.items(), answers, strict=True):
        contracts = {m.name: m.contract for m in models}
        for result in results:
            report.analyzed += 1
            where = f"model {result['name']} ({label})"
            if result["error"]:
                report.failures.append(f"{where}: {result['error']}")
                continue
            contract = contracts[result["name"]]
            columns = tuple((c, t) for c, t in result["columns"])
            if contract is not None and dict(columns) != dict(contract):
                report.failures.append(
                    f"{where}: BigQuery output {_show(columns)} differs from its contract"
                    f" {_show(contract)}"
                )
    return report


def _show(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in columns)
