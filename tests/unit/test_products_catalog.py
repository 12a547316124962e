"""The product catalog is data, validated on load with errors naming product and field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from puhui.decisions.bureau_facts import REPORT_FEATURES
from puhui.decisions.products.spec import (
    DEFAULT_CATALOG_FILE,
    ProductCatalogError,
    load_product_catalog,
)
from puhui.features.catalog import load_feature_catalog

# Product rules read the feature catalog and the facts of the report fetched at authorization.
_KNOWN = {*load_feature_catalog().names, *REPORT_FEATURES}


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(DEFAULT_CATALOG_FILE.read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "products.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_catalog_loads_and_reads_only_known_features() -> None:
    catalog = load_product_catalog(known_features=_KNOWN)
    codes = {p.code for p in catalog.products}
    assert codes >= {
        "xiaowei_edai",
        "keji_edai",
        "zheshang_edai",
        "waimao_edai",
        "liudishui_edai",
        "zhongbiao_edai",
        "zhengcai_edai",
        "renewal",
    }
    assert catalog.product("renewal").kind == "renewal"


def test_the_lpr_in_force_is_the_newest_on_or_before_the_day() -> None:
    catalog = load_product_catalog()
    assert catalog.lpr_on(date(2023, 9, 1)).one_year_bp == 345
    assert catalog.lpr_on(date(2025, 5, 19)).one_year_bp == 310
    assert catalog.lpr_on(date(2025, 5, 20)).one_year_bp == 300
    with pytest.raises(ProductCatalogError, match="no LPR in force on 2020-01-01"):
        catalog.lpr_on(date(2020, 1, 1))


def test_a_floor_above_the_cap_names_the_product_and_field(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:
        raw["products"][1]["pricing"]["floor_bp"] = 2000

    with pytest.raises(ProductCatalogError, match=r"product keji_edai: field pricing: .*floor_bp"):
        load_product_catalog(_write(tmp_path, mutate))


def test_an_unknown_repayment_method_names_the_product_and_field(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:
        raw["products"][0]["repayment_methods"] = ["balloon_only"]

    with pytest.raises(
        ProductCatalogError, match=r"product xiaowei_edai: field repayment_methods\.0"
    ):
        load_product_catalog(_write(tmp_path, mutate))


def test_an_unknown_feature_names_the_product_rule_and_feature(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:
        raw["products"][2]["eligibility"][0]["feature"] = "turnover_12m"

    with pytest.raises(
        ProductCatalogError,
        match=r"product zheshang_edai: field eligibility.bank_customer.feature: unknown "
        r"feature 'turnover_12m'",
    ):
        load_product_catalog(_write(tmp_path, mutate), known_features=_KNOWN)


def test_a_product_declared_twice_is_refused(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:
        raw["products"].append(dict(raw["products"][0]))

    with pytest.raises(ProductCatalogError, match="code xiaowei_edai is declared twice"):
        load_product_catalog(_write(tmp_path, mutate))


def test_score_bands_must_be_best_first_and_end_at_zero(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:
        raw["score_bands"] = list(reversed(raw["score_bands"]))

    with pytest.raises(ProductCatalogError, match="score_bands: must be listed best first"):
        load_product_catalog(_write(tmp_path, mutate))


def test_an_unexpected_field_is_refused_by_name(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:
        raw["products"][0]["limit"]["maximum"] = 5

    with pytest.raises(ProductCatalogError, match=r"product xiaowei_edai: field limit.maximum"):
        load_product_catalog(_write(tmp_path, mutate))


def test_broken_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "products.yaml"
    path.write_text("products: [\n", encoding="utf-8")
    with pytest.raises(ProductCatalogError, match=r"products\.yaml: not valid YAML"):
        load_product_catalog(path)
