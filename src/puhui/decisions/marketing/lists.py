"""Themed lists, prospects, first-loan candidates and the admission pre-screen (名单与预筛).

All four are columns added to a population frame (one row per firm, its features as columns),
so the same code classifies a province or a universe of millions. Every excluded firm carries
the reasons of every screening rule it failed, in the configuration's order.
"""

from __future__ import annotations

import polars as pl

from puhui.decisions.marketing.rules import all_pass, any_pass, rule_expr
from puhui.decisions.marketing.spec import MarketingConfig, Theme

THEMES_COLUMN = "themes"
PROSPECT_COLUMN = "is_prospect"
FIRST_LOAN_COLUMN = "first_loan"
REASONS_COLUMN = "exclusion_reasons"
PASSED_COLUMN = "screen_passed"


def theme_expr(theme: Theme) -> pl.Expr:
    return all_pass(theme.all) & any_pass(theme.any)


def reason_text(config: MarketingConfig, code: str) -> str:
    """The zh · en text of a screening rule (or of another exclusion code)."""
    rule = config.rule_by_name.get(code)
    if rule is None:
        return OTHER_REASONS.get(code, code)
    return f"{rule.zh} 未满足 · {rule.en} not met"


OTHER_REASONS = {
    "no_product": "无符合条件的产品 · no product's eligibility is met",
    "score_declined": "评分低于准入线 · score band declined",
}


def classify(frame: pl.DataFrame | pl.LazyFrame, config: MarketingConfig) -> pl.LazyFrame:
    """Add ``themes`` (list of codes), ``is_prospect``, ``first_loan``, ``exclusion_reasons``
    (list of screening-rule names that failed) and ``screen_passed``."""
    lazy = frame.lazy()
    theme_flags = [theme_expr(t).alias(f"_theme_{t.code}") for t in config.themes]
    failed = [
        pl.when(rule_expr(rule)).then(None).otherwise(pl.lit(rule.name)).alias(f"_fail_{i}")
        for i, rule in enumerate(config.screening_rules)
    ]
    lazy = lazy.with_columns(
        *theme_flags,
        *failed,
        all_pass(config.prospect_rules).alias(PROSPECT_COLUMN),
    )
    theme_codes = [
        pl.when(pl.col(f"_theme_{t.code}")).then(pl.lit(t.code)).otherwise(None)
        for t in config.themes
    ]
    fail_columns = [f"_fail_{i}" for i in range(len(config.screening_rules))]
    lazy = lazy.with_columns(
        pl.concat_list(theme_codes).list.drop_nulls().alias(THEMES_COLUMN)
        if theme_codes
        else pl.lit([], dtype=pl.List(pl.String)).alias(THEMES_COLUMN),
        (
            pl.concat_list([pl.col(c) for c in fail_columns]).list.drop_nulls()
            if fail_columns
            else pl.lit([], dtype=pl.List(pl.String))
        ).alias(REASONS_COLUMN),
        (pl.col(PROSPECT_COLUMN) & all_pass(config.first_loan_rules)).alias(FIRST_LOAN_COLUMN),
    )
    lazy = lazy.with_columns((pl.col(REASONS_COLUMN).list.len() == 0).alias(PASSED_COLUMN))
    return lazy.drop([f"_theme_{t.code}" for t in config.themes] + fail_columns)
