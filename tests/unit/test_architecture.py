"""The package shows its design: no import cycles, one place that knows the warehouse, small files.

Every import counts, wherever it stands: module level, inside a function, or under
`if TYPE_CHECKING:` — a cycle hidden there is still a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
MODULES = sorted(FLOWS.rglob("*.py"))
WAREHOUSE_CLIENTS = ("duckdb", "duckdb_engine", "google.cloud.bigquery", "sqlalchemy_bigquery")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {module_name(path): path for path in MODULES}


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """Every module an import statement in the file names (submodules resolved), with its line."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                yield (candidate if candidate in NAMES else node.module), node.lineno


def graph() -> dict[str, set[str]]:
    return {
        name: {target for target, _ in imported(path) if target in NAMES and target != name}
        for name, path in NAMES.items()
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_scan_sees_the_whole_package() -> None:
    assert len(MODULES) >= 60, f"only {len(MODULES)} modules under flows/"
    edges = graph()
    assert sum(len(targets) for targets in edges.values()) >= 150


def test_no_module_imports_itself_back_through_any_chain_of_imports() -> None:
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_or_type_only_import() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from flows.pipeline.workspace import Workspace\n"
        "def f():\n    from flows.ops.janitor import sweep\n"
    )
    path = FLOWS / "_probe_for_the_test.py"
    try:
        path.write_text(source)
        assert [name for name, _ in imported(path)] == [
            "typing",
            "flows.pipeline.workspace",
            "flows.ops.janitor",
        ]
    finally:
        path.unlink()


def test_outside_the_warehouse_package_nothing_imports_a_warehouse_client() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in MODULES
        if not module_name(path).startswith("flows.warehouse")
        for target, line in imported(path)
        if any(target == c or target.startswith(f"{c}.") for c in WAREHOUSE_CLIENTS)
    ]
    assert found == []


def _target_comparisons(path: Path) -> Iterator[int]:
    """Lines that compare a `target` (settings.target, target == ..., in (...targets))."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(
                (isinstance(o, ast.Attribute) and o.attr == "target")
                or (isinstance(o, ast.Name) and "target" in o.id.lower())
                for o in operands
            ):
                yield node.lineno


# The chooser; and settings, which gives each warehouse its own default state file.
READ_THE_TARGET = (FLOWS / "warehouse" / "choose.py", FLOWS / "settings.py")


def test_only_the_warehouse_chooser_reads_the_target() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in MODULES
        if path not in READ_THE_TARGET
        for line in _target_comparisons(path)
    ]
    assert found == []
    assert list(_target_comparisons(FLOWS / "warehouse" / "choose.py")), "choose.py compares"


def test_the_pipeline_never_imports_the_sample_lake_generator() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in MODULES
        if not module_name(path).startswith(("flows.sample", "flows.cli"))
        for target, line in imported(path)
        if target.startswith("flows.sample")
    ]
    assert found == []


def test_developer_tools_are_not_in_the_runtime_package() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in MODULES
        for target, line in imported(path)
        if target == "tools" or target.startswith("tools.")
    ]
    assert found == []


def test_the_top_of_the_package_stays_small_and_each_subpackage_says_what_it_owns() -> None:
    entries = [p for p in FLOWS.iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 15, sorted(p.name for p in entries)
    for package in (p for p in entries if p.is_dir()):
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert docstring, f"{package.name}/__init__.py has no docstring"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(FLOWS)))
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines"


def _sluice_imports(path: Path) -> Iterator[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of each import of a Sluice module in the file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("flows", "tools", "benchmarks"):
                    yield alias.name, None, node.lineno
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] in ("flows", "tools", "benchmarks")
        ):
            for alias in node.names:
                yield node.module, alias.name, node.lineno


def test_every_import_of_a_sluice_module_names_something_that_exists() -> None:
    """Imports inside functions run late (benchmarks, lazy CLI imports): a moved module or a
    renamed function must fail here, not in the first `make bench` after the move."""
    import importlib

    files = [
        path
        for folder in ("flows", "tools", "benchmarks", "tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
    ]
    broken = []
    for path in files:
        for module, name, line in _sluice_imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            try:
                loaded = importlib.import_module(module)
            except ImportError as error:
                broken.append(f"{where}: {module}: {error}")
                continue
            if name and not hasattr(loaded, name):
                try:
                    importlib.import_module(f"{module}.{name}")
                except ImportError:
                    broken.append(f"{where}: {module} has no {name}")
    assert len(files) > 100
    assert broken == []
