"""The strategy expression language: parsing, validation at load, and real-time/batch parity."""

from __future__ import annotations

import random

import polars as pl
import pytest

from puhui.decisions.sentinel.compile import polars_fires, to_python
from puhui.decisions.sentinel.expressions import ExpressionError, check, parse
from puhui.decisions.sentinel.spec import Action, Strategy, StrategyError, compile_strategy

SCHEMA = {"a": "number", "b": "number", "c": "string", "f": "bool"}
EXPRESSIONS = [
    "a >= 3 and (b < 12 or c not in ('x', 'y'))",
    "coalesce(a, 0) / b > -1",
    "a is not null and not f",
    "least(a, b) <= 2 or greatest(a, b) > 8",
    "abs(a - b) * 2 >= 5 and c == 'x'",
    "f or a + b > 10",
    "not (a < 1 or b is null)",
    "c in ('x') and coalesce(f, true)",
]


def _rows(n: int) -> list[dict[str, object]]:
    rng = random.Random(3)

    def maybe(value: object) -> object:
        return None if rng.random() < 0.25 else value

    return [
        {
            "a": maybe(float(rng.randint(-2, 10))),
            "b": maybe(float(rng.randint(-1, 12))),
            "c": maybe(rng.choice(["x", "y", "z"])),
            "f": maybe(rng.random() < 0.5),
        }
        for _ in range(n)
    ]


def test_one_definition_evaluates_the_same_per_row_and_over_a_frame() -> None:
    rows = _rows(400)
    frame = pl.DataFrame(
        rows, schema={"a": pl.Float64, "b": pl.Float64, "c": pl.Utf8, "f": pl.Boolean}
    )
    for text in EXPRESSIONS:
        node = parse(text)
        assert check(node, SCHEMA) == "bool"
        function = to_python(node)
        per_row = [function(row) is True for row in rows]
        batch = frame.select(polars_fires(node)).to_series().to_list()
        assert per_row == batch, text


def test_nulls_follow_sql_three_valued_logic() -> None:
    assert to_python(parse("a > 1 and f"))({"a": None, "f": False}) is False
    assert to_python(parse("a > 1 or f"))({"a": None, "f": True}) is True
    assert to_python(parse("a > 1 or f"))({"a": None, "f": False}) is None
    assert to_python(parse("a / b"))({"a": 1.0, "b": 0.0}) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("unknown_feature > 1", "unknown feature 'unknown_feature'"),
        ("c > 1", "cannot compare string with number"),
        ("a and f", "'and' needs bool, found number"),
        ("f < true", "does not order booleans"),
        ("a in ('x')", "mixes number with string"),
        ("sqrt(a) > 1", "unknown function 'sqrt'"),
    ],
)
def test_type_errors_are_refused_at_load(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        check(parse(text), SCHEMA)


@pytest.mark.parametrize("text", ["__import__('os').system('x')", "a.b > 1", "a >", "a[0] > 1"])
def test_python_syntax_is_not_part_of_the_language(text: str) -> None:
    with pytest.raises(ExpressionError):
        check(parse(text), SCHEMA)


def test_a_bad_strategy_names_its_id_and_file() -> None:
    strategy = Strategy("XX001", "identity", "z", "e", "a + c > 1", "low", Action.REFER, "r")
    with pytest.raises(StrategyError, match=r"strategy XX001 \(01_x.yaml\)"):
        compile_strategy(strategy, SCHEMA, "01_x.yaml")
    numeric = Strategy("XX002", "identity", "z", "e", "a + 1", "low", Action.REFER, "r")
    with pytest.raises(StrategyError, match=r"XX002.*not a true/false test"):
        compile_strategy(numeric, SCHEMA, "01_x.yaml")
