"""The lake: Hive layout, manifests as commits, atomic writes, recovery and the readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import polars as pl
import pyarrow.parquet as pq
import pytest
from lake_factories import valid_frame

from puhui import __version__
from puhui.data.lake import (
    BatchExistsError,
    Lake,
    LakeLayoutError,
    LakeSchemaError,
    LakeWriteError,
    SourceFile,
    TableNotInLakeError,
)
from puhui.data.schema import load_catalog

CATALOG = load_catalog()
TAX = CATALOG.table("tax_monthly")
APPLICATION = CATALOG.table("app_application")
ENTERPRISE = CATALOG.table("reg_enterprise")
COURT = CATALOG.table("court_case")


def _files(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != "_lock"}


def _counts(lake: Lake, table: str) -> tuple[int, int, int]:
    connection = lake.connect()
    duck = connection.execute(f"select count(*) from {table}").fetchall()[0][0]
    polars = lake.scan(table).select(pl.len()).collect().item()
    return duck, polars, lake.row_count(table)


def test_monthly_batch_is_laid_out_in_hive_month_partitions_with_a_manifest(tmp_path):
    lake = Lake(tmp_path / "lake")
    manifest = lake.write_batch(TAX, valid_frame(TAX, 9, months=3), "b1")
    assert _files(lake.root) == {
        "tax_monthly/month=2024-01-01/part-b1.parquet",
        "tax_monthly/month=2024-02-01/part-b1.parquet",
        "tax_monthly/month=2024-03-01/part-b1.parquet",
        "_manifests/b1.json",
    }
    assert manifest.partitions == {"2024-01-01": 3, "2024-02-01": 3, "2024-03-01": 3}
    assert manifest.rows == 9


def test_entity_table_is_written_without_partitions(tmp_path):
    lake = Lake(tmp_path / "lake")
    manifest = lake.write_batch(ENTERPRISE, valid_frame(ENTERPRISE, 4), "e1")
    assert manifest.files == ("reg_enterprise/part-e1.parquet",)
    assert manifest.partitions == {}
    assert lake.scan("reg_enterprise").collect().columns == ENTERPRISE.field_names


def test_partition_field_is_kept_inside_the_parquet_files(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(COURT, valid_frame(COURT, 6), "c1")
    part = next((lake.root / "court_case").rglob("*.parquet"))
    stored = pq.read_table(part)
    assert stored.schema.names == COURT.field_names
    assert stored.schema == COURT.arrow_schema


def test_manifest_records_sources_partition_counts_clock_and_version(tmp_path):
    moment = datetime(2025, 6, 30, 8, 0, tzinfo=UTC)
    lake = Lake(tmp_path / "lake", clock=lambda: moment)
    source = SourceFile(path="/in/tax.csv", sha256="ab" * 32, bytes=123)
    lake.write_batch(TAX, valid_frame(TAX, 4, months=2), "b1", source_files=[source])
    raw = json.loads((lake.root / "_manifests" / "b1.json").read_text(encoding="utf-8"))
    assert raw["table"] == "tax_monthly"
    assert raw["source_files"] == [{"path": "/in/tax.csv", "sha256": "ab" * 32, "bytes": 123}]
    assert raw["partitions"] == {"2024-01-01": 2, "2024-02-01": 2}
    assert raw["created_at"].startswith("2025-06-30T08:00:00")
    assert raw["puhui_version"] == __version__
    assert lake.batch("b1").source_files == (source,)


def test_timestamp_partitions_use_the_utc_month(tmp_path):
    lake = Lake(tmp_path / "lake")
    frame = valid_frame(APPLICATION, 1)
    late_evening_shanghai = datetime(2024, 2, 1, 7, 30, tzinfo=timezone(timedelta(hours=8)))
    frame = frame.with_columns(
        pl.lit(late_evening_shanghai).dt.convert_time_zone("UTC").alias("applied_at")
    )
    assert lake.write_batch(APPLICATION, frame, "a1").partitions == {"2024-01-01": 1}


def test_duckdb_view_and_polars_scan_give_the_same_counts(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(TAX, valid_frame(TAX, 10), "t1")
    lake.write_batch(TAX, valid_frame(TAX, 7, offset=100), "t2")
    lake.write_batch(APPLICATION, valid_frame(APPLICATION, 5), "a1")
    lake.write_batch(ENTERPRISE, valid_frame(ENTERPRISE, 3), "e1")
    assert _counts(lake, "tax_monthly") == (17, 17, 17)
    assert _counts(lake, "app_application") == (5, 5, 5)
    assert _counts(lake, "reg_enterprise") == (3, 3, 3)
    connection = lake.connect()
    by_month_duck = connection.execute(
        "select month, count(*) from tax_monthly group by month order by month"
    ).fetchall()
    by_month_polars = lake.scan("tax_monthly").group_by("month").len().sort("month").collect()
    assert by_month_duck == by_month_polars.rows()
    assert lake.partitions("tax_monthly") == {str(m): n for m, n in by_month_duck}


def test_month_reads_back_as_a_date_in_duckdb_and_polars(tmp_path):
    lake = Lake(tmp_path / "lake")
    frame = valid_frame(TAX, 6)
    lake.write_batch(TAX, frame, "t1")
    lake.write_batch(COURT, valid_frame(COURT, 4), "c1")
    connection = lake.connect()
    types = dict(
        connection.execute("select column_name, column_type from (describe tax_monthly)").fetchall()
    )
    assert types["month"] == "DATE"
    assert types["declared_revenue"] == "DECIMAL(18,2)"
    assert lake.scan("tax_monthly").collect_schema()["month"] == pl.Date
    back = lake.scan("tax_monthly").collect().sort("uscc")
    assert back.equals(frame.sort("uscc"))
    court = lake.scan("court_case").collect()
    assert court.schema["month"] == pl.Date
    assert (court["month"] == court["filed_on"].dt.truncate("1mo")).all()


def test_readers_see_only_files_committed_by_a_manifest(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(TAX, valid_frame(TAX, 3, months=1), "t1")
    stray = lake.root / "tax_monthly" / "month=2024-01-01" / "part-uncommitted.parquet"
    valid_frame(TAX, 5, offset=50, months=1).write_parquet(stray)
    assert _counts(lake, "tax_monthly") == (3, 3, 3)


def _replace_failing_on(call: int, error: BaseException):
    real_replace = os.replace
    calls = {"n": 0}

    def replace(src, dst):
        calls["n"] += 1
        if calls["n"] == call:
            raise error
        return real_replace(src, dst)

    return replace


@pytest.mark.parametrize(
    ("failing_call", "moved"),
    [(1, 0), (3, 2), (4, 3)],  # the 4th rename is the manifest's: the commit itself fails
)
def test_failed_rename_mid_write_leaves_the_lake_as_before_after_recover(
    tmp_path, monkeypatch, failing_call, moved
):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(TAX, valid_frame(TAX, 6), "before")
    files_before = _files(lake.root)
    monkeypatch.setattr(os, "replace", _replace_failing_on(failing_call, OSError("disk full")))
    with pytest.raises(LakeWriteError, match=f"disk full.*rolled back {moved} file"):
        lake.write_batch(TAX, valid_frame(TAX, 6, offset=100), "after")
    monkeypatch.undo()
    assert _files(lake.root) == files_before  # the write rolled itself back
    lake.recover()
    assert _files(lake.root) == files_before
    assert not lake.has_batch("after")
    assert _counts(lake, "tax_monthly") == (6, 6, 6)


_CRASHING_WRITER = """
import os, sys
sys.path.insert(0, {tests!r})
from lake_factories import valid_frame
from puhui.data.lake import Lake
from puhui.data.schema import load_catalog

