"""One catalog, two engines: DuckDB and Spark compute the same value for every feature."""

from __future__ import annotations

import math
import os
import shutil
from datetime import date

import polars as pl
import pytest

from puhui.features.catalog import load_feature_catalog
from puhui.features.engines import DuckDBEngine, SparkEngine, spark_session, to_spark_sql
from puhui.features.store import build_snapshots, load_features
from support.province import ingest, simulate

pytestmark = [pytest.mark.integration, pytest.mark.spark]

pytest.importorskip("pyspark")
AS_OF = date(2026, 2, 14)


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java")
    session = spark_session("local[2]", driver_memory="2g")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parity")
    incoming = simulate(folder, enterprises=300, months=26, seed=5, end_month="2026-03")
    return ingest(incoming, folder / "lake")


def test_spark_and_duckdb_agree_on_every_feature(spark, lake, tmp_path):
    catalog = load_feature_catalog()
    build_snapshots(lake, catalog, [AS_OF], tmp_path / "duckdb", DuckDBEngine())
    build_snapshots(lake, catalog, [AS_OF], tmp_path / "spark", SparkEngine(spark))
    duck = load_features(tmp_path / "duckdb", AS_OF).sort("uscc")
    sparked = load_features(tmp_path / "spark", AS_OF).sort("uscc")

    assert duck.columns == sparked.columns
    assert duck.height == sparked.height > 200
    assert duck["uscc"].to_list() == sparked["uscc"].to_list()
    assert sparked.schema["as_of"] == pl.Date
    assert sparked["as_of"].unique().to_list() == [AS_OF]
    mismatches = {}
    for column in duck.columns[2:]:
        # Equal to 1e-9 relative. A value that is zero up to rounding (the slope of a flat
        # series: -3.6e-12 on one engine, 0.0 on the other) is compared against the column's
        # magnitude instead, since summation order differs between the engines.
        scale = max((abs(v) for v in duck[column] if v is not None), default=0.0)
        for uscc, a, b in zip(duck["uscc"], duck[column], sparked[column], strict=True):
            same = (a is None and b is None) or (
                a is not None
                and b is not None
                and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * max(scale, 1.0))
            )
            if not same:
                mismatches[column] = (uscc, a, b)
                break
    assert mismatches == {}
    filled = [c for c in duck.columns[2:] if duck[c].null_count() < duck.height]
    assert len(filled) > 1000  # the comparison covers real values, not empty columns


def test_definitions_transpile_to_spark_sql_with_spark_date_functions():
    sql = "select date_diff('day', d, DATE '2026-01-01') as days from t"
    assert "DATEDIFF" in to_spark_sql(sql).upper()
