"""The feature catalog: 1,000+ documented features, and bad definitions fail at load time."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from puhui.features.catalog import (
    FeatureDefinitionError,
    default_definitions_dir,
    load_feature_catalog,
)


def test_the_catalog_holds_over_a_thousand_features_across_every_source():
    catalog = load_feature_catalog()
    assert len(catalog.features) >= 1000
    assert len(set(catalog.names)) == len(catalog.names)
    kinds = Counter(f.kind for f in catalog.features)
    assert {"monthly", "event", "sql", "derived"} <= set(kinds)
    read = set(catalog.tables())
    for table in (
        "tax_monthly",
        "bank_account_monthly",
        "bank_loan_monthly",
        "social_monthly",
        "utility_monthly",
        "customs_monthly",
        "bureau_enterprise_monthly",
        "bureau_person_monthly",
        "court_case",
        "env_penalty",
        "ip_patent",
        "procurement_award",
        "supply_receivable",
        "reg_shareholder",
    ):
        assert table in read, table
    assert not any(t.startswith("truth_") for t in read)


def test_every_feature_is_documented_in_chinese_and_english_with_an_owner():
    for feature in load_feature_catalog().features:
        assert feature.zh and feature.en and feature.owner, feature.name
        assert feature.file.endswith(".yaml")


def test_families_expand_into_windows_and_aggregates():
    catalog = load_feature_catalog()
    revenue = {f.name for f in catalog.of_family("tax") if "_declared_revenue_" in f.name}
    for window in (3, 6, 12, 24):
        for aggregate in ("sum", "mean", "std", "slope", "growth", "yoy", "drawdown"):
            assert f"tax_declared_revenue_{aggregate}_{window}m" in revenue
    # A single month has a level and growth but no spread or trend.
    assert "tax_declared_revenue_sum_1m" in revenue
    assert "tax_declared_revenue_std_1m" not in revenue
    assert catalog.feature("tax_declared_revenue_slope_12m").window == 12


def test_people_network_and_radar_features_are_present():
    catalog = load_feature_catalog()
    people = [f for f in catalog.features if f.entity == "person"]
    assert any(f.family == "lr_bureau" for f in people)
    assert any(f.family == "spouse_bureau" for f in people)
    network = catalog.of_family("network")
    assert {f.name for f in network} >= {
        "network_firms_sharing_legal_rep",
        "network_firms_sharing_phone",
        "network_firms_sharing_address",
        "network_shareholder_max_firms",
    }
    radar = catalog.of_family("radar")
    assert len(radar) >= 20
    assert all(f.kind == "derived" for f in radar)


# --- bad definitions --------------------------------------------------------------------------


def _definitions_with(tmp_path: Path, family: dict) -> Path:
    """A definitions folder holding the real lags and one extra family."""
    folder = tmp_path / "definitions"
    folder.mkdir()
    lags = (default_definitions_dir() / "lags.yaml").read_text(encoding="utf-8")
    (folder / "lags.yaml").write_text(lags, encoding="utf-8")
    (folder / "bad.yaml").write_text(
        yaml.safe_dump({"families": [family]}, allow_unicode=True), encoding="utf-8"
    )
    return folder


def _monthly(**changes) -> dict:
    family = {
        "kind": "monthly",
        "family": "probe",
        "table": "tax_monthly",
        "zh": "测试",
        "en": "probe",
        "owner": "tests",
        "windows": [3, 12],
        "aggregates": ["sum", "mean"],
        "metrics": {"declared_revenue": {"zh": "收入", "en": "revenue"}},
    }
    family.update(changes)
    return family


def _load(tmp_path: Path, family: dict):
    return load_feature_catalog.__wrapped__(_definitions_with(tmp_path, family))


def test_a_valid_family_loads_from_its_own_folder(tmp_path):
    catalog = _load(tmp_path, _monthly())
    assert "probe_declared_revenue_sum_12m" in catalog.names
    assert catalog.feature("probe_declared_revenue_sum_12m").file == "bad.yaml"


def test_an_unknown_column_fails_naming_the_family_and_file(tmp_path):
    family = _monthly(metrics={"turnover": {"zh": "营业额", "en": "turnover"}})
    with pytest.raises(FeatureDefinitionError, match=r"bad\.yaml: feature family probe.*turnover"):
        _load(tmp_path, family)


def test_an_unknown_column_inside_an_expression_fails(tmp_path):
    metric = {"zh": "比率", "en": "ratio", "expr": "sum(vat_paid) / nullif(sum(revenu), 0)"}
    with pytest.raises(FeatureDefinitionError, match="unknown column 'revenu'"):
        _load(tmp_path, _monthly(metrics={"ratio": metric}))


def test_invalid_sql_fails_at_load_time(tmp_path):
    metric = {"zh": "比率", "en": "ratio", "expr": "sum(vat_paid / "}
    with pytest.raises(FeatureDefinitionError, match=r"bad\.yaml: feature family probe.*invalid"):
        _load(tmp_path, _monthly(metrics={"ratio": metric}))


def test_a_window_of_zero_months_fails(tmp_path):
    with pytest.raises(FeatureDefinitionError, match=r"probe.*window 0"):
        _load(tmp_path, _monthly(windows=[0, 3]))


def test_an_unknown_table_fails_with_a_suggestion(tmp_path):
    with pytest.raises(FeatureDefinitionError, match="tax_monthly"):
        _load(tmp_path, _monthly(table="tax_monthy"))


def test_ground_truth_tables_are_refused_as_feature_inputs(tmp_path):
    family = {
        "kind": "event",
        "family": "peek",
        "table": "truth_application",
        "zh": "偷看",
        "en": "peek",
        "owner": "tests",
        "date": "applied_at",
        "windows": [3],
        "measures": {"count": {"aggregate": "count", "zh": "数", "en": "count"}},
    }
    with pytest.raises(FeatureDefinitionError, match="ground truth"):
        _load(tmp_path, family)


def test_sql_families_may_not_read_tables_they_do_not_declare(tmp_path):
    family = {
        "kind": "sql",
        "family": "sneaky",
        "zh": "偷看",
        "en": "sneaky",
        "owner": "tests",
        "sources": ["reg_enterprise"],
        "sql": "select uscc, 1 as x from truth_enterprise",
        "outputs": {"x": {"zh": "x", "en": "x"}},
    }
    with pytest.raises(FeatureDefinitionError, match="truth_enterprise"):
        _load(tmp_path, family)


def test_sql_families_must_return_their_declared_outputs(tmp_path):
    family = {
        "kind": "sql",
        "family": "short",
        "zh": "少列",
        "en": "short",
        "owner": "tests",
        "sources": ["reg_enterprise"],
        "sql": "select uscc, registered_capital as capital from reg_enterprise",
        "outputs": {"capital": {"zh": "资本", "en": "capital"}, "age": {"zh": "年", "en": "age"}},
    }
    with pytest.raises(FeatureDefinitionError, match="age"):
        _load(tmp_path, family)


def test_derived_features_must_reference_known_features(tmp_path):
    family = {
        "kind": "derived",
        "family": "ratio",
        "zh": "比率",
        "en": "ratio",
        "owner": "tests",
        "outputs": {"x": {"zh": "x", "en": "x", "expr": "probe_nothing_sum_3m / 2"}},
    }
    with pytest.raises(FeatureDefinitionError, match="probe_nothing_sum_3m"):
        _load(tmp_path, family)


def test_a_feature_name_produced_twice_fails(tmp_path):
    folder = _definitions_with(tmp_path, _monthly())
    (folder / "again.yaml").write_text(
        yaml.safe_dump({"families": [_monthly(family="probe")]}), encoding="utf-8"
    )
    with pytest.raises(FeatureDefinitionError, match="probe"):
        load_feature_catalog.__wrapped__(folder)


def test_a_missing_required_key_names_it(tmp_path):
    family = _monthly()
    del family["owner"]
    with pytest.raises(FeatureDefinitionError, match=r"probe.*owner"):
        _load(tmp_path, family)
