"""Validation rules: types, required, enums, ranges, check codes, months, keys; what is reported."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest
from lake_factories import valid_frame, with_values

from puhui.data.ingest.readers import ROW_COLUMN
from puhui.data.ingest.validate import validate_batch
from puhui.data.schema import load_catalog

CATALOG = load_catalog()
TAX = CATALOG.table("tax_monthly")
PERSON = CATALOG.table("reg_person")
APPLICATION = CATALOG.table("app_application")
LOAN = CATALOG.table("bank_loan")


def _text_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """What a CSV delivery of ``frame`` looks like after reading: text, with row numbers."""
    text = frame.with_columns(
        pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t != pl.Datetime
    ).with_columns(
        pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%z").cast(pl.String)
        for c, t in frame.schema.items()
        if isinstance(t, pl.Datetime)
    )
    return text.with_row_index(ROW_COLUMN, offset=1).with_columns(pl.col(ROW_COLUMN).cast(pl.Int64))


def _faults(spec, *frames, existing=None) -> list[tuple]:
    names = [f"f{i}.csv" for i in range(len(frames))]
    validated = validate_batch(spec, frames, names, existing)
    return validated.rejections.select("file", "row", "field", "value", "rule").rows()


def test_a_good_batch_validates_to_the_canonical_types():
    frame = valid_frame(TAX, 5)
    validated = validate_batch(TAX, [_text_frame(frame)], ["t.csv"])
    assert validated.ok
    assert validated.frame.equals(frame)


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("invoices_issued_count", "12a", "type"),
        ("invoices_issued_count", "3.5", "type"),
        ("declared_revenue", "1.234", "type"),
        ("declared_revenue", "1e3", "type"),
        ("declared_revenue", "-5.00", "range"),
        ("month", "2024-13", "type"),
        ("month", "2024-03-15", "month"),
        ("month", "0224-03-01", "calendar"),
        ("uscc", "91330100X00000000A", "check"),
        ("uscc", "not-a-code", "check"),
        ("vat_paid", "  ", "required"),
    ],
)
def test_a_bad_value_is_reported_with_its_row_field_value_and_rule(field, value, rule):
    raw = with_values(_text_frame(valid_frame(TAX, 4)), 3, **{field: value})
    assert _faults(TAX, raw) == [("f0.csv", 3, field, value, rule)]


def test_money_is_parsed_exactly_and_harmless_trailing_zeros_are_accepted():
    raw = with_values(_text_frame(valid_frame(TAX, 2)), 1, declared_revenue="+1234.5000")
    raw = with_values(raw, 2, declared_revenue="9999999999999999.99")
    validated = validate_batch(TAX, [raw], ["t.csv"])
    assert validated.ok
    assert validated.frame.get_column("declared_revenue").to_list() == [
        Decimal("1234.50"),
        Decimal("9999999999999999.99"),
    ]


def test_months_may_be_spelled_as_year_month():
    raw = with_values(_text_frame(valid_frame(TAX, 3)), 1, month="2023-07")
    raw = with_values(raw, 2, month="202308")
    validated = validate_batch(TAX, [raw], ["t.csv"])
    assert validated.ok
    assert validated.frame.get_column("month").to_list()[:2] == [date(2023, 7, 1), date(2023, 8, 1)]


def test_enum_values_and_ranges_are_enforced():
    share = CATALOG.table("reg_shareholder")
    raw = with_values(_text_frame(valid_frame(share, 3)), 1, holder_type="company")
    raw = with_values(raw, 2, share_ratio="1.5")
    assert _faults(share, raw) == [
        ("f0.csv", 1, "holder_type", "company", "enum"),
        ("f0.csv", 2, "share_ratio", "1.5", "range"),
    ]


def test_timestamps_with_an_offset_are_stored_in_utc_and_naive_ones_are_taken_as_utc():
    raw = with_values(
        _text_frame(valid_frame(APPLICATION, 2)), 1, applied_at="2024-03-01 09:30:00+08:00"
    )
    raw = with_values(raw, 2, applied_at="2024-03-01T09:30:00")
    validated = validate_batch(APPLICATION, [raw], ["a.csv"])
    assert validated.ok
    assert validated.frame.get_column("applied_at").to_list() == [
        datetime(2024, 3, 1, 1, 30, tzinfo=UTC),
        datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
    ]


def test_typed_parquet_columns_are_cast_and_checked_too():
    frame = valid_frame(TAX, 3).with_columns(
        pl.col("declared_revenue").cast(pl.Float64),
        pl.col("month").cast(pl.Datetime("ns")),
        pl.col("invoices_issued_count").cast(pl.Float64),
    )
    frame = frame.with_row_index(ROW_COLUMN, offset=1).with_columns(
        pl.col(ROW_COLUMN).cast(pl.Int64)
    )
    assert validate_batch(TAX, [frame], ["t.parquet"]).ok
    broken = with_values(frame, 2, declared_revenue=0.125, invoices_issued_count=2.5)
    assert [(r[1], r[2], r[4]) for r in _faults(TAX, broken)] == [
        (2, "declared_revenue", "type"),
        (2, "invoices_issued_count", "type"),
    ]


def test_personal_data_is_masked_in_the_report():
    raw = _text_frame(valid_frame(PERSON, 3))
    bad_id = "330102199002300011"
    raw = with_values(raw, 2, person_id=bad_id, phone="12345678901", name="欧阳")
    raw = with_values(raw, 3, gender="unknown")
    found = _faults(PERSON, raw)
    assert found[0][:3] == ("f0.csv", 2, "person_id")
    assert found[0][3] == "330102********0011"
    assert found[1][2:4] == ("phone", "123****8901")
    assert found[2][2:] == ("gender", "unknown", "enum")
    assert all(bad_id not in str(row) for row in found)


def test_a_wrong_check_code_is_rejected_naming_the_row():
    raw = _text_frame(valid_frame(TAX, 6))
    good = raw.get_column("uscc")[4]
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    found = _faults(TAX, with_values(raw, 5, uscc=wrong))
    assert found == [("f0.csv", 5, "uscc", wrong, "check")]


def test_duplicate_keys_are_rejected_naming_the_first_occurrence():
    frame = _text_frame(valid_frame(TAX, 4, months=1))
    second_file = frame.head(1)
    repeated = with_values(frame, 4, uscc=frame.get_column("uscc")[1])
    validated = validate_batch(TAX, [repeated, second_file], ["a.csv", "b.csv"])
    rows = validated.rejections.select("file", "row", "field", "rule", "reason").rows()
    assert rows == [
        (
            "a.csv",
            4,
            "uscc, month",
            "duplicate_key",
            "duplicate key (uscc, month): same as row 2 of a.csv",
        ),
        (
            "b.csv",
            1,
            "uscc, month",
            "duplicate_key",
            "duplicate key (uscc, month): same as row 1 of a.csv",
        ),
    ]


def test_keys_already_in_the_lake_are_rejected_naming_the_batch():
    frame = valid_frame(TAX, 3)
    in_lake = frame.head(2).select("uscc", "month").with_columns(__batch=pl.lit("a" * 64))
    found = validate_batch(TAX, [_text_frame(frame)], ["t.csv"], lambda spec, typed: in_lake.lazy())
    reasons = found.rejections.select("row", "rule", "reason").rows()
    assert reasons == [
        (1, "key_in_lake", "key already in the lake from batch aaaaaaaaaaaa"),
        (2, "key_in_lake", "key already in the lake from batch aaaaaaaaaaaa"),
    ]


def test_rows_with_a_missing_key_are_not_also_called_duplicates():
    raw = with_values(_text_frame(valid_frame(TAX, 3)), 1, uscc="")
    raw = with_values(raw, 2, uscc="")
    assert [r[4] for r in _faults(TAX, raw)] == ["required", "required"]
