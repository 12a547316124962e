"""The decision's hot path gives exactly what the reference code gives: generated strategy code
against the per-node closures, generated model code against the reference loops, and cached
product matches against fresh ones."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import numpy as np
import pytest
from origination_fakes import decision_service, firm, uscc

from puhui.actions.sentinel.service import feature_schema
from puhui.decisions.sentinel.codegen import compile_conditions
from puhui.decisions.sentinel.compile import fires, to_python
from puhui.decisions.sentinel.expressions import InList, Literal_, Node, check, parse
from puhui.decisions.sentinel.models import IsolationScorer, LogitScorer
from puhui.decisions.sentinel.spec import load_strategy_set, screen_row

EDGE_NUMBERS = (None, math.nan, 0.0, -1.0, 1.0, 2.5, 3.0, 10.0, 0.5, 1e9, -1e9, 30.0, 0.95)


def _literals(node: Node) -> list[object]:
    """Every literal of a tree, so random rows hit the strategies' own thresholds and lists."""
    found: list[object] = []
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Literal_):
            found.append(item.value)
        elif isinstance(item, InList):
            found.extend(v.value for v in item.values)
            stack.append(item.operand)
        elif hasattr(item, "__dataclass_fields__"):
            for name in item.__dataclass_fields__:  # type: ignore[attr-defined]
                value = getattr(item, name)
                stack.extend(value if isinstance(value, tuple) else [value])
    return found


def _rows(schema: dict[str, str], literals: list[object], count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    numbers = [v for v in literals if isinstance(v, float) and not isinstance(v, bool)]
    strings = [v for v in literals if isinstance(v, str)] + ["", "other"]
    rows = []
    for _ in range(count):
        row: dict[str, object] = {}
        density = rng.choice((0.01, 0.03, 0.1, 0.3, 1.0))  # sparse rows pass, dense ones reject
        for name, kind in schema.items():
            if rng.random() > density:
                row[name] = None
            elif kind == "bool":
                row[name] = rng.choice((None, True, False))
            elif kind == "string":
                row[name] = rng.choice([None, *strings])
            else:
                pick = rng.random()
                if pick < 0.35 and numbers:
                    base = rng.choice(numbers)
                    row[name] = base + rng.choice((-1e-9, 0.0, 0.0, 1e-9, 1.0, -1.0))
                elif pick < 0.7:
                    row[name] = rng.choice(EDGE_NUMBERS)
                else:
                    row[name] = rng.uniform(-5, 200)
        rows.append(row)
    return rows


def test_the_generated_strategy_code_fires_exactly_as_the_closures() -> None:
    schema = feature_schema()
    strategies = load_strategy_set(schema)
    active = strategies.active
    literals = [v for s in active if s.node is not None for v in _literals(s.node)]
    rows = _rows(dict(schema), literals, 3000, seed=11)
    fired_somewhere: set[int] = set()
    verdicts: set[str] = set()
    for row in rows:
        expected = [i for i, s in enumerate(active) if s.fires(row)]
        assert strategies.screen(row) == expected
        fired_somewhere.update(expected)
        outcome = screen_row(strategies, row)
        assert [s.id for s in outcome.hits] == [active[i].id for i in expected]
        verdicts.add(outcome.verdict.value)
    # The rows exercise most strategies and every verdict, so the comparison means something.
    assert len(fired_somewhere) > len(active) // 2
    assert verdicts == {"pass", "review", "reject"}


@pytest.mark.parametrize(
    "text",
    [
        "a / b > 1",
        "not (a > b) or c is null",
        "coalesce(a, b, 3) >= 3 and s in ('x', 'y')",
        "abs(-a) < least(b, 2) or greatest(a, c) = 1",
        "-(a + b * c) <= a - b",
        "flag and not (s is not null)",
        "(a > 1 or b > 1) and (c < 5 or flag)",
    ],
)
def test_every_node_kind_keeps_sql_null_semantics(text: str) -> None:
    schema = {"a": "number", "b": "number", "c": "number", "s": "string", "flag": "bool"}
    node = parse(text.replace(" = ", " == "))
    check(node, schema)  # type: ignore[arg-type]
    reference = to_python(node)
    generated = compile_conditions([node])
    values = (None, math.nan, 0.0, 1.0, -2.0, 3.0)
    rng = random.Random(3)
    for _ in range(600):
        row = {k: rng.choice(values) for k in ("a", "b", "c")}
        row["s"] = rng.choice((None, "x", "z"))
        row["flag"] = rng.choice((None, True, False))
        assert generated(row) == ([0] if fires(reference, row) else [])


def _matrix(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(500, 4)) * [1, 10, 1000, 0.1]
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + rng.normal(0, 0.5, 500) > 1.0).astype(int)
    return X, y


