"""Ingest in chunks: same verdicts as in one piece, capped reports, snapshots of entity tables."""

from __future__ import annotations

import polars as pl
import pytest
from lake_factories import lake_paths, valid_frame, with_values, write_csv

from puhui.data.ingest import ingest_files
from puhui.data.ingest import keys as key_module
from puhui.data.ingest import validate as validate_module
from puhui.data.lake import Lake
from puhui.data.schema import load_catalog

CATALOG = load_catalog()
TAX = CATALOG.table("tax_monthly")
ENTERPRISE = CATALOG.table("reg_enterprise")
LOAN = CATALOG.table("bank_loan")


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(tmp_path / "data" / "lake")


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_a_batch_read_in_small_chunks_stores_the_same_rows_as_in_one_piece(tmp_path, file_format):
    frame = valid_frame(TAX, 23, months=4)
    path = tmp_path / f"tax.{file_format}"
    if file_format == "parquet":
        frame.write_parquet(path)
    else:
        write_csv(frame, path)
    stored = {}
    for chunk_rows in (4, 1_000):
        lake = Lake(tmp_path / f"lake{chunk_rows}")
        result = ingest_files(lake, "tax_monthly", [path], chunk_rows=chunk_rows)
        assert (result.status, result.rows, result.partitions) == ("accepted", 23, 4)
        assert len(lake.batch(result.batch_id).files) == 4  # one file per partition
        stored[chunk_rows] = lake.scan("tax_monthly").collect().sort("uscc", "month")
    assert stored[4].equals(stored[1_000])
    assert stored[4].drop("month").equals(frame.sort("uscc", "month").drop("month"))


def test_faults_found_in_small_chunks_are_reported_as_in_one_piece(lake, tmp_path):
    frame = valid_frame(TAX, 12, months=1)
    frame = with_values(frame, 2, invoices_issued_count=-1)
    frame = with_values(
        frame, 11, uscc=frame.get_column("uscc")[0]
    )  # repeats row 1, 3 chunks later
    first = write_csv(frame, tmp_path / "a.csv")
    second = write_csv(valid_frame(TAX, 3, months=1).head(1), tmp_path / "b.csv")  # repeats row 1
    reports = []
    for chunk_rows in (3, 1_000):
        result = ingest_files(
            lake,
            "tax_monthly",
            [first, second],
            chunk_rows=chunk_rows,
            rejections_dir=tmp_path / f"rej{chunk_rows}",
        )
        assert result.status == "rejected"
        assert result.rejected_rows == 3
        reports.append(pl.read_csv(result.report))
    assert reports[0].equals(reports[1])
    assert reports[0].select("file", "row", "rule").rows() == [
        (str(first), 2, "range"),
        (str(first), 11, "duplicate_key"),
        (str(second), 1, "duplicate_key"),
    ]
    assert reports[0].get_column("reason")[1].endswith(f"same as row 1 of {first}")
    assert lake_paths(lake) == set()


def test_the_report_lists_the_first_faults_and_counts_the_rest(lake, tmp_path):
    frame = valid_frame(TAX, 10, months=1).with_columns(invoices_issued_count=pl.lit(-1))
    frame = with_values(frame, 4, vat_paid=None)
    path = write_csv(frame, tmp_path / "t.csv")
    result = ingest_files(lake, "tax_monthly", [path], chunk_rows=3, report_limit=4)
    report = pl.read_csv(result.report)
    listed = report.filter(pl.col("rule") != "truncated")
    assert listed.select("row", "field").rows() == [
        (1, "invoices_issued_count"),
        (2, "invoices_issued_count"),
        (3, "invoices_issued_count"),
        (4, "vat_paid"),
    ]
    assert report.get_column("reason")[-1].startswith("7 more issue(s) not listed")
    assert (result.rejected_rows, result.summary.issues) == (10, 11)
    top = result.summary.top[0]
    assert (top.field, top.rule, top.count, top.first_row) == (
        "invoices_issued_count",
        "range",
        10,
        1,
    )


