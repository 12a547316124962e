"""Straight-line Python for the sentinel's real-time hot path, generated once per strategy set or
model and compiled with ``compile`` — no closures per AST node, no loops over tree arrays.

Why: a preview decision screens 137 strategies and scores ~20 models in Python; walking closures
and tree arrays cost more than half of a decision's CPU. The generated code performs exactly the
operations of the reference implementations (:func:`puhui.decisions.sentinel.compile.to_python`,
``IsolationScorer.raw_one``, ``LogitScorer.score_one``) in the same order, so results are
bit-for-bit identical (the unit tests compare them on many rows). The source is built only from
the parsed, type-checked AST and the fitted numbers — never from raw strategy text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from puhui.decisions.sentinel.expressions import (
    Binary,
    Call,
    ExpressionError,
    InList,
    IsNull,
    Literal_,
    Name,
    Node,
    Unary,
)

ScreenFunction = Callable[[Mapping[str, Any]], list[int]]
_COMPARE_OR_ARITH = {"+", "-", "*", "<", "<=", ">", ">=", "==", "!="}  # "/" is null-safe apart


class _Source:
    """Lines of a function body plus the constants it refers to by name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self._next = 0

    def var(self) -> str:
        self._next += 1
        return f"v{self._next}"

    def constant(self, value: Any) -> str:
        """A literal in the source when it reads back exactly, else a named constant."""
        if value is None or isinstance(value, (bool, str, int)):
            return repr(value)
        if isinstance(value, float) and math.isfinite(value):
            return repr(value)
        name = f"k{len(self.constants)}"
        self.constants[name] = value
        return name

    def add(self, depth: int, line: str) -> None:
        self.lines.append(" " * depth + line)

    def build(self, name: str, header: str, namespace: Mapping[str, Any]) -> Callable[..., Any]:
        text = f"def {name}({header}):\n" + "\n".join(self.lines) + "\n"
        scope: dict[str, Any] = {**namespace, **self.constants}
        # The source is generated from the parsed, type-checked AST and fitted numbers only.
        exec(compile(text, f"<sentinel:{name}>", "exec"), scope)
        return scope[name]  # type: ignore[no-any-return]


# --- strategies -------------------------------------------------------------------------------


class _Expression:
    """Emits one expression's statements (SQL null semantics, short-circuits as the closures)."""

    def __init__(self, source: _Source, names: Mapping[str, str]) -> None:
        self.source = source
        self.names = names  # feature → local holding its value (NaN already read as null)

    def emit(self, node: Node, depth: int) -> str:
        """Statements at ``depth`` leaving the node's value in the returned local."""
        s = self.source
        out = s.var()
        if isinstance(node, Literal_):
            s.add(depth, f"{out} = {s.constant(node.value)}")
        elif isinstance(node, Name):
            s.add(depth, f"{out} = {self.names[node.name]}")
        elif isinstance(node, Unary):
            a = self.emit(node.operand, depth)
            op = "not " if node.op == "not" else "-"
            s.add(depth, f"{out} = None if {a} is None else {op}{a}")
        elif isinstance(node, Binary) and node.op in {"and", "or"}:
            stop = "False" if node.op == "and" else "True"
            go_on = "True" if node.op == "and" else "False"
            a = self.emit(node.left, depth)
            s.add(depth, f"if {a} is {stop}:")
            s.add(depth + 1, f"{out} = {stop}")
            s.add(depth, "else:")
            b = self.emit(node.right, depth + 1)
            s.add(
                depth + 1,
                f"{out} = {stop} if {b} is {stop} else "
                f"(None if {a} is None or {b} is None else {go_on})",
            )
        elif isinstance(node, Binary):
            a = self.emit(node.left, depth)
            s.add(depth, f"if {a} is None:")
            s.add(depth + 1, f"{out} = None")
            s.add(depth, "else:")
            b = self.emit(node.right, depth + 1)
            if node.op == "/":
                value = f"(None if {b} == 0 else {a} / {b})"
            elif node.op in _COMPARE_OR_ARITH:
                value = f"({a} {node.op} {b})"
            else:  # pragma: no cover - the parser admits no other operator
                raise ExpressionError(f"unknown operator {node.op!r}")
            s.add(depth + 1, f"{out} = None if {b} is None else {value}")
        elif isinstance(node, InList):
            a = self.emit(node.operand, depth)
            allowed = s.constant(frozenset(v.value for v in node.values))
            s.add(depth, f"{out} = None if {a} is None else {a} in {allowed}")
        elif isinstance(node, IsNull):
            a = self.emit(node.operand, depth)
            s.add(depth, f"{out} = {a} is {'not ' if node.negated else ''}None")
        elif isinstance(node, Call):
            self._call(node, out, depth)
        else:  # pragma: no cover
            raise ExpressionError(f"unknown node {node!r}")
        return out

    def _call(self, node: Call, out: str, depth: int) -> None:
        s = self.source
        if node.function == "coalesce":
            for i, argument in enumerate(node.arguments):
                value = self.emit(argument, depth)
                if i == len(node.arguments) - 1:
                    s.add(depth, f"{out} = {value}")
                    break
                s.add(depth, f"if {value} is not None:")
                s.add(depth + 1, f"{out} = {value}")
                s.add(depth, "else:")
                depth += 1
        elif node.function == "abs":
            a = self.emit(node.arguments[0], depth)
            s.add(depth, f"{out} = None if {a} is None else abs({a})")
        else:
            pick = "min" if node.function == "least" else "max"
            a = self.emit(node.arguments[0], depth)
            s.add(depth, f"if {a} is None:")
            s.add(depth + 1, f"{out} = None")
            s.add(depth, "else:")
            b = self.emit(node.arguments[1], depth + 1)
            s.add(depth + 1, f"{out} = None if {b} is None else {pick}({a}, {b})")


