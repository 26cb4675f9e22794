"""An AST scan for SQL built from unvalidated strings (tests/unit/test_sql_safety.py runs it).

A statement is what reaches a driver: the first argument of `.execute()`, `.executemany()`,
`.executescript()`, `.sql()` or `.query()` (looking through SQLAlchemy's `text()`), a `sql=` /
`query=` keyword of any call (e.g. a Great Expectations query asset), directly or through a
function parameter (e.g. `StateStore.read(sql)`: every caller's argument is scanned instead,
positional or keyword). Every scope is scanned: module level, functions, async functions and
lambdas.

A piece interpolated into a statement (f-string, str.format, +, +=, %) is safe when it is a literal;
a module-level constant (a literal, or a tuple/list/dict of literals), also one imported from
another scanned module; `identifier(...)`, `project_id(...)` or `database_name(...)` (the whitelists
of flows/project/identifiers.py); a number (`len()`, `int()`, arithmetic of safe pieces, a parameter
annotated int/float/bool); `.isoformat()` of a value annotated date/datetime (mypy --strict holds
the annotations); a local variable every assignment of which (`=`, `+=`, `for`, `with`, `:=`) is
safe; `self.<x>` when its class sets it only from safe values; the result of a function of the same
module or a method of the same class whose every return is safe; or a join of safe pieces. Anything
else must be reviewed: listed with the digest of the code that defines it, so a change to that code
needs a new review.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.sql_ast import (
    Module,
    Scope,
    annotation_names,
    bindings_of,
    dates,
    own_nodes,
    parameters_of,
    pieces,
    scope_name,
)

SINKS = ("execute", "executemany", "executescript", "sql", "query")
SINK_KEYWORDS = ("sql", "query")
VALIDATORS = ("identifier", "project_id", "database_name")
NUMBERS = ("len", "int", "float", "round", "abs")
SAFE_TYPES = ("int", "float", "bool", "date", "datetime", "None")
WRAPPERS = ("text",)  # SQLAlchemy's text(sql): the statement is its argument


def _unwrapped(node: ast.expr) -> ast.expr:
    """The SQL a statement wrapper holds (`text(sql)` -> `sql`), else the node itself."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in WRAPPERS
        and len(node.args) == 1
    ):
        return node.args[0]
    return node


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    function: str
    text: str
    unsafe: tuple[Review, ...] = ()  # a review that would cover each unsafe piece

    def describe(self) -> str:
        pieces = "\n".join(f"    {review!r}" for review in self.unsafe)
        return f"{self.file}:{self.line} in {self.function}: {self.text}\n{pieces}"


@dataclass(frozen=True)
class Review:
    """A reviewed value: (file, function, variable) and the digest of the code defining it."""

    file: str
    function: str
    name: str
    digest: str


