"""Ingest as a use case: all-or-nothing batches, idempotent re-runs, folders of tables."""

from __future__ import annotations

import polars as pl
import pytest
from lake_factories import lake_paths, valid_frame, write_csv, write_jsonl

from puhui.data.ingest import (
    DirectoryLayoutError,
    UnknownColumnsError,
    batch_id_for,
    ingest_directory,
    ingest_files,
)
from puhui.data.lake import Lake
from puhui.data.schema import load_catalog

CATALOG = load_catalog()
TAX = CATALOG.table("tax_monthly")
PERSON = CATALOG.table("reg_person")
LOAN = CATALOG.table("bank_loan")


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(tmp_path / "data" / "lake")


def test_a_good_csv_batch_is_accepted_and_committed(lake, tmp_path):
    path = write_csv(valid_frame(TAX, 9), tmp_path / "tax.csv")
    result = ingest_files(lake, "tax_monthly", [path])
    assert (result.status, result.rows, result.partitions) == ("accepted", 9, 3)
    assert lake.has_batch(result.batch_id)
    assert lake.batch(result.batch_id).source_files[0].path == str(path)


def test_a_bad_batch_writes_nothing_and_reports_row_field_and_reason(lake, tmp_path):
    ingest_files(lake, "reg_person", [write_csv(valid_frame(PERSON, 2), tmp_path / "p0.csv")])
    before = lake_paths(lake)
    frame = valid_frame(PERSON, 5, offset=10).with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("女")).otherwise("gender").alias("gender")
    )
    path = write_csv(frame, tmp_path / "people.csv")
    result = ingest_files(lake, "reg_person", [path], rejections_dir=tmp_path / "rejections")
    assert result.status == "rejected"
    assert lake_paths(lake) == before
    assert result.report == tmp_path / "rejections" / f"{result.batch_id}.csv"
    report = pl.read_csv(result.report)
    assert report.columns == ["file", "row", "field", "value", "rule", "reason"]
    assert report.rows() == [(str(path), 4, "gender", "女", "enum", "not one of: male, female")]
    assert result.rejected_rows == 1
    assert "people.csv row 4" in result.reason


def test_rejection_reports_default_to_beside_the_lake(lake, tmp_path):
    frame = valid_frame(TAX, 2).with_columns(vat_paid=pl.lit(None, pl.Decimal(18, 2)))
    result = ingest_files(lake, "tax_monthly", [write_csv(frame, tmp_path / "t.csv")])
    assert result.report == lake.root.parent / "rejections" / f"{result.batch_id}.csv"
    assert result.report.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel-friendly UTF-8


def test_rerunning_the_same_batch_is_idempotent(lake, tmp_path):
    path = write_csv(valid_frame(TAX, 6), tmp_path / "tax.csv")
    first = ingest_files(lake, "tax_monthly", [path])
    snapshot = lake_paths(lake)
    again = ingest_files(lake, "tax_monthly", [path])
    assert again.status == "already"
    assert again.batch_id == first.batch_id
    assert again.rows == 6
    assert "already ingested" in again.reason
    assert lake_paths(lake) == snapshot


def test_batch_id_depends_on_table_and_contents_not_on_file_names_or_order(tmp_path):
    assert batch_id_for("tax_monthly", ["a", "b"]) == batch_id_for("tax_monthly", ["b", "a"])
    assert batch_id_for("tax_monthly", ["a"]) != batch_id_for("social_monthly", ["a"])
    one = write_csv(valid_frame(TAX, 2), tmp_path / "one.csv")
    two = tmp_path / "renamed.csv"
    two.write_bytes(one.read_bytes())
    lake = Lake(tmp_path / "lake")
    assert ingest_files(lake, "tax_monthly", [one]).status == "accepted"
    assert ingest_files(lake, "tax_monthly", [two]).status == "already"


def test_several_files_form_one_batch_and_keys_must_be_unique_across_them(lake, tmp_path):
    first = write_csv(valid_frame(TAX, 4), tmp_path / "jan.csv")
    second = write_jsonl(valid_frame(TAX, 4, offset=50), tmp_path / "feb.jsonl")
    result = ingest_files(lake, "tax_monthly", [first, second])
    assert (result.status, result.rows) == ("accepted", 8)
    assert len(lake.batches("tax_monthly")) == 1
    clash = write_csv(valid_frame(TAX, 1), tmp_path / "again.csv")
    other = write_csv(valid_frame(TAX, 2, offset=90), tmp_path / "new.csv")
    rejected = ingest_files(lake, "tax_monthly", [other, clash])
    assert rejected.status == "rejected"
    assert pl.read_csv(rejected.report).select("file", "row", "rule").rows() == [
        (str(clash), 1, "key_in_lake")
    ]


