"""No SQL built from unvalidated strings: an AST scan of every statement flows/ sends a driver.

A statement is what reaches `.execute()`, `.executemany()` or `.sql()`, directly or through a
function parameter (e.g. `StateStore.read(sql)`: every caller's argument is scanned instead).
It is safe when each piece interpolated into it (f-string, str.format, +, %) is a literal, a
module-level constant, `identifier(...)` (the whitelist of flows/project/identifiers.py), a local
variable
assigned only from safe pieces, or a join of safe pieces. Anything else must be listed in
REVIEWED with the reason it is safe, so a new f-string with a user value fails this test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Every Python file of the runtime package and of the developer tools, at any depth.
SCANNED = sorted([*(ROOT / "flows").rglob("*.py"), *(ROOT / "tools").rglob("*.py")])
SINKS = ("execute", "executemany", "sql")
# The whitelist validators of flows/project/identifiers.py: what they return is safe in SQL.
VALIDATORS = ("identifier", "project_id", "database_name")
# (file, function, variable): why the value interpolated into SQL is not user input.
REVIEWED = {
    ("janitor.py", "_state", "where"): "a row of the module constant _STATE_SWEEPS",
    ("janitor.py", "_state", "table"): "a row of the module constant _STATE_SWEEPS",
    ("janitor.py", "_state", "doomed"): "built only from `where` of _STATE_SWEEPS",
    ("bigquery_landing.py", "land", "RAW_SCHEMA"): "a constant imported from flows.landing",
    ("bigquery_landing.py", "land", "QUARANTINE"): "a constant imported from flows.landing",
    ("duckdb_landing.py", "_land_table", "reason_sql"): (
        "_reason_expression binds every value as $pN; its SQL text is constant templates and "
        "placeholders (test_reason_expression_binds_every_value)"
    ),
    ("duckdb_publish.py", "_copy_window", "kind"): (
        "a column type read from DuckDB's own catalog and matched against _TYPE first"
    ),
    ("runner.py", "_failing_rows", "query"): (
        "built by _failing_rows_query from the project's own suite files (code under review, "
        "not a parameter); column names pass identifier()"
    ),
}


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    function: str
    text: str


class _Module:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(), filename=str(path))
        self.constants = {
            target.id
            for node in self.tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name) and _static(node.value)
        }


def _static(node: ast.expr) -> bool:
    """A literal string built only from literals (module constants)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) for v in node.values)
    return False


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            yield node


def _assignments(function: ast.FunctionDef, name: str) -> list[ast.expr]:
    values: list[ast.expr] = []
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            names = {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if name in names:
                values.append(node.value)
        elif isinstance(node, ast.comprehension | ast.For) and any(
            isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.target)
        ):
            values.append(node.iter)
    return values


