"""Runs inside the zetasql venv: analyze compiled SELECTs in order against a growing catalog.

Input (JSON file, argv[1]): {"tables": [{"path": [project, dataset, table], "columns": [[name,
type]]}], "passes": [{"statements": [{"name", "path", "sql", "fallback": [[name, type]] | null}]}]}.
Output (JSON on stdout): {"passes": [[{"name", "error", "columns": [[name, type]] | null}]]}.
Only the standard library and zetasql are imported: this file does not run in Sluice's venv.
`--warm` compiles the analyzer's WebAssembly module into the venv's cache and exits (`make
bq-venvs` runs it, so the checks that follow do not each compile it again).
"""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

TYPE_KINDS = {
    "string": "TYPE_STRING",
    "int64": "TYPE_INT64",
    "bool": "TYPE_BOOL",
    "date": "TYPE_DATE",
    "timestamp": "TYPE_TIMESTAMP",
    "datetime": "TYPE_DATETIME",
    "numeric": "TYPE_NUMERIC",
    "bignumeric": "TYPE_BIGNUMERIC",
    "float64": "TYPE_DOUBLE",
    "json": "TYPE_JSON",
    "bytes": "TYPE_BYTES",
}
TYPE_NAMES = {kind: name for name, kind in TYPE_KINDS.items()}


def _catalog_for(root: Any, path: list[str], simple_catalog: Any) -> Any:
    """The nested catalog of path[:-1] (project, dataset), created when missing."""
    catalog = root
    for name in path[:-1]:
        found = next((c for c in catalog.catalog if c.name == name), None)
        if found is None:
            found = simple_catalog(name=name, table=[], catalog=[])
            catalog.catalog.append(found)
        catalog = found
    return catalog


def _cache_compiled_module() -> None:
    """Load zetasql's 28 MB WebAssembly module from a compiled copy in this venv.

    zetasql compiles the module in every process (21 s of CPU on a quiet 2-core machine, over a
    minute under load); wasmtime can serialize the compiled code. The copy is named after the
    module's size and mtime and the wasmtime version; a copy that wasmtime refuses (another
    engine or version) is rebuilt, and a new copy replaces those of earlier versions.
    """
    import wasmtime
    from zetasql.core import wasm_client

    compile_module = wasmtime.Module.from_file

    def from_file(engine: Any, path: str) -> Any:
        stat = os.stat(path)
        version = metadata.version("wasmtime")
        cached = Path(sys.prefix) / f"zetasql-{stat.st_size}-{stat.st_mtime_ns}-{version}.cwasm"
        if cached.exists():
            try:
                return wasmtime.Module.deserialize_file(engine, str(cached))
            except wasmtime.WasmtimeError:
                pass
        module = compile_module(engine, path)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
        partial.write_bytes(module.serialize())
        os.replace(partial, cached)
        for stale in cached.parent.glob("zetasql-*.cwasm"):  # of an earlier zetasql or wasmtime
            if stale != cached:
                stale.unlink(missing_ok=True)
        return module

    # WasmClient's only use of the name: Module.from_file(engine, path).
    wasm_client.Module = SimpleNamespace(from_file=from_file)


def warm() -> int:
    """Compile (or load) the analyzer once, so the module's compiled copy is in the cache."""
    from zetasql.core.local_service import ZetaSqlLocalService

    _cache_compiled_module()
    ZetaSqlLocalService.get_instance()
    return 0


def main(request_path: str) -> int:
    _cache_compiled_module()
    from zetasql.api import Analyzer, TableBuilder
    from zetasql.types import (
        AnalyzerOptions,
        ErrorMessageMode,
        LanguageOptions,
        SimpleCatalog,
        TypeKind,
        ZetaSQLBuiltinFunctionOptions,
    )

    with open(request_path) as handle:
        request = json.load(handle)
    language = LanguageOptions.maximum_features()
    options = AnalyzerOptions(
        language_options=language, error_message_mode=ErrorMessageMode.ERROR_MESSAGE_ONE_LINE
    )
    functions = ZetaSQLBuiltinFunctionOptions(language_options=language)
    passes = []
    for one_pass in request["passes"]:  # each pass: its own catalog, from the sources up
        root = SimpleCatalog(
            name="bigquery", table=[], catalog=[], builtin_function_options=functions
        )
        analyzer = Analyzer(options, root)

        def add_table(path: list[str], columns: list[list[str]], root: Any = root) -> None:
            builder = TableBuilder(path[-1])
            for name, kind in columns:
                builder.add_column(name, getattr(TypeKind, TYPE_KINDS[kind]))
            _catalog_for(root, path, SimpleCatalog).table.append(builder.build())

        for table in request["tables"]:
            add_table(table["path"], table["columns"])
        passes.append(
            [_analyze(analyzer, statement, add_table) for statement in one_pass["statements"]]
        )
    json.dump({"passes": passes}, sys.stdout)
    return 0


def _analyze(analyzer: Any, statement: dict[str, Any], add_table: Any) -> dict[str, Any]:
    """Analyze one statement; add its output (or its contract, if it fails) to the catalog."""
    try:
        resolved = analyzer.analyze_statement(statement["sql"])
    except Exception as exc:
        if statement.get("fallback"):
            add_table(statement["path"], statement["fallback"])
        return {"name": statement["name"], "error": str(exc), "columns": None}
    columns = [
        [c.name, TYPE_NAMES.get(c.column.type.type_kind.name, c.column.type.type_kind.name)]
        for c in resolved.output_column_list
    ]
    add_table(statement["path"], columns)
    return {"name": statement["name"], "error": None, "columns": columns}


if __name__ == "__main__":
    sys.exit(warm() if sys.argv[1] == "--warm" else main(sys.argv[1]))