def test_keys_of_event_tables_are_checked_across_all_partitions(lake, tmp_path):
    ingest_files(lake, "bank_loan", [write_csv(valid_frame(LOAN, 3), tmp_path / "l1.csv")])
    moved = valid_frame(LOAN, 1).with_columns(pl.col("disbursed_on").dt.offset_by("14mo"))
    result = ingest_files(lake, "bank_loan", [write_csv(moved, tmp_path / "l2.csv")])
    assert result.status == "rejected"
    assert pl.read_csv(result.report).get_column("rule").to_list() == ["key_in_lake"]


def test_a_gbk_file_with_chinese_headers_is_ingested(lake, tmp_path):
    frame = valid_frame(PERSON, 3).with_columns(name=pl.Series(["张伟", "王芳", "李娜"]))
    path = write_csv(frame, tmp_path / "p.csv", spec=PERSON, chinese_headers=True, encoding="gbk")
    assert ingest_files(lake, "reg_person", [path]).status == "accepted"
    stored = lake.scan("reg_person").collect()
    assert sorted(stored.get_column("name")) == sorted(["张伟", "王芳", "李娜"])


def test_a_file_with_unknown_columns_is_refused_before_anything_is_written(lake, tmp_path):
    path = write_csv(valid_frame(TAX, 2).with_columns(备注=pl.lit("x")), tmp_path / "t.csv")
    with pytest.raises(UnknownColumnsError, match="'备注'"):
        ingest_files(lake, "tax_monthly", [path])
    assert lake.tables() == []


def test_ingest_recovers_debris_of_an_interrupted_write_first(lake, tmp_path):
    lake.root.mkdir(parents=True)
    orphan = lake.root / "tax_monthly" / "month=2024-01-01" / "part-deadbeef.parquet"
    orphan.parent.mkdir(parents=True)
    valid_frame(TAX, 2, months=1).write_parquet(orphan)
    ingest_files(lake, "tax_monthly", [write_csv(valid_frame(TAX, 3), tmp_path / "t.csv")])
    assert not orphan.exists()
    assert lake.row_count("tax_monthly") == 3


def test_a_folder_of_every_table_loads_each_table_once(lake, tmp_path):
    folder = tmp_path / "province"
    folder.mkdir()
    for spec in CATALOG.tables:
        valid_frame(spec, 5).write_parquet(folder / f"{spec.name}.parquet")
    (folder / "README.md").write_text("simulated", encoding="utf-8")
    outcome = ingest_directory(lake, folder)
    assert outcome.ok
    assert [r.table for r in outcome.results] == CATALOG.table_names
    assert {r.status for r in outcome.results} == {"accepted"}
    assert lake.tables() == sorted(CATALOG.table_names)
    again = ingest_directory(lake, folder)
    assert {r.status for r in again.results} == {"already"}


def test_a_folder_with_a_bad_table_reports_it_and_still_loads_the_others(lake, tmp_path):
    folder = tmp_path / "delivery"
    folder.mkdir()
    write_csv(valid_frame(TAX, 3), folder / "tax_monthly.csv")
    bad = valid_frame(PERSON, 2).with_columns(phone=pl.lit("021-1234567"))
    write_csv(bad, folder / "reg_person.csv")
    (folder / "park.csv").write_text("园区编号,oops\n", encoding="utf-8")
    outcome = ingest_directory(lake, folder, rejections_dir=tmp_path / "rej")
    statuses = {r.table: r.status for r in outcome.results}
    assert statuses == {"park": "rejected", "reg_person": "rejected", "tax_monthly": "accepted"}
    by_table = {r.table: r for r in outcome.results}
    assert "'oops' match no field" in by_table["park"].reason
    assert by_table["park"].report is None
    assert by_table["reg_person"].report.exists()
    assert lake.tables() == ["tax_monthly"]


def test_a_folder_with_files_that_name_no_table_is_refused_up_front(lake, tmp_path):
    folder = tmp_path / "delivery"
    folder.mkdir()
    write_csv(valid_frame(TAX, 1), folder / "tax_monthy.csv")
    with pytest.raises(DirectoryLayoutError, match=r"tax_monthy\.csv name no table"):
        ingest_directory(lake, folder)
    (folder / "tax_monthy.csv").rename(folder / "tax_monthly.csv")
    write_jsonl(valid_frame(TAX, 1), folder / "tax_monthly.jsonl")
    with pytest.raises(DirectoryLayoutError, match="more than one file for a table"):
        ingest_directory(lake, folder)
    assert lake.tables() == []