@dataclass
class Scanner:
    """Walks every statement sent to a driver and reports unsafe interpolations."""

    modules: list[Module]
    reviewed: frozenset[Review] = frozenset()
    findings: list[Finding] = field(default_factory=list)
    sinks: dict[str, set[tuple[int, str]]] = field(default_factory=dict)  # derived from params
    checked: int = 0  # statements (and SQL arguments of callers) examined
    used: set[Review] = field(default_factory=set)  # reviews that were needed
    local: list[dict[str, ast.expr]] = field(default_factory=list)  # comprehension variables
    digests: dict[int, str] = field(default_factory=dict)  # id of a function -> its digest
    dotted: dict[str, Module] = field(default_factory=dict)  # flows.x.y -> its module

    def run(self) -> list[Finding]:
        pending = [item for module in self.modules for item in self._statements(module, None)]
        seen: set[tuple[str, int, str]] = set()
        while pending:
            module, scope, statement = pending.pop()
            self._check(module, scope, statement)
            self.checked += 1
            for name, places in list(self.sinks.items()):
                for index, parameter in list(places):
                    if (name, index, parameter) not in seen:
                        seen.add((name, index, parameter))
                        for module in self.modules:
                            pending.extend(self._statements(module, (name, index, parameter)))
        return self.findings

    def _statements(
        self, module: Module, derived: tuple[str, int, str] | None
    ) -> Iterator[tuple[Module, Scope, ast.expr]]:
        """Statements of the driver sinks (derived None), or the SQL arguments of a derived one."""
        for scope, call, called in module.calls():
            keywords = {k.arg: k.value for k in call.keywords if k.arg}
            if derived is None:
                if called in SINKS and call.args:
                    yield module, scope, _unwrapped(call.args[0])
                for keyword in SINK_KEYWORDS:
                    if keyword in keywords:
                        yield module, scope, keywords[keyword]
            elif called == derived[0]:
                _, index, parameter = derived
                if len(call.args) > index:
                    yield module, scope, _unwrapped(call.args[index])
                elif parameter in keywords:
                    yield module, scope, keywords[parameter]

    def _check(self, module: Module, scope: Scope, node: ast.expr) -> None:
        if not self._safe(module, scope, node, 0):
            unsafe = tuple(
                self._review_of(module, scope, piece)
                for piece in pieces(node)
                if not self._safe(module, scope, piece, 0)
            )
            self.findings.append(
                Finding(
                    module.name, node.lineno, scope_name(scope), ast.unparse(node)[:120], unsafe
                )
            )

    def _review_of(self, module: Module, scope: Scope, piece: ast.expr) -> Review:
        """The review that would accept an unsafe piece: a variable by the code binding it,
        anything else by the code of its whole function."""
        if isinstance(piece, ast.Name):
            bindings = bindings_of(scope, piece.id)
            if bindings:
                return self._review(module, scope, piece.id, bindings)
        return Review(module.name, scope_name(scope), ast.unparse(piece), self._digest(scope))

    def _digest(self, scope: Scope) -> str:
        """A digest of a function's whole code (computed once per function)."""
        if id(scope) not in self.digests:
            code = ast.unparse(scope).encode()
            self.digests[id(scope)] = hashlib.sha256(code).hexdigest()[:12]
        return self.digests[id(scope)]

    def _safe(self, module: Module, scope: Scope, node: ast.expr, depth: int) -> bool:
        if depth <= 12 and self._proven(module, scope, node, depth):
            return True
        if (module.name, scope_name(scope)) not in {(r.file, r.function) for r in self.reviewed}:
            return False
        code = self._digest(scope)
        for review in (
            Review(module.name, scope_name(scope), "*", code),  # the whole function, reviewed
            Review(module.name, scope_name(scope), ast.unparse(node), code),
        ):
            if review in self.reviewed:
                self.used.add(review)
                return True
        return False

    def _proven(self, module: Module, scope: Scope, node: ast.expr, depth: int) -> bool:

        def again(n: ast.expr) -> bool:
            return self._safe(module, scope, n, depth + 1)

        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.JoinedStr):
            return all(again(v) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return again(node.value)
        if isinstance(node, ast.BinOp):
            return again(node.left) and again(node.right)
        if isinstance(node, ast.BoolOp):
            return all(again(v) for v in node.values)
        if isinstance(node, ast.IfExp):
            return again(node.body) and again(node.orelse)
        if isinstance(node, ast.Subscript):  # a template picked from a module constant
            return isinstance(node.value, ast.Name) and node.value.id in module.constants
        if isinstance(node, ast.Call):
            return self._safe_call(module, scope, node, again) or self._safe_result(
                module, scope, node, depth
            )
        if isinstance(node, ast.GeneratorExp | ast.ListComp | ast.SetComp):
            return self._comprehension(node, again)
        if isinstance(node, ast.Tuple | ast.List):  # `a, b = x, y`: both must be safe
            return all(again(element) for element in node.elts)
        if isinstance(node, ast.Dict):  # e.g. the keywords of a str.format(**values)
            pairs = zip(node.keys, node.values, strict=True)
            return all(again(v) and (k is None or again(k)) for k, v in pairs)
        if isinstance(node, ast.Name):
            return self._safe_name(module, scope, node.id, again)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            # self.<name> set in its class only from safe values (e.g. in __init__)
            values = module.attribute_values(scope, node.attr) if node.value.id == "self" else []
            return bool(values) and all(
                self._safe(module, method, value, depth + 1) for method, value in values
            )
        return False

    def _comprehension(
        self, node: ast.GeneratorExp | ast.ListComp | ast.SetComp, again: object
    ) -> bool:
        """Its items are safe when its element is, each variable safe as its iterable is (the
        variables live in the comprehension only)."""
        check = again
        local: dict[str, ast.expr] = {}
        for generator in node.generators:
            for target in ast.walk(generator.target):
                if isinstance(target, ast.Name):
                    local[target.id] = generator.iter
        self.local.append(local)
        try:
            return bool(check(node.elt))  # type: ignore[operator]
        finally:
            self.local.pop()

    def _safe_call(self, module: Module, scope: Scope, node: ast.Call, again: object) -> bool:
        check = again  # type: ignore[assignment]
        func = node.func
        if isinstance(func, ast.Name) and func.id in (*VALIDATORS, *NUMBERS):
            return True
        if isinstance(func, ast.Name) and func.id in ("min", "max", "str"):
            return all(check(a) for a in node.args)  # type: ignore[operator]
        if isinstance(func, ast.Attribute) and func.attr == "isoformat":
            return self._dated(module, scope, func.value)
        if isinstance(func, ast.Attribute) and func.attr == "format":
            parts = [func.value, *node.args, *(k.value for k in node.keywords)]
            return all(check(p) for p in parts)  # type: ignore[operator]
        if isinstance(func, ast.Attribute) and func.attr == "join":
            return check(func.value) and all(check(a) for a in node.args)  # type: ignore[operator]
        return False

    def _dated(self, module: Module, scope: Scope | None, node: ast.expr) -> bool:
        """Whether node is a date or datetime by its annotation (in this or an outer scope):
        a name annotated so, or an item of a name annotated `tuple[date, date]` and the like."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.func.id in ("date", "datetime")
        item = isinstance(node, ast.Subscript)
        if item:
            node = node.value  # type: ignore[attr-defined]
        if not isinstance(node, ast.Name):
            return False
        while scope is not None:
            annotations = [p.annotation for p in parameters_of(scope) if p.arg == node.id]
            annotations += [
                statement.annotation
                for statement, _ in bindings_of(scope, node.id)
                if isinstance(statement, ast.AnnAssign)
            ]
            if annotations:
                return dates(annotations[0], item)
            scope = module.parents.get(scope)
        return False

    def _safe_result(self, module: Module, scope: Scope, node: ast.Call, depth: int) -> bool:
        """A call of a module-level function of the same file, or of a method of the caller's
        class (`self.m()`), whose every return is safe (its parameters, where returned, become
        sinks: their callers' arguments are scanned)."""
        func = node.func
        if isinstance(func, ast.Name):
            candidates: list[ast.stmt] = module.tree.body
            wanted = func.id
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = module.classes.get(scope)  # type: ignore[arg-type]
            if func.value.id != "self" or owner is None:
                return False
            candidates, wanted = owner.body, func.attr
        else:
            return False
        callee = next(
            (
                f
                for f in candidates
                if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) and f.name == wanted
            ),
            None,
        )
        if callee is None:
            return False
        returns = [r.value for r in own_nodes(callee) if isinstance(r, ast.Return) and r.value]
        return bool(returns) and all(self._safe(module, callee, r, depth + 1) for r in returns)

    def _imported_constant(self, module: Module, name: str) -> bool:
        """A constant that module imports from another scanned module (by its dotted name)."""
        source, original = module.imports.get(name, (None, name))
        if not self.dotted:
            for other in self.modules:
                dotted = other.name.removesuffix(".py").replace("/", ".")
                self.dotted[dotted.removesuffix(".__init__")] = other
        found = self.dotted.get(source or "")
        return found is not None and original in found.constants

    def _safe_name(self, module: Module, scope: Scope, name: str, again: object) -> bool:
        check = again
        for depth, local in enumerate(reversed(self.local)):  # a comprehension's variable
            if name in local:
                outer, self.local = self.local, self.local[: len(self.local) - depth - 1]
                try:
                    return bool(check(local[name]))  # type: ignore[operator]
                finally:
                    self.local = outer
        if name in module.constants or self._imported_constant(module, name):
            return True
        while scope is not None:
            parameters = parameters_of(scope)
            names = [p.arg for p in parameters]
            if name in names:
                return self._safe_parameter(module, scope, parameters[names.index(name)])
            bindings = bindings_of(scope, name)
            if bindings:
                review = self._review(module, scope, name, bindings)
                if review in self.reviewed:
                    self.used.add(review)
                    return True
                return all(value is not None and check(value) for _, value in bindings)  # type: ignore[operator]
            scope = module.parents.get(scope)  # a closure's variable: look outwards
        return False

    def _safe_parameter(self, module: Module, scope: Scope, parameter: ast.arg) -> bool:
        """A parameter annotated as a number, bool or date is safe; any other becomes a sink,
        so every caller's argument for it is scanned."""
        kinds = annotation_names(parameter.annotation)
        if kinds and kinds <= set(SAFE_TYPES):
            return True
        names = [p.arg for p in parameters_of(scope)]
        index = names.index(parameter.arg)
        if isinstance(scope, ast.Lambda):
            owner = next(
                (
                    t.id
                    for node in ast.walk(module.tree)
                    if isinstance(node, ast.Assign) and node.value is scope
                    for t in node.targets
                    if isinstance(t, ast.Name)
                ),
                None,
            )
            if owner is None:
                return False  # an anonymous lambda: its callers cannot be found
            name = owner
        else:
            name = scope.name  # type: ignore[union-attr]
            index -= 1 if names and names[0] in ("self", "cls") else 0
            owner = module.classes.get(scope)  # type: ignore[arg-type]
            if name == "__init__" and owner is not None:
                name = owner.name  # the class is called, not its __init__
        self.sinks.setdefault(name, set()).add((index, parameter.arg))
        return True

    def _review(
        self,
        module: Module,
        scope: Scope,
        name: str,
        bindings: list[tuple[ast.AST, ast.expr | None]],
    ) -> Review:
        code = "\n".join(ast.unparse(statement) for statement, _ in bindings)
        digest = hashlib.sha256(code.encode()).hexdigest()[:12]
        return Review(module.name, scope_name(scope), name, digest)


def scan(
    paths: list[Path], reviewed: frozenset[Review] = frozenset(), root: Path | None = None
) -> list[Finding]:
    return Scanner([Module(p, root) for p in paths], reviewed).run()
