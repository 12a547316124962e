"""The strategy language's two back ends, compiled from the same typed AST (see
:mod:`puhui.decisions.sentinel.expressions`): a Python closure over one row for real time and
a Polars expression over a frame for replay. Both follow SQL null semantics; the unit tests
prove they agree row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

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

Row = Mapping[str, Any]


# --- real time: a closure over one row --------------------------------------------------------

RowFunction = Callable[[Row], Any]


def to_python(node: Node) -> RowFunction:
    """A function of one row (feature → value; NaN counts as null) with SQL null semantics."""
    if isinstance(node, Literal_):
        value = node.value
        return lambda row: value
    if isinstance(node, Name):
        key = node.name

        def read(row: Row) -> Any:
            value = row.get(key)
            return None if value is None or value != value else value  # NaN → null

        return read
    if isinstance(node, Unary):
        inner = to_python(node.operand)
        if node.op == "not":
            return lambda row: None if (v := inner(row)) is None else not v
        return lambda row: None if (v := inner(row)) is None else -v
    if isinstance(node, Binary):
        return _python_binary(node.op, to_python(node.left), to_python(node.right))
    if isinstance(node, InList):
        inner = to_python(node.operand)
        allowed = frozenset(v.value for v in node.values)
        return lambda row: None if (v := inner(row)) is None else v in allowed
    if isinstance(node, IsNull):
        inner = to_python(node.operand)
        if node.negated:
            return lambda row: inner(row) is not None
        return lambda row: inner(row) is None
    if isinstance(node, Call):
        arguments = [to_python(a) for a in node.arguments]
        if node.function == "coalesce":

            def coalesce(row: Row) -> Any:
                for argument in arguments:
                    value = argument(row)
                    if value is not None:
                        return value
                return None

            return coalesce
        if node.function == "abs":
            first = arguments[0]
            return lambda row: None if (v := first(row)) is None else abs(v)
        a, b = arguments
        pick = min if node.function == "least" else max
        return lambda row: None if (x := a(row)) is None or (y := b(row)) is None else pick(x, y)
    raise ExpressionError(f"unknown node {node!r}")  # pragma: no cover


def _python_binary(op: str, left: RowFunction, right: RowFunction) -> RowFunction:
    if op == "and":

        def conjunction(row: Row) -> bool | None:
            a = left(row)
            if a is False:
                return False
            b = right(row)
            if b is False:
                return False
            return None if a is None or b is None else True

        return conjunction
    if op == "or":

        def disjunction(row: Row) -> bool | None:
            a = left(row)
            if a is True:
                return True
            b = right(row)
            if b is True:
                return True
            return None if a is None or b is None else False

        return disjunction
    operation = _OPERATIONS[op]

    def binary(row: Row) -> Any:
        a = left(row)
        if a is None:
            return None
        b = right(row)
        if b is None:
            return None
        return operation(a, b)

    return binary


def _divide(a: float, b: float) -> float | None:
    return None if b == 0 else a / b


_OPERATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def fires(function: RowFunction, row: Row) -> bool:
    """A condition fires only when true (null and false do not)."""
    return function(row) is True


# --- batch: a Polars expression over a frame --------------------------------------------------


def to_polars(node: Node) -> pl.Expr:
    """The same tree as a Polars expression (columns are the features; NaN must be null)."""
    if isinstance(node, Literal_):
        return pl.lit(node.value, dtype=_POLARS_TYPE.get(node.type or "", pl.Null))
    if isinstance(node, Name):
        return pl.col(node.name)
    if isinstance(node, Unary):
        inner = to_polars(node.operand)
        return inner.not_() if node.op == "not" else -inner
    if isinstance(node, Binary):
        left, right = to_polars(node.left), to_polars(node.right)
        if node.op == "and":
            false = left.not_().fill_null(False) | right.not_().fill_null(False)
            unknown = left.is_null() | right.is_null()
            return pl.when(false).then(False).when(unknown).then(None).otherwise(True)
        if node.op == "or":
            true = left.fill_null(False) | right.fill_null(False)
            unknown = left.is_null() | right.is_null()
            return pl.when(true).then(True).when(unknown).then(None).otherwise(False)
        if node.op == "/":
            return pl.when(right == 0).then(None).otherwise(left / right)
        return {
            "+": lambda: left + right,
            "-": lambda: left - right,
            "*": lambda: left * right,
            "<": lambda: left < right,
            "<=": lambda: left <= right,
            ">": lambda: left > right,
            ">=": lambda: left >= right,
            "==": lambda: left == right,
            "!=": lambda: left != right,
        }[node.op]()
    if isinstance(node, InList):
        inner = to_polars(node.operand)
        return (
            pl.when(inner.is_null())
            .then(None)
            .otherwise(inner.is_in([v.value for v in node.values]))
        )
    if isinstance(node, IsNull):
        inner = to_polars(node.operand)
        return inner.is_not_null() if node.negated else inner.is_null()
    if isinstance(node, Call):
        arguments = [to_polars(a) for a in node.arguments]
        if node.function == "coalesce":
            return pl.coalesce(arguments)
        if node.function == "abs":
            return arguments[0].abs()
        a, b = arguments
        smaller = pl.when(a < b).then(a).otherwise(b)
        larger = pl.when(a > b).then(a).otherwise(b)
        chosen = smaller if node.function == "least" else larger
        return pl.when(a.is_null() | b.is_null()).then(None).otherwise(chosen)
    raise ExpressionError(f"unknown node {node!r}")  # pragma: no cover


_POLARS_TYPE: dict[str, Any] = {"number": pl.Float64, "string": pl.Utf8, "bool": pl.Boolean}


def polars_fires(node: Node) -> pl.Expr:
    """The condition over a frame: true only where it is true."""
    return to_polars(node).fill_null(False)
