"""The Python syntax the SQL scan (tests/sql_scan.py) reasons about: scopes, what binds a name,
annotations, module constants and the pieces interpolated into a string."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

Scope = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def scope_name(scope: Scope) -> str:
    return getattr(scope, "name", "<lambda>" if isinstance(scope, ast.Lambda) else "<module>")


def own_nodes(scope: Scope) -> Iterator[ast.AST]:
    """The nodes of a scope, not those of the functions and lambdas nested in it."""
    stack: list[ast.AST] = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def static(node: ast.expr | None) -> bool:
    """A literal, an f-string of literals, or a tuple/list/dict of those."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) for v in node.values)
    if isinstance(node, ast.Tuple | ast.List):
        return all(static(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(static(k) and static(v) for k, v in zip(node.keys, node.values, strict=True))
    return False


def parameters_of(scope: Scope) -> list[ast.arg]:
    if isinstance(scope, ast.Module):
        return []
    args = scope.args
    return [*args.posonlyargs, *args.args, *args.kwonlyargs]


def annotation_names(annotation: ast.expr | None) -> set[str]:
    """The type names of an annotation (`date | None` -> {date, None}); {} when unknown."""
    if annotation is None:
        return set()
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation_names(ast.parse(annotation.value, mode="eval").body)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        left, right = annotation_names(annotation.left), annotation_names(annotation.right)
        return left | right if left and right else set()
    if isinstance(annotation, ast.Name):
        return {annotation.id}
    if isinstance(annotation, ast.Attribute):
        return {annotation.attr}
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return {"None"}
    return set()


def pieces(node: ast.expr) -> Iterator[ast.expr]:
    """The values interpolated into a statement (or the statement itself, if it is one)."""
    if isinstance(node, ast.JoinedStr):
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                yield from pieces(value.value)
    elif isinstance(node, ast.BinOp):
        yield from pieces(node.left)
        yield from pieces(node.right)
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        yield from pieces(node.func.value)
        for part in [*node.args, *(k.value for k in node.keywords)]:
            yield from pieces(part)
    elif not isinstance(node, ast.Constant):
        yield node


def dates(annotation: ast.expr | None, item: bool) -> bool:
    """Whether an annotation says date/datetime (of its items, e.g. `tuple[date, date]`)."""
    if not item:
        kinds = annotation_names(annotation)
        return bool(kinds) and kinds <= {"date", "datetime", "None"}
    if not isinstance(annotation, ast.Subscript):
        return False
    inner = annotation.slice
    items = inner.elts if isinstance(inner, ast.Tuple) else [inner]
    items = [i for i in items if not (isinstance(i, ast.Constant) and i.value is Ellipsis)]
    return bool(items) and all(dates(i, False) for i in items)


class Module:
    """One parsed file, with its module-level constants and the scopes it holds."""

    def __init__(self, path: Path, root: Path | None = None) -> None:
        self.path = path
        self.name = str(path.relative_to(root)) if root else path.name  # in findings, reviews
        self.tree = ast.parse(path.read_text(), str(path))
        self.constants = {
            target.id
            for node in self.tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign) and static(node.value)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        self.imports = {
            alias.asname or alias.name: (node.module, alias.name)
            for node in self.tree.body
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names
        }
        self.parents: dict[ast.AST, Scope] = {}
        for scope in self.scopes():
            for node in own_nodes(scope):
                if isinstance(node, SCOPES):
                    self.parents[node] = scope
        self.classes = {
            method: node
            for node in ast.walk(self.tree)
            if isinstance(node, ast.ClassDef)
            for method in node.body
            if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef)
        }

    def attribute_values(self, method: Scope, attribute: str) -> list[tuple[Scope, ast.expr]]:
        """Every `self.<attribute> = value` of the class of method, with the method assigning."""
        owner = self.classes.get(method)  # type: ignore[arg-type]
        if owner is None:
            return []
        return [
            (other, node.value)
            for other in owner.body
            if isinstance(other, ast.FunctionDef | ast.AsyncFunctionDef)
            for node in own_nodes(other)
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Attribute)
            and target.attr == attribute
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        ]

    def scopes(self) -> Iterator[Scope]:
        yield self.tree
        for node in ast.walk(self.tree):
            if isinstance(node, SCOPES):
                yield node

    def calls(self) -> list[tuple[Scope, ast.Call, str]]:
        """Every call of the module with its scope and the name called (walked once)."""
        if not hasattr(self, "_calls"):
            self._calls = [
                (scope, node, _called(node))
                for scope in self.scopes()
                for node in own_nodes(scope)
                if isinstance(node, ast.Call)
            ]
        return self._calls


def _called(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def bindings_of(scope: Scope, name: str) -> list[tuple[ast.AST, ast.expr | None]]:
    """Every statement of the scope that binds name, with the value it binds (None: unknown)."""
    found: list[tuple[ast.AST, ast.expr | None]] = []

    def binds(target: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target))

    for node in own_nodes(scope):
        if isinstance(node, ast.Assign):
            if any(binds(t) for t in node.targets):
                found.append((node, node.value))
        elif isinstance(node, ast.AugAssign | ast.AnnAssign | ast.NamedExpr):
            if binds(node.target):
                found.append((node, node.value))
        elif isinstance(node, ast.For | ast.AsyncFor) and binds(node.target):
            found.append((node, node.iter))
        elif isinstance(node, ast.withitem) and node.optional_vars and binds(node.optional_vars):
            found.append((node, None))
    return found
