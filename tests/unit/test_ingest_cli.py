"""``puhui ingest``, ``puhui ingest-dir`` and ``puhui lake`` from the command line."""

from __future__ import annotations

import polars as pl
from lake_factories import valid_frame, write_csv

from puhui.cli.main import run
from puhui.data.schema import load_catalog

CATALOG = load_catalog()
TAX = CATALOG.table("tax_monthly")
PERSON = CATALOG.table("reg_person")


def test_ingest_prints_a_summary_and_a_rerun_says_already(tmp_path, capsys):
    path = write_csv(valid_frame(TAX, 6), tmp_path / "tax.csv")
    data = ["--data-dir", str(tmp_path / "data")]
    assert run([*data, "ingest", "tax_monthly", str(path)]) == 0
    assert "accepted" in capsys.readouterr().out
    assert run([*data, "ingest", "tax_monthly", str(path)]) == 0
    out = capsys.readouterr().out
    assert "already" in out and "nothing written" in out


def test_a_rejected_batch_exits_one_naming_the_report(tmp_path, capsys):
    frame = valid_frame(TAX, 3).with_columns(month=pl.lit("2024-01-15").str.to_date())
    path = write_csv(frame, tmp_path / "tax.csv")
    code = run(["--data-dir", str(tmp_path / "data"), "ingest", "tax_monthly", str(path)])
    captured = capsys.readouterr()
    assert code == 1
    error = captured.err.strip()
    assert error.count("\n") == 0
    assert error.startswith("error: batch rejected, nothing written: tax_monthly: 3 row(s)")
    assert str(tmp_path / "data" / "rejections") in error
    assert "month" in captured.out


def test_a_refused_file_exits_one_with_the_reason(tmp_path, capsys):
    path = tmp_path / "tax.csv"
    path.write_bytes(b"\xff\xfe\x00\x01")
    code = run(["--data-dir", str(tmp_path / "data"), "ingest", "tax_monthly", str(path)])
    assert code == 1
    assert "UTF-16" in capsys.readouterr().err


def test_ingest_dir_then_lake_tables_batches_and_query(tmp_path, capsys):
    folder = tmp_path / "delivery"
    folder.mkdir()
    valid_frame(TAX, 8).write_parquet(folder / "tax_monthly.parquet")
    valid_frame(PERSON, 3).write_parquet(folder / "reg_person.parquet")
    data = ["--data-dir", str(tmp_path / "data")]
    assert run([*data, "ingest-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "tax_monthly" in out and "reg_person" in out and "accepted" in out
    assert run([*data, "lake", "tables"]) == 0
    out = capsys.readouterr().out
    assert "tax_monthly" in out and "8" in out
    assert run([*data, "lake", "batches", "--table", "reg_person"]) == 0
    out = capsys.readouterr().out
    assert "reg_person" in out and "tax_monthly" not in out
    query = "select count(*) as n from tax_monthly where month = date '2024-02-01'"
    assert run([*data, "lake", "query", query]) == 0
    assert "│ 3 │" in capsys.readouterr().out
    assert run([*data, "lake", "query", "select * from tax_monthly", "--limit", "2"]) == 0
    assert "first 2" in capsys.readouterr().out


def test_ingest_dir_exits_one_when_a_table_is_rejected(tmp_path, capsys):
    folder = tmp_path / "delivery"
    folder.mkdir()
    valid_frame(TAX, 2).write_parquet(folder / "tax_monthly.parquet")
    (folder / "reg_person.csv").write_text("姓名\n张三\n", encoding="utf-8")
    code = run(["--data-dir", str(tmp_path / "data"), "ingest-dir", str(folder)])
    assert code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: 1 of 2 table(s) rejected: reg_person:")
    assert "missing required column" in error


def test_a_bad_query_exits_one_with_duckdbs_reason(tmp_path, capsys):
    assert run(["--data-dir", str(tmp_path / "data"), "lake", "query", "select nope"]) == 1
    assert capsys.readouterr().err.startswith("error: query failed: Binder Error")
