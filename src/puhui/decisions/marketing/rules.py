"""Rules over a whole population at once (向量化规则): the product catalog's ``feature op value``
rule as a Polars expression, with the same meaning as ``products.matching.evaluate_rule``
(NaN is missing; a missing value passes only with ``if_missing: pass``)."""

from __future__ import annotations

import polars as pl

from puhui.decisions.products.spec import Rule


def value_expr(feature: str) -> pl.Expr:
    """The feature's column with NaN read as missing."""
    column = pl.col(feature).cast(pl.Float64)
    return pl.when(column.is_nan()).then(None).otherwise(column)


def rule_expr(rule: Rule) -> pl.Expr:
    """True where the rule passes."""
    value = value_expr(rule.feature)
    threshold = float(rule.value)
    compared = {
        ">=": value >= threshold,
        ">": value > threshold,
        "<=": value <= threshold,
        "<": value < threshold,
        "==": value == threshold,
        "!=": value != threshold,
    }[rule.op]
    return pl.when(value.is_null()).then(pl.lit(rule.if_missing == "pass")).otherwise(compared)


def all_pass(rules: tuple[Rule, ...]) -> pl.Expr:
    """True where every rule passes (no rules: always true)."""
    expression = pl.lit(True)
    for rule in rules:
        expression = expression & rule_expr(rule)
    return expression


def any_pass(rules: tuple[Rule, ...]) -> pl.Expr:
    """True where at least one rule passes (no rules: always true)."""
    if not rules:
        return pl.lit(True)
    expression = pl.lit(False)
    for rule in rules:
        expression = expression | rule_expr(rule)
    return expression