class Scanner:
    """Walks every statement sent to a driver and reports unsafe interpolations."""

    def __init__(self, modules: list[_Module]) -> None:
        self.modules = modules
        self.findings: list[Finding] = []
        self.sinks: dict[str, int] = {}  # function name -> index of its SQL parameter
        self.checked = 0  # statements (and SQL arguments of callers) examined

    def run(self) -> list[Finding]:
        pending: list[tuple[_Module, ast.FunctionDef, ast.expr]] = []
        for module in self.modules:
            for function in _functions(module.tree):
                for call in ast.walk(function):
                    if (
                        isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Attribute)
                        and call.func.attr in SINKS
                        and call.args
                    ):
                        pending.append((module, function, call.args[0]))
        seen_sinks: set[str] = set()
        while pending:
            module, function, statement = pending.pop()
            self._check(module, function, statement, depth=0)
            self.checked += 1
            for name, index in list(self.sinks.items()):
                if name not in seen_sinks:
                    seen_sinks.add(name)
                    pending.extend(self._callers(name, index))
        return self.findings

    def _callers(
        self, name: str, index: int
    ) -> Iterator[tuple[_Module, ast.FunctionDef, ast.expr]]:
        for module in self.modules:
            for function in _functions(module.tree):
                for call in ast.walk(function):
                    if not isinstance(call, ast.Call):
                        continue
                    func = call.func
                    called = (
                        func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    )
                    if called == name and len(call.args) > index:
                        yield module, function, call.args[index]

    def _check(
        self, module: _Module, function: ast.FunctionDef, node: ast.expr, depth: int
    ) -> None:
        if not self._safe(module, function, node, depth):
            self.findings.append(
                Finding(module.path.name, node.lineno, function.name, ast.unparse(node)[:120])
            )

    def _safe(self, module: _Module, function: ast.FunctionDef, node: ast.expr, depth: int) -> bool:
        if depth > 8:
            return False
        again = lambda n: self._safe(module, function, n, depth + 1)  # noqa: E731
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.JoinedStr):
            return all(again(v) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return again(node.value)
        if isinstance(node, ast.BinOp):
            return again(node.left) and again(node.right)
        if isinstance(node, ast.IfExp):
            return again(node.body) and again(node.orelse)
        if isinstance(node, ast.Subscript):  # a template picked from a module constant
            return isinstance(node.value, ast.Name) and node.value.id in module.constants
        if isinstance(node, ast.Call):
            return self._safe_call(node, again) or self._safe_result(module, node, depth)
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            return again(node.elt)
        if isinstance(node, ast.Tuple):  # `a, b = x, y`: both must be safe
            return all(again(element) for element in node.elts)
        if isinstance(node, ast.Name):
            return self._safe_name(module, function, node.id, again)
        return False

    def _safe_call(self, node: ast.Call, again: object) -> bool:
        check = again  # type: ignore[assignment]
        func = node.func
        if isinstance(func, ast.Name) and func.id in VALIDATORS:
            return True
        if isinstance(func, ast.Attribute) and func.attr == "isoformat":
            return True  # a date's ISO text: digits and dashes
        if isinstance(func, ast.Attribute) and func.attr == "format":
            parts = [func.value, *node.args, *(k.value for k in node.keywords)]
            return all(check(p) for p in parts)  # type: ignore[operator]
        if isinstance(func, ast.Attribute) and func.attr == "join":
            return check(func.value) and all(check(a) for a in node.args)  # type: ignore[operator]
        return False

    def _safe_result(self, module: _Module, node: ast.Call, depth: int) -> bool:
        """A call of a module-level function of the same file whose every return is safe (its
        parameters, where returned, become sinks: their callers' arguments are scanned)."""
        if not isinstance(node.func, ast.Name):
            return False
        callee = next(
            (
                f
                for f in module.tree.body
                if isinstance(f, ast.FunctionDef) and f.name == node.func.id
            ),
            None,
        )
        if callee is None:
            return False
        returns = [r.value for r in ast.walk(callee) if isinstance(r, ast.Return) and r.value]
        return bool(returns) and all(self._safe(module, callee, r, depth + 1) for r in returns)

    def _safe_name(
        self, module: _Module, function: ast.FunctionDef, name: str, again: object
    ) -> bool:
        check = again
        if name in module.constants:
            return True
        if (module.path.name, function.name, name) in REVIEWED:
            return True
        parameters = [a.arg for a in function.args.args]
        if name in parameters:  # the caller supplies the SQL: scan every caller instead
            index = parameters.index(name) - (1 if parameters[0] in ("self", "cls") else 0)
            self.sinks[function.name] = index
            return True
        values = _assignments(function, name)
        return bool(values) and all(check(v) for v in values)  # type: ignore[operator]


def scan(paths: list[Path]) -> list[Finding]:
    return Scanner([_Module(p) for p in paths]).run()


def test_no_statement_in_flows_interpolates_an_unvalidated_value() -> None:
    # A scan that finds no file (a moved package, a wrong glob) must not pass: count them.
    assert len(SCANNED) >= 80, f"only {len(SCANNED)} Python files under flows/ and tools/"
    assert {"duckdb_landing.py", "ledger.py", "ops_mirror.py", "emulator_run.py"} <= {
        path.name for path in SCANNED
    }
    scanner = Scanner([_Module(path) for path in SCANNED])
    findings = scanner.run()
    assert scanner.checked >= 80, f"only {scanner.checked} statements were examined"
    assert findings == [], "\n".join(
        f"{f.file}:{f.line} in {f.function}: {f.text}" for f in findings
    )


def test_the_scan_follows_a_user_value_into_sql_through_calls(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "RAW = 'raw'\n"
        "def load(con, table, dt):\n"
        "    con.execute(f'delete from {RAW}.{table} where dt = $dt', {'dt': dt})\n"
        "def count(con, schema):\n"
        "    sql = 'select count(*) from ' + schema\n"
        "    return run(con, sql)\n"
        "def run(con, statement):\n"
        "    return con.execute(statement)\n"
        "def fine(con, name):\n"
        "    con.execute(f'select * from raw.{identifier(name, \"t\")}')\n"
        "def main(con, args):\n"
        "    count(con, args.schema)\n"
        "    run(con, 'select {}'.format(args.text))\n"
        "    load(con, args.table, args.date)\n"
        "    fine(con, args.name)\n"
        "    run(con, 'select 1')\n"
    )
    found = {(f.function, f.line) for f in scan([bad])}
    assert found == {("main", 12), ("main", 13), ("main", 14)}


def test_reason_expression_binds_every_value() -> None:
    from datetime import date

    from flows.project.lake_tables import FieldRule, LakeTable
    from flows.warehouse.duckdb_landing import _reason_expression

    fields = (
        FieldRule("kind", "string", (), ("a'b", "c")),
        FieldRule("happened_at", "timestamp", ()),
        FieldRule("slot_number", "integer", ("c",)),
        FieldRule("note_text", "string", None),
    )
    table = LakeTable("events", "app", "events", "jsonl", fields, "happened_at", "kind")
    sql, params = _reason_expression(table, date(2026, 11, 1), 3)
    for rule in fields:
        assert rule.name not in sql, rule.name  # field paths are bound, never inlined
    assert "a'b" not in sql and "missing_field" not in sql and "2026" not in sql
    values = list(params.values())
    assert params["paths"] == ["$.kind", "$.happened_at", "$.slot_number", "$.note_text"]
    for bound in (["a'b", "c"], "missing_field:kind", "bad_type:kind"):
        assert bound in values, bound