def test_a_rejected_batch_staged_in_chunks_leaves_the_lake_unchanged(lake, tmp_path):
    ingest_files(lake, "tax_monthly", [write_csv(valid_frame(TAX, 4), tmp_path / "ok.csv")])
    before = lake_paths(lake)
    frame = with_values(
        valid_frame(TAX, 9, offset=100), 8, month="2024-13"
    )  # fault in the last chunk
    result = ingest_files(
        lake, "tax_monthly", [write_csv(frame, tmp_path / "bad.csv")], chunk_rows=2
    )
    assert result.status == "rejected"
    assert lake_paths(lake) == before


def test_keys_already_in_the_lake_are_found_across_chunks_and_partitions(lake, tmp_path):
    ingest_files(lake, "bank_loan", [write_csv(valid_frame(LOAN, 6), tmp_path / "l1.csv")])
    again = pl.concat([valid_frame(LOAN, 5, offset=100), valid_frame(LOAN, 6).slice(4, 1)])
    again = again.with_columns(pl.col("disbursed_on").dt.offset_by("14mo"))
    result = ingest_files(lake, "bank_loan", [write_csv(again, tmp_path / "l2.csv")], chunk_rows=2)
    assert result.status == "rejected"
    assert pl.read_csv(result.report).select("row", "rule").rows() == [(6, "key_in_lake")]


def test_a_key_hash_collision_never_rejects_a_good_batch(lake, tmp_path, monkeypatch):
    def colliding(spec):
        return pl.lit(7, dtype=pl.UInt64).alias(key_module.HASH_COLUMN)

    monkeypatch.setattr(key_module, "key_hash", colliding)
    monkeypatch.setattr(validate_module, "key_hash", colliding)
    first = ingest_files(
        lake, "tax_monthly", [write_csv(valid_frame(TAX, 8), tmp_path / "a.csv")], chunk_rows=3
    )
    second = ingest_files(
        lake,
        "tax_monthly",
        [write_csv(valid_frame(TAX, 5, offset=50), tmp_path / "b.csv")],
        chunk_rows=3,
    )
    assert (first.status, second.status) == ("accepted", "accepted")
    assert lake.row_count("tax_monthly") == 13


def test_a_new_snapshot_of_an_entity_table_is_accepted_and_read_as_the_latest(lake, tmp_path):
    day1 = valid_frame(ENTERPRISE, 5)
    day2 = pl.concat([day1.slice(1, 4), valid_frame(ENTERPRISE, 2, offset=50)])
    day2 = day2.with_columns(registered_capital=pl.col("registered_capital") + 1)
    first = ingest_files(lake, "reg_enterprise", [write_csv(day1, tmp_path / "d1.csv")])
    second = ingest_files(
        lake, "reg_enterprise", [write_csv(day2, tmp_path / "d2.csv")], chunk_rows=2
    )
    assert (first.status, second.status) == ("accepted", "accepted")
    assert lake.row_count("reg_enterprise") == 7
    current = lake.scan("reg_enterprise").collect()
    expected = pl.concat([day1.head(1), day2])
    assert current.sort("uscc").equals(expected.sort("uscc"))
    capital = lake.connect().execute("select sum(registered_capital) from reg_enterprise")
    assert capital.fetchall()[0][0] == expected.get_column("registered_capital").sum()


def test_a_snapshot_repeating_a_key_within_itself_is_still_rejected(lake, tmp_path):
    frame = valid_frame(ENTERPRISE, 4)
    frame = with_values(frame, 4, uscc=frame.get_column("uscc")[0])
    result = ingest_files(
        lake, "reg_enterprise", [write_csv(frame, tmp_path / "e.csv")], chunk_rows=2
    )
    assert result.status == "rejected"
    assert pl.read_csv(result.report).select("row", "rule").rows() == [(4, "duplicate_key")]
    assert lake.tables() == []


def test_monthly_tables_still_refuse_keys_another_batch_wrote(lake, tmp_path):
    ingest_files(lake, "tax_monthly", [write_csv(valid_frame(TAX, 3), tmp_path / "a.csv")])
    resent = valid_frame(TAX, 3).with_columns(pl.col("vat_paid") + 1)
    result = ingest_files(lake, "tax_monthly", [write_csv(resent, tmp_path / "b.csv")])
    assert result.status == "rejected"
    assert set(pl.read_csv(result.report).get_column("rule")) == {"key_in_lake"}
