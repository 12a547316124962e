"""策略表达式 · the strategy expression language: parsed once into a typed AST, never eval'd.

A strategy's condition is a small, safe language a risk analyst can read::

    device_apps_24h >= 3 and (firm_age_months < 12 or paid_in_ratio < 0.1)
    channel in ('wechat', 'open_api') and coalesce(prior_declines_30d, 0) > 1
    legal_rep_overdue_amount is not null

Numbers, strings and booleans; ``+ - * /``, comparisons, ``and or not``, ``in (…)``,
``is [not] null`` and the functions ``coalesce``, ``abs``, ``least``, ``greatest``. Nulls
follow SQL: arithmetic or a comparison with a null is null, ``and``/``or`` are three-valued,
division by zero is null; a condition fires only when it is true. The AST is checked against
the feature schema when loaded (unknown names, type errors) and then compiled twice from the
same tree (:mod:`puhui.decisions.sentinel.compile`): to a Python closure over one row (real
time) and to a Polars expression over a frame (batch replay); the unit tests prove they agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from puhui.errors import PuhuiError

Type = Literal["number", "string", "bool"]


class ExpressionError(PuhuiError):
    """A strategy expression that does not parse or does not type-check."""


# --- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal_:
    value: float | str | bool | None
    type: Type | None  # None for the null literal


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / < <= > >= == != and or
    left: Node
    right: Node


@dataclass(frozen=True)
class InList:
    operand: Node
    values: tuple[Literal_, ...]


@dataclass(frozen=True)
class IsNull:
    operand: Node
    negated: bool


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple[Node, ...]


Node = Literal_ | Name | Unary | Binary | InList | IsNull | Call

FUNCTIONS = {"coalesce": (1, 8), "abs": (1, 1), "least": (2, 2), "greatest": (2, 2)}
_COMPARE = {"<", "<=", ">", ">=", "==", "!="}
_ARITH = {"+", "-", "*", "/"}
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}

# --- parsing ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)"
    r"|(?P<string>'(?:[^'\\]|\\.)*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\)|,))"
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(
                f"unexpected character {text[position:].strip()[:1]!r} at {position}"
            )
        group = match.lastgroup or "op"
        kind, value = group, match.group(group)
        if kind == "name" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append(_Token(kind, value, match.start(group)))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent: or → and → not → comparison → sum → product → unary → primary."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self, text: str | None = None, kind: str | None = None) -> _Token:
        token = self.peek()
        if (text is not None and token.text != text) or (kind is not None and token.kind != kind):
            wanted = text or kind
            found = token.text or "the end"
            raise ExpressionError(f"expected {wanted!r} at {token.at}, found {found!r}")
        self.index += 1
        return token

    def accept(self, text: str) -> bool:
        if self.peek().text == text and self.peek().kind in {"op", "keyword"}:
            self.index += 1
            return True
        return False

    def parse(self) -> Node:
        node = self.disjunction()
        if self.peek().kind != "end":
            raise ExpressionError(f"unexpected {self.peek().text!r} at {self.peek().at}")
        return node

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.accept("or"):
            node = Binary("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.accept("and"):
            node = Binary("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.accept("not"):
            return Unary("not", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.sum()
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARE:
            self.index += 1
            return Binary(token.text, node, self.sum())
        if self.peek().text == "in" and self.peek().kind == "keyword":
            return self.comparison_in(node)
        if self.accept("is"):
            negated = self.accept("not")
            self.take("null")
            return IsNull(node, negated)
        if token.kind == "keyword" and token.text == "not":  # ``x not in (…)``
            self.index += 1
            return Unary("not", self.comparison_in(node))
        return node

    def comparison_in(self, node: Node) -> Node:
        self.take("in")
        self.take("(")
        values = [self.literal()]
        while self.accept(","):
            values.append(self.literal())
        self.take(")")
        return InList(node, tuple(values))

    def literal(self) -> Literal_:
        negative = self.accept("-")
        node = self.primary()
        if not isinstance(node, Literal_) or node.value is None:
            raise ExpressionError(f"a list after 'in' holds literals only (at {self.peek().at})")
        if negative:
            if node.type != "number":
                raise ExpressionError("only a number can be negative in an 'in' list")
            return Literal_(-float(node.value), "number")  # type: ignore[arg-type]
        return node

    def sum(self) -> Node:
        node = self.product()
        while self.peek().kind == "op" and self.peek().text in {"+", "-"}:
            op = self.take().text
            node = Binary(op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().text in {"*", "/"}:
            op = self.take().text
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.accept("-"):
            return Unary("-", self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Literal_(float(token.text), "number")
        if token.kind == "string":
            return Literal_(bytes(token.text[1:-1], "utf-8").decode("unicode_escape"), "string")
        if token.kind == "keyword" and token.text in {"true", "false"}:
            return Literal_(token.text == "true", "bool")
        if token.kind == "keyword" and token.text == "null":
            return Literal_(None, None)
        if token.kind == "name":
            if self.accept("("):
                arguments: list[Node] = []
                if not self.accept(")"):
                    arguments.append(self.disjunction())
                    while self.accept(","):
                        arguments.append(self.disjunction())
                    self.take(")")
                return Call(token.text.lower(), tuple(arguments))
            return Name(token.text)
        if token.text == "(":
            node = self.disjunction()
            self.take(")")
            return node
        raise ExpressionError(f"unexpected {token.text or 'end'!r} at {token.at}")


def parse(text: str) -> Node:
    """The AST of ``text``; :class:`ExpressionError` with the position when it does not parse."""
    if not text or not text.strip():
        raise ExpressionError("empty expression")
    return _Parser(text).parse()


# --- type checking ----------------------------------------------------------------------------


def check(node: Node, schema: Mapping[str, Type]) -> Type | None:
    """The type of ``node`` over ``schema`` (feature → type); ``None`` is the bare null."""
    if isinstance(node, Literal_):
        return node.type
    if isinstance(node, Name):
        if node.name not in schema:
            raise ExpressionError(f"unknown feature {node.name!r}")
        return schema[node.name]
    if isinstance(node, Unary):
        inner = check(node.operand, schema)
        wanted: Type = "bool" if node.op == "not" else "number"
        _expect(inner, wanted, f"'{node.op}'")
        return wanted
    if isinstance(node, Binary):
        left, right = check(node.left, schema), check(node.right, schema)
        if node.op in {"and", "or"}:
            _expect(left, "bool", f"'{node.op}'")
            _expect(right, "bool", f"'{node.op}'")
            return "bool"
        if node.op in _ARITH:
            _expect(left, "number", f"'{node.op}'")
            _expect(right, "number", f"'{node.op}'")
            return "number"
        if left is not None and right is not None and left != right:
            raise ExpressionError(f"cannot compare {left} with {right} using '{node.op}'")
        if node.op in {"<", "<=", ">", ">="} and "bool" in {left, right}:
            raise ExpressionError(f"'{node.op}' does not order booleans")
        return "bool"
    if isinstance(node, InList):
        inner = check(node.operand, schema)
        for value in node.values:
            if inner is not None and value.type != inner:
                raise ExpressionError(f"'in' list mixes {inner} with {value.type}")
        return "bool"
    if isinstance(node, IsNull):
        check(node.operand, schema)
        return "bool"
    if isinstance(node, Call):
        if node.function not in FUNCTIONS:
            raise ExpressionError(f"unknown function {node.function!r}")
        low, high = FUNCTIONS[node.function]
        if not low <= len(node.arguments) <= high:
            raise ExpressionError(f"{node.function}() takes {low}–{high} arguments")
        types = {check(a, schema) for a in node.arguments} - {None}
        if len(types) > 1:
            raise ExpressionError(f"{node.function}() mixes {' and '.join(sorted(types))}")
        if node.function != "coalesce":
            for kind in types:
                _expect(kind, "number", f"{node.function}()")
        return next(iter(types)) if types else None
    raise ExpressionError(f"unknown node {node!r}")  # pragma: no cover


def _expect(found: Type | None, wanted: Type, where: str) -> None:
    if found is not None and found != wanted:
        raise ExpressionError(f"{where} needs {wanted}, found {found}")


def names(node: Node) -> set[str]:
    """Every feature the expression reads."""
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Unary | IsNull):
        return names(node.operand)
    if isinstance(node, InList):
        return names(node.operand)
    if isinstance(node, Binary):
        return names(node.left) | names(node.right)
    if isinstance(node, Call):
        return set().union(*(names(a) for a in node.arguments))
    return set()
