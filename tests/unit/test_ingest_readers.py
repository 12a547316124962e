"""Reading deliveries: formats, encodings (UTF-8, BOM, GBK) and header mapping."""

from __future__ import annotations

import codecs

import polars as pl
import pytest
from lake_factories import valid_frame, write_csv, write_jsonl

from puhui.data.ingest import (
    AmbiguousColumnsError,
    EncodingError,
    MalformedFileError,
    MissingColumnsError,
    SourceFileError,
    UnknownColumnsError,
    UnsupportedFormatError,
)
from puhui.data.ingest.encoding import detect_encoding, first_invalid_byte
from puhui.data.ingest.readers import detect_format, read_source
from puhui.data.schema import load_catalog

CATALOG = load_catalog()
TAX = CATALOG.table("tax_monthly")
PERSON = CATALOG.table("reg_person")


def _read(path, tmp_path, spec=TAX, **options):
    return read_source(spec, path, workdir=tmp_path, **options)


def test_gbk_csv_with_chinese_headers_reads_under_canonical_names(tmp_path):
    frame = valid_frame(PERSON, 4)
    frame = frame.with_columns(name=pl.Series(["张三", "李四", "王五", "赵六"]))
    path = write_csv(frame, tmp_path / "p.csv", spec=PERSON, chinese_headers=True, encoding="gbk")
    assert detect_encoding(path) == "gb18030"
    read = _read(path, tmp_path, PERSON)
    assert read.columns == ["__row", *PERSON.field_names]
    assert read.get_column("name").to_list() == ["张三", "李四", "王五", "赵六"]
    assert read.get_column("__row").to_list() == [1, 2, 3, 4]


def test_utf8_with_and_without_byte_order_mark_read_alike(tmp_path):
    frame = valid_frame(TAX, 3)
    plain = write_csv(frame, tmp_path / "plain.csv", spec=TAX, chinese_headers=True)
    marked = write_csv(
        frame, tmp_path / "bom.csv", spec=TAX, chinese_headers=True, encoding="utf-8-sig"
    )
    assert detect_encoding(plain) == "utf-8"
    assert detect_encoding(marked) == "utf-8-sig"
    assert _read(plain, tmp_path).equals(_read(marked, tmp_path))


def test_a_file_in_neither_utf8_nor_gbk_is_refused_naming_file_and_offset(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"uscc,month\n" + b"\x80\xff\xfe" + b"\n")
    with pytest.raises(EncodingError) as refused:
        _read(path, tmp_path)
    message = str(refused.value)
    assert str(path) in message
    assert "neither UTF-8 nor GBK/GB18030" in message
    assert "byte offset 11" in message


def test_utf16_files_and_excel_workbooks_are_refused_saying_what_they_look_like(tmp_path):
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes(codecs.BOM_UTF16_LE + "uscc,month\n".encode("utf-16-le"))
    with pytest.raises(EncodingError, match="UTF-16"):
        _read(utf16, tmp_path)
    workbook = tmp_path / "book.csv"
    workbook.write_bytes(b"PK\x03\x04rest-of-a-zip")
    with pytest.raises(EncodingError, match="Excel"):
        _read(workbook, tmp_path)


def test_forcing_utf8_on_a_gbk_file_names_the_offending_offset(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(b"uscc,month\n" + "统一社会信用代码".encode("gbk"))
    with pytest.raises(EncodingError, match=r"not valid UTF-8: byte 0xC9 at offset 15"):
        _read(path, tmp_path, encoding="utf-8")


def test_short_gbk_text_that_happens_to_be_valid_utf8_is_read_as_gbk(tmp_path):
    path = tmp_path / "short.csv"
    path.write_bytes("统一\n".encode("gbk"))  # CD B3 D2 BB: also two valid UTF-8 characters
    assert detect_encoding(path) == "gb18030"
    path.write_bytes("统一\n".encode())
    assert detect_encoding(path) == "utf-8"


def test_the_first_invalid_byte_is_found_across_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr("puhui.data.ingest.encoding._CHUNK", 4)
    path = tmp_path / "x.txt"
    path.write_bytes("ab统".encode() + b"\xff" + b"zz")  # 统 spans the first chunk boundary
    assert first_invalid_byte(path, "utf-8") == 5
    path.write_bytes(b"abc\xe7\xbb")  # truncated at the end
    assert first_invalid_byte(path, "utf-8") == 3


def test_unknown_columns_are_refused_naming_them(tmp_path):
    frame = valid_frame(TAX, 2).with_columns(备注=pl.lit("x"), extra=pl.lit(1))
    path = tmp_path / "t.parquet"
    frame.write_parquet(path)
    with pytest.raises(UnknownColumnsError, match=r"'备注', 'extra' match no field of table"):
        _read(path, tmp_path)


def test_missing_required_columns_are_refused_naming_them(tmp_path):
    path = tmp_path / "t.parquet"
    valid_frame(TAX, 2).drop("vat_paid", "tax_arrears").write_parquet(path)
    with pytest.raises(MissingColumnsError, match=r"vat_paid \(增值税入库（元）\), tax_arrears"):
        _read(path, tmp_path)


def test_missing_optional_columns_read_as_nulls(tmp_path):
    path = tmp_path / "t.parquet"
    valid_frame(TAX, 2).drop("vat_credit_balance").write_parquet(path)
    assert _read(path, tmp_path).get_column("vat_credit_balance").null_count() == 2


def test_two_columns_for_one_field_are_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("uscc,统一社会信用代码\n1,2\n", encoding="utf-8")
    with pytest.raises(AmbiguousColumnsError, match="'uscc' and '统一社会信用代码'"):
        _read(path, tmp_path)


def test_headers_match_with_half_width_brackets_spaces_and_any_case(tmp_path):
    frame = valid_frame(TAX, 2)
    headers = {c: TAX.field(c).zh.replace("（", "(").replace("）", ")") for c in frame.columns}
    headers["uscc"] = " USCC "
    headers["month"] = "Month"
    path = tmp_path / "t.parquet"
    frame.rename(headers).write_parquet(path)
    assert _read(path, tmp_path).columns == ["__row", *TAX.field_names]


def test_format_comes_from_the_extension_unless_given(tmp_path):
    assert detect_format(tmp_path / "a.CSV") == "csv"
    assert detect_format(tmp_path / "a.ndjson") == "jsonl"
    assert detect_format(tmp_path / "a.txt", "csv") == "csv"
    with pytest.raises(UnsupportedFormatError, match=r"extension '\.xlsx'.*--format"):
        detect_format(tmp_path / "a.xlsx")


def test_json_lines_with_byte_order_mark_are_read(tmp_path):
    path = write_jsonl(valid_frame(TAX, 3), tmp_path / "t.jsonl")
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    read = _read(path, tmp_path)
    assert read.height == 3 and read.columns[1:] == TAX.field_names


def test_a_ragged_csv_is_refused_as_malformed_naming_the_file(tmp_path):
    path = tmp_path / "t.csv"
    header = ",".join(TAX.field_names)
    path.write_text(f"{header}\n1,2,3,4,5,6,7,8,9,10,11,12,13,14\n", encoding="utf-8")
    with pytest.raises(MalformedFileError, match=r"t\.csv: cannot read as csv"):
        _read(path, tmp_path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SourceFileError, match=r"nope\.csv: no such file"):
        _read(tmp_path / "nope.csv", tmp_path)
