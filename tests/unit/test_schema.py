"""The canonical data model loads, is consistent, and refuses malformed definitions."""

from pathlib import Path

import pyarrow as pa
import pytest

from puhui.data.schema import SchemaError, UnknownTableError, load_catalog, parse_source
from puhui.data.schema_docs import render_catalog

ALL_SOURCES = {
    "registration", "tax", "customs", "utilities", "ip", "parks", "procurement", "supply_chain",
    "courts", "environment", "social_security", "bureau", "bank", "applications", "blacklists",
}  # fmt: skip


def test_every_source_named_by_the_bank_has_a_schema():
    names = {s.name for s in load_catalog().sources}
    assert ALL_SOURCES <= names
    assert "truth" in names


def test_every_field_is_documented_in_chinese_and_english():
    for table in load_catalog().tables:
        assert table.zh and table.en
        for field in table.fields:
            assert field.zh.strip(), f"{table.name}.{field.name} lacks zh"
            assert field.en.strip(), f"{table.name}.{field.name} lacks en"


def test_money_is_decimal_and_months_are_dates_in_arrow():
    schema = load_catalog().table("tax_monthly").arrow_schema
    assert schema.field("declared_revenue").type == pa.decimal128(18, 2)
    assert schema.field("month").type == pa.date32()
    assert not schema.field("uscc").nullable


def test_monthly_and_event_tables_are_partitioned_and_entity_tables_are_not():
    for table in load_catalog().tables:
        assert (table.partition is None) == (table.grain == "entity"), table.name


def test_only_truth_tables_are_marked_ground_truth():
    truth = {t.name for t in load_catalog().tables if t.ground_truth}
    assert truth == {"truth_enterprise", "truth_application"}


def test_unknown_table_suggests_the_nearest_name():
    with pytest.raises(UnknownTableError, match="tax_monthly"):
        load_catalog().table("tax_montly")


def test_chinese_headers_map_to_field_names():
    aliases = load_catalog().table("tax_monthly").header_aliases()
    assert aliases["统一社会信用代码"] == "uscc"
    assert aliases["申报销售收入（元）"] == "declared_revenue"


def _source(fields: str, extra: str = "") -> str:
    return f"""
source: demo
zh: 演示
en: Demo
provider: test
tables:
  demo_table:
    zh: 表
    en: Table
    grain: monthly
    key: [uscc, month]
    partition: month
{extra}
    fields:
{fields}
"""


COMMON = {
    "uscc": {"type": "string", "check": "uscc", "required": True, "zh": "码", "en": "Code"},
    "month": {"type": "month", "required": True, "zh": "月", "en": "Month"},
}


def test_a_malformed_field_is_reported_with_file_table_and_field():
    text = _source(
        "      uscc: common\n      month: common\n"
        "      amount: {type: monee, zh: 金额, en: Amount}\n"
    )
    with pytest.raises(SchemaError, match=r"demo\.yaml: table demo_table: field amount"):
        parse_source(text, "demo.yaml", COMMON)


def test_a_key_that_is_not_a_field_is_refused():
    text = _source("      uscc: common\n")
    with pytest.raises(SchemaError, match="key field 'month'"):
        parse_source(text, "demo.yaml", COMMON)


def test_an_enum_without_values_is_refused():
    text = _source(
        "      uscc: common\n      month: common\n      kind: {type: enum, zh: 类, en: Kind}\n"
    )
    with pytest.raises(SchemaError, match="enum needs `values`"):
        parse_source(text, "demo.yaml", COMMON)


def test_the_checked_in_data_model_document_is_current():
    doc = Path(__file__).parents[2] / "docs" / "DATA_MODEL.md"
    assert doc.read_text(encoding="utf-8") == render_catalog(load_catalog()), (
        "docs/DATA_MODEL.md is stale: run `puhui schema docs`"
    )