def compile_conditions(nodes: Sequence[Node]) -> ScreenFunction:
    """One function of a row giving the positions of the conditions that are true (a
    condition fires only when true, as :func:`puhui.decisions.sentinel.compile.fires`).

    Each feature is read once (the row does not change while it is screened)."""
    source = _Source()
    features = sorted(set().union(*(_names(n) for n in nodes))) if nodes else []
    locals_ = {feature: f"f{i}" for i, feature in enumerate(features)}
    source.add(1, "get = row.get")
    for feature, local in locals_.items():
        source.add(1, f"{local} = get({feature!r})")
        source.add(1, f"if {local} is not None and {local} != {local}:")  # NaN → null
        source.add(2, f"{local} = None")
    source.add(1, "fired = []")
    expression = _Expression(source, locals_)
    for position, node in enumerate(nodes):
        value = expression.emit(node, 1)
        source.add(1, f"if {value} is True:")
        source.add(2, f"fired.append({position})")
    source.add(1, "return fired")
    return source.build("screen", "row", {})  # type: ignore[return-value]


def _names(node: Node) -> set[str]:
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Unary):
        return _names(node.operand)
    if isinstance(node, Binary):
        return _names(node.left) | _names(node.right)
    if isinstance(node, (InList, IsNull)):
        return _names(node.operand)
    if isinstance(node, Call):
        return set().union(*(_names(a) for a in node.arguments))
    return set()


# --- models -----------------------------------------------------------------------------------


def compile_logit(
    medians: Sequence[float],
    means: Sequence[float],
    stds: Sequence[float],
    coefs: Sequence[float],
    intercept: float,
) -> Callable[[Sequence[float]], float]:
    """``LogitScorer``'s raw score of one row, unrolled (same operations, same order)."""
    source = _Source()
    width = len(coefs)
    unpack = ", ".join(f"x{i}" for i in range(width))
    source.add(1, f"{unpack}{',' if width == 1 else ''} = values" if width else "pass")
    source.add(1, f"total = {source.constant(intercept)}")
    for i in range(width):
        median, mean = source.constant(medians[i]), source.constant(means[i])
        std, coef = source.constant(stds[i]), source.constant(coefs[i])
        source.add(1, f"v = {median} if x{i} != x{i} else x{i}")
        source.add(1, "v = copysign(log1p(abs(v)), v)")
        source.add(1, f"total += {coef} * (v - {mean}) / {std}")
    source.add(1, "return total")
    return source.build(  # type: ignore[return-value]
        "logit", "values", {"copysign": math.copysign, "log1p": math.log1p}
    )


def compile_isolation_trees(
    medians: Sequence[float],
    trees: Sequence[tuple[list[int], list[int], list[int], list[float], list[float]]],
) -> Callable[[Sequence[float]], float]:
    """The summed path length of one row over an isolation forest's trees, as nested ``if``s
    (``IsolationScorer.raw_one`` before its final scaling; same sums in the same order)."""
    source = _Source()
    width = len(medians)
    names = [f"x{i}" for i in range(width)]
    if width:
        source.add(1, f"{', '.join(names)}{',' if width == 1 else ''} = values")
    for i, name in enumerate(names):
        source.add(1, f"if {name} != {name}:")
        source.add(2, f"{name} = {source.constant(medians[i])}")
    source.add(1, "total = 0.0")
    for tree in trees:
        _emit_tree(source, tree, names, 0, 0, 1)
    source.add(1, "return total")
    return source.build("forest", "values", {})  # type: ignore[return-value]


def _emit_tree(
    source: _Source,
    tree: tuple[list[int], list[int], list[int], list[float], list[float]],
    names: Sequence[str],
    node: int,
    depth: int,
    indent: int,
) -> None:
    """One subtree: a leaf adds its depth plus the leaf's path-length correction, an inner
    node branches on ``value <= threshold`` (trees are at most ~10 levels deep)."""
    left, right, feature, threshold, leaf = tree
    if left[node] == -1:
        source.add(indent, f"total += {source.constant(depth + leaf[node])}")
        return
    source.add(indent, f"if {names[feature[node]]} <= {source.constant(threshold[node])}:")
    _emit_tree(source, tree, names, left[node], depth + 1, indent + 1)
    source.add(indent, "else:")
    _emit_tree(source, tree, names, right[node], depth + 1, indent + 1)
