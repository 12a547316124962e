"""Themed lists, prospects, first-loan candidates and the admission pre-screen: every rule
excludes on its own with its reason, missing values follow ``if_missing``, and the
configuration is validated with errors that name the entry."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from puhui.decisions.marketing.lists import classify, reason_text
from puhui.decisions.marketing.spec import (
    MarketingConfigError,
    load_marketing_config,
)
from puhui.features.catalog import load_feature_catalog


@pytest.fixture(scope="module")
def config():
    return load_marketing_config(known_features=load_feature_catalog().names)


def _clean_firm(config) -> dict[str, float | None]:
    """A firm that passes every pre-screen rule: each rule's feature set to a passing value."""
    firm: dict[str, float | None] = {}
    for rule in config.screening_rules:
        passing = {
            ">=": rule.value,
            ">": rule.value + 1,
            "<=": rule.value,
            "<": rule.value - 1,
            "==": rule.value,
            "!=": rule.value + 1,
        }[rule.op]
        firm[rule.feature] = passing
    return firm


def _failing_value(rule) -> float:
    return {
        ">=": rule.value - 1,
        ">": rule.value,
        "<=": rule.value + 1,
        "<": rule.value,
        "==": rule.value + 1,
        "!=": rule.value,
    }[rule.op]


def _frame(rows: list[dict[str, float | None]], config) -> pl.DataFrame:
    columns = sorted(set(config.features))
    data = {"uscc": [f"F{i:03d}" for i in range(len(rows))]}
    for column in columns:
        data[column] = [row.get(column) for row in rows]
    return pl.DataFrame(data, schema={"uscc": pl.String, **dict.fromkeys(columns, pl.Float64)})


def test_a_clean_firm_passes_the_pre_screen(config) -> None:
    out = classify(_frame([_clean_firm(config)], config), config).collect()
    assert out["screen_passed"].to_list() == [True]
    assert out["exclusion_reasons"].to_list() == [[]]


def test_each_rule_alone_excludes_the_firm_with_its_own_reason(config) -> None:
    rows = []
    for rule in config.screening_rules:
        firm = _clean_firm(config)
        firm[rule.feature] = _failing_value(rule)
        rows.append(firm)
    out = classify(_frame(rows, config), config).collect()
    for rule, passed, reasons in zip(
        config.screening_rules, out["screen_passed"], out["exclusion_reasons"], strict=True
    ):
        assert passed is False, rule.name
        assert reasons.to_list() == [rule.name], rule.name
        assert rule.zh in reason_text(config, rule.name)


def test_a_firm_failing_several_rules_carries_every_reason_in_config_order(config) -> None:
    firm = _clean_firm(config)
    failing = [config.screening_rules[0], config.screening_rules[-1]]
    for rule in failing:
        firm[rule.feature] = _failing_value(rule)
    out = classify(_frame([firm], config), config).collect()
    assert out["exclusion_reasons"].to_list() == [[r.name for r in failing]]


def test_missing_values_pass_or_fail_as_each_rule_declares(config) -> None:
    firm = {name: None for name in config.features}
    out = classify(_frame([firm], config), config).collect()
    expected = [r.name for r in config.screening_rules if r.if_missing == "fail"]
    assert out["exclusion_reasons"].to_list() == [expected]


def test_nan_counts_as_missing(config) -> None:
    rule = next(r for r in config.screening_rules if r.if_missing == "pass")
    firm = _clean_firm(config)
    firm[rule.feature] = float("nan")
    out = classify(_frame([firm], config), config).collect()
    assert rule.name not in out["exclusion_reasons"].to_list()[0]


def test_themes_follow_their_all_and_any_rules(config) -> None:
    exporter = {"customs_export_amount_sum_12m": 1_000_000.0}
    patents_only = {"patents_count_24m": 2.0, "scitech_active_lists": 0.0}
    rated_a = {"tax_rating_latest_score": 5.0, "tax_months_reported_12m": 12.0}
    rated_a_not_paying = {"tax_rating_latest_score": 5.0, "tax_months_reported_12m": 2.0}
    out = classify(
        _frame([exporter, patents_only, rated_a, rated_a_not_paying, {}], config), config
    ).collect()
    assert out["themes"].to_list() == [["exporter"], ["scitech"], ["tax_a"], [], []]


def test_prospects_have_no_bank_loan_and_first_loan_needs_a_clean_bureau(config) -> None:
    borrower = {"loan_outstanding_principal_mean_1m": 500_000.0}
    prospect_with_lender = {"bureau_ent_lender_count_max_24m": 2.0}
    first_loan = {"bureau_ent_lender_count_max_24m": 0.0, "bank_loans_disbursed_count_24m": 0.0}
    unknown = {}
    out = classify(
        _frame([borrower, prospect_with_lender, first_loan, unknown], config), config
    ).collect()
    assert out["is_prospect"].to_list() == [False, True, True, True]
    assert out["first_loan"].to_list() == [False, False, True, True]


def test_an_unknown_feature_is_refused_naming_the_entry(tmp_path: Path) -> None:
    text = """
config_version: "t"
themes:
  - code: park
    zh: 园区
    en: park
    all: [{name: resident, feature: no_such_feature, op: "==", value: 1, zh: x, en: x}]
"""
    path = tmp_path / "marketing.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MarketingConfigError, match=r"themes park\.resident: unknown feature"):
        load_marketing_config(path, known_features=load_feature_catalog().names)


def test_a_theme_without_rules_and_a_duplicate_rule_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "marketing.yaml"
    path.write_text(
        'config_version: "t"\nthemes:\n  - {code: empty, zh: 空, en: empty}\n', encoding="utf-8"
    )
    with pytest.raises(MarketingConfigError, match=r"themes empty: field .*at least one rule"):
        load_marketing_config(path)
    rule = '{name: a, feature: reg_active, op: "==", value: 1, zh: x, en: x}'
    path.write_text(
        f'config_version: "t"\nthemes:\n  - {{code: t1, zh: t, en: t, all: [{rule}]}}\n'
        f"screening_rules: [{rule}, {rule}]\n",
        encoding="utf-8",
    )
    with pytest.raises(MarketingConfigError, match="screening_rules: a is declared twice"):
        load_marketing_config(path)