def test_generated_model_code_scores_bit_for_bit_as_the_reference_loops() -> None:
    X, y = _matrix(8)
    logit = LogitScorer(["a", "b", "c", "d"]).fit(X, y)
    forest = IsolationScorer(["a", "b", "c", "d"], trees=25).fit(X)
    rows = [list(r) for r in X[:300]] + [[math.nan] * 4, [1e12, -1e12, 0.0, 5.0]]
    for row in rows:
        assert logit.score_one(row) == logit._scale(logit.raw_one(row))
        assert forest.score_one(row) == forest._scale(forest.raw_one(row))
    assert np.allclose(forest.score_many(X[:50]), [forest.score_one(list(r)) for r in X[:50]])


def test_refitting_a_model_replaces_its_generated_code() -> None:
    X, y = _matrix(9)
    logit = LogitScorer(["a", "b", "c", "d"]).fit(X, y)
    row = list(X[0])
    before = logit.score_one(row)
    logit.fit(X * 3 + 1, 1 - y)
    assert logit.score_one(row) == logit._scale(logit.raw_one(row))
    assert logit.score_one(row) != before


def test_cached_product_matches_decide_as_fresh_ones() -> None:
    firms = {
        uscc(i): firm(
            tax_vat_paid_sum_12m=5_000.0 * i,
            relationship_customer=float(i % 2),
            reg_age_months=float(6 + i * 3),
            dishonest_count_24m=float(i % 7 == 0),
        )
        for i in range(1, 40)
    }
    scores = {u: 20.0 + 2 * i for i, u in enumerate(firms)}
    cached = decision_service(firms, scores=scores)
    cached.precompute()
    fresh = decision_service(firms, scores=scores)
    outcomes = set()
    for u in firms:
        fresh._matches.clear()  # always computed anew
        a = cached.decide(u, requested_product="xiaowei_edai", requested_amount=Decimal(10**6))
        b = fresh.decide(u, requested_product="xiaowei_edai", requested_amount=Decimal(10**6))
        assert a.to_dict() == b.to_dict()
        outcomes.add(a.outcome.value)
    assert {"approve", "decline"} <= outcomes
    # A new score (another champion) is not served the old match.
    first = next(iter(firms))
    cached.scorer.scores[first] = 5.0
    fresh.scorer.scores[first] = 5.0
    fresh._matches.clear()
    assert cached.decide(first).to_dict() == fresh.decide(first).to_dict()
    # Report facts change the features: such a decision is matched afresh.
    good = next(u for u in firms if cached.decide(u).outcome.value == "approve")
    facts = {"bureau_report_overdue_amount": 5_000.0}
    vetoed = cached.decide(good, report_facts=facts)
    assert vetoed.to_dict() == fresh.decide(good, report_facts=facts).to_dict()
    assert vetoed.outcome.value == "decline"
    assert cached.decide(good).outcome.value == "approve"  # the cached match is untouched


def test_a_deeply_nested_condition_screens_as_the_closures() -> None:
    schema = {"a": "number"}
    deep = "a > 0"
    for _ in range(60):  # right-nested: each level indents the generated code once more
        deep = f"a > 0 and ({deep})"
    strategies = load_strategy_set(feature_schema())
    edited = strategies.with_changes(
        expressions={strategies.active[0].id: deep}, schema={**feature_schema(), **schema}
    )
    for row in ({"a": 1.0}, {"a": -1.0}, {"a": None}):
        expected = [i for i, s in enumerate(edited.active) if s.fires(row)]
        assert edited.screen(row) == expected
        assert (0 in expected) is (row["a"] == 1.0)