spec = load_catalog().table("tax_monthly")
real_replace = os.replace
calls = []

def replace_then_die(src, dst):
    calls.append(dst)
    if len(calls) == 2:
        os._exit(17)  # the process dies here: no except, finally or rollback runs
    real_replace(src, dst)

os.replace = replace_then_die
Lake({root!r}).write_batch(spec, valid_frame(spec, 6, offset=100), "crashed")
"""


def test_process_killed_mid_write_leaves_the_lake_as_before_after_recover(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(TAX, valid_frame(TAX, 6), "before")
    files_before = _files(lake.root)
    script = _CRASHING_WRITER.format(tests=os.path.dirname(__file__), root=str(lake.root))
    died = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert died.returncode == 17, died.stderr.decode()
    debris = _files(lake.root) - files_before
    assert any(f.startswith("tax_monthly/") and "part-crashed" in f for f in debris)
    assert any(f.startswith("_staging/crashed/") for f in debris)
    report = lake.recover()
    assert _files(lake.root) == files_before
    assert _counts(lake, "tax_monthly") == (6, 6, 6)
    assert "_staging/crashed" in report.removed
    assert not lake.has_batch("crashed")


def test_recover_keeps_committed_and_foreign_files(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(TAX, valid_frame(TAX, 3), "t1")
    foreign = lake.root / "tax_monthly" / "README.txt"
    foreign.write_text("notes", encoding="utf-8")
    staged = lake.root / "_staging" / "x" / "tax_monthly" / "part-x.parquet"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"half")
    report = lake.recover()
    assert foreign.exists()
    assert not (lake.root / "_staging" / "x").exists()
    assert report.removed == ("_staging/x",)
    assert lake.row_count("tax_monthly") == 3


def test_an_existing_batch_cannot_be_written_again(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(TAX, valid_frame(TAX, 3), "t1")
    with pytest.raises(BatchExistsError, match="t1"):
        lake.write_batch(TAX, valid_frame(TAX, 3, offset=9), "t1")


def test_a_frame_that_does_not_fit_the_schema_is_refused_naming_the_columns(tmp_path):
    lake = Lake(tmp_path / "lake")
    frame = valid_frame(TAX, 3)
    with pytest.raises(LakeSchemaError, match="missing vat_paid; unexpected extra"):
        lake.write_batch(TAX, frame.drop("vat_paid").with_columns(extra=pl.lit(1)), "t1")
    with pytest.raises(LakeSchemaError, match=r"nulls in required field.*uscc"):
        lake.write_batch(TAX, frame.with_columns(uscc=pl.lit(None, pl.String)), "t1")
    assert not lake.root.joinpath("tax_monthly").exists()


def test_batch_ids_and_lake_folders_that_break_paths_are_refused(tmp_path):
    lake = Lake(tmp_path / "lake")
    with pytest.raises(LakeLayoutError, match="batch id"):
        lake.write_batch(TAX, valid_frame(TAX, 1), "../escape")
    with pytest.raises(LakeLayoutError, match="must not contain '='"):
        Lake(tmp_path / "env=prod" / "lake")


def test_scanning_a_table_without_batches_names_the_table(tmp_path):
    lake = Lake(tmp_path / "lake")
    with pytest.raises(TableNotInLakeError, match="tax_monthly has no batches"):
        lake.scan("tax_monthly")


def test_an_empty_batch_commits_and_reads_as_an_empty_typed_table(tmp_path):
    lake = Lake(tmp_path / "lake")
    manifest = lake.write_batch(TAX, valid_frame(TAX, 0), "empty")
    assert manifest.rows == 0 and manifest.files == ()
    assert lake.scan("tax_monthly").collect().schema["month"] == pl.Date
    assert lake.connect().execute("select count(*) from tax_monthly").fetchall() == [(0,)]


def test_files_can_be_limited_to_partition_months(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(TAX, valid_frame(TAX, 6, months=3), "t1")
    chosen = lake.files("tax_monthly", [date(2024, 2, 1)])
    assert [p.parent.name for p in chosen] == ["month=2024-02-01"]
