"""Spark reads the lake's files as written: same rows, same partitions, same types."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.spark]

pyspark = pytest.importorskip("pyspark")
from pyspark.sql import SparkSession, Window  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.sql.types import DateType, DecimalType, TimestampType  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from lake_factories import valid_frame  # noqa: E402

from puhui.data.lake import Lake  # noqa: E402
from puhui.data.schema import load_catalog  # noqa: E402

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("puhui-lake-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("spark") / "lake")
    tax = CATALOG.table("tax_monthly")
    lake.write_batch(tax, valid_frame(tax, 30, months=4), "tax1")
    lake.write_batch(tax, valid_frame(tax, 12, offset=500, months=2), "tax2")
    for name in ("app_application", "reg_enterprise"):
        spec = CATALOG.table(name)
        lake.write_batch(spec, valid_frame(spec, 10), f"{name}_1")
    return lake


def _spark_partitions(frame) -> dict[str, int]:
    counted = frame.groupBy("month").count().collect()
    return {row["month"].isoformat(): row["count"] for row in counted}


def test_spark_reads_a_monthly_table_with_the_same_rows_partitions_and_types(spark, lake):
    frame = spark.read.parquet(str(lake.root / "tax_monthly"))
    types = {f.name: f.dataType for f in frame.schema.fields}
    assert types["month"] == DateType()
    assert types["declared_revenue"] == DecimalType(18, 2)
    assert frame.count() == lake.row_count("tax_monthly") == 42
    assert _spark_partitions(frame) == lake.partitions("tax_monthly")
    columns = ["uscc", "month", "declared_revenue", "invoices_issued_count"]
    from_spark = sorted(tuple(row) for row in frame.select(*columns).collect())
    from_polars = sorted(lake.scan("tax_monthly").select(columns).collect().rows())
    assert from_spark == from_polars


def test_spark_reads_event_timestamps_as_the_same_instants_with_a_date_partition(spark, lake):
    frame = spark.read.parquet(str(lake.root / "app_application"))
    types = {f.name: f.dataType for f in frame.schema.fields}
    assert types["applied_at"] == TimestampType()
    assert types["month"] == DateType()
    from_spark = sorted(
        (row["application_id"], row["micros"], row["month"])
        for row in frame.select(
            "application_id", F.unix_micros("applied_at").alias("micros"), "month"
        ).collect()
    )
    from_polars = sorted(
        lake.scan("app_application")
        .select("application_id", pl.col("applied_at").dt.epoch("us"), "month")
        .collect()
        .rows()
    )
    assert from_spark == from_polars
    assert _spark_partitions(frame) == lake.partitions("app_application")


def test_spark_reads_an_entity_table_and_only_committed_files_when_given_the_list(spark, lake):
    spec = CATALOG.table("reg_enterprise")
    table_dir = lake.root / "reg_enterprise"
    frame = spark.read.parquet(str(table_dir))
    assert frame.columns == spec.field_names
    assert frame.count() == 10
    stray = table_dir / "part-uncommitted.parquet"
    valid_frame(spec, 4, offset=99).write_parquet(stray)
    try:
        committed = [str(p) for p in lake.files("reg_enterprise")]
        only_committed = spark.read.option("basePath", str(table_dir)).parquet(*committed)
        assert only_committed.count() == 10
    finally:
        stray.unlink()


def test_spark_reads_the_latest_snapshot_of_an_entity_table_like_the_lake(spark, tmp_path):
    spec = CATALOG.table("reg_enterprise")
    lake = Lake(tmp_path / "lake")
    first = valid_frame(spec, 6)
    second = pl.concat([first.slice(2, 4), valid_frame(spec, 2, offset=50)])
    lake.write_batch(spec, first.with_columns(pl.col("name") + " v1"), "ffff")
    lake.write_batch(spec, second.with_columns(pl.col("name") + " v2"), "0000")
    # The documented recipe: committed files, each row's batch from its file name, the
    # batch's rank in commit order from the manifests, and the last rank per key wins.
    files = [str(p) for p in lake.files(spec.name)]
    ranks = spark.createDataFrame(
        [(m.batch_id, rank) for rank, m in enumerate(lake.batches(spec.name))],
        "batch_id string, batch_rank int",
    )
    latest_first = Window.partitionBy(*spec.key).orderBy(F.col("batch_rank").desc())
    latest = (
        spark.read.parquet(*files)
        .withColumn(
            "batch_id",
            F.regexp_extract(F.col("_metadata.file_name"), r"^part-(.+)\.parquet$", 1),
        )
        .join(F.broadcast(ranks), "batch_id")
        .withColumn("version", F.row_number().over(latest_first))
        .filter("version = 1")
        .select(*spec.field_names)
    )
    from_spark = sorted(tuple(row) for row in latest.select("uscc", "name").collect())
    from_lake = sorted(lake.scan(spec.name).select("uscc", "name").collect().rows())
    assert from_spark == from_lake
    assert len(from_spark) == lake.row_count(spec.name) == 8
