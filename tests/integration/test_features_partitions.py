"""Other ways of building write the same feature table as a build in one go.

Slicing the firms bounds memory for a province of a million firms, and the union assembly is
how Spark brings seventy results together; neither may change a single value, including the
features that look across firms (shared phones, a person's other firms).
"""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from puhui.features.catalog import load_feature_catalog
from puhui.features.compiler import Partition, compile_plan
from puhui.features.engines import DuckDBEngine, SparkEngine
from puhui.features.store import (
    CATALOG_FILE,
    FeatureStoreError,
    build_snapshots,
    load_features,
    partition_count,
    snapshot_dir,
)
from support.province import ingest, simulate

pytestmark = pytest.mark.integration

DATES = [date(2025, 12, 1), date(2026, 1, 1)]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slices")
    incoming = simulate(folder, enterprises=400, months=26, seed=11, end_month="2026-01")
    return ingest(incoming, folder / "lake")


@pytest.fixture(scope="module")
def whole(lake, tmp_path_factory):
    root = tmp_path_factory.mktemp("whole")
    build_snapshots(lake, load_feature_catalog(), DATES, root, DuckDBEngine(), partitions=1)
    return root


def test_sliced_build_equals_whole_build(lake, whole, tmp_path):
    catalog = load_feature_catalog()
    build_snapshots(lake, catalog, DATES, tmp_path, DuckDBEngine(), partitions=3)
    for day in DATES:
        one = load_features(whole, day).sort("uscc")
        sliced = load_features(tmp_path, day).sort("uscc")
        assert one.height > 300
        assert sliced["uscc"].n_unique() == sliced.height  # no firm in two slices
        # Same rows, columns and values; sums may add up in another order, hence the tolerance.
        assert_frame_equal(one, sliced, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)
        network = [c for c in one.columns if c.startswith("network_")]
        assert network and one.select(pl.col(network).max()).row(0) != (0,) * len(network)
        # The slices' part files are gone; the statistics describe the whole table.
        folder = snapshot_dir(tmp_path, day)
        assert sorted(p.name for p in folder.glob("*.parquet")) == ["features.parquet"]
        stats = {s["name"]: s for s in json.loads((folder / CATALOG_FILE).read_text())}
        reference = {
            s["name"]: s for s in json.loads((snapshot_dir(whole, day) / CATALOG_FILE).read_text())
        }
        assert stats["reg_age_months"]["fill_rate"] == reference["reg_age_months"]["fill_rate"]
        assert stats["reg_age_months"]["p50"] == pytest.approx(reference["reg_age_months"]["p50"])


def test_each_slice_holds_a_share_of_the_firms(lake, whole, tmp_path):
    catalog = load_feature_catalog()
    engine = DuckDBEngine()
    sizes = []
    for index in range(3):
        plan = compile_plan(catalog, [DATES[-1]], partition=Partition(index, 3))
        target = tmp_path / f"slice{index}.parquet"
        engine.run(plan, lake, {DATES[-1]: target})
        sizes.append(pq.ParquetFile(target).metadata.num_rows)
    total = load_features(whole, DATES[-1]).height
    assert sum(sizes) == total
    assert min(sizes) > total / 6  # hash slices are roughly even, none empty


def test_partition_count_is_automatic_or_checked(lake):
    assert partition_count(lake, DuckDBEngine(), None) == 1  # 400 firms fit one slice
    assert partition_count(lake, DuckDBEngine(), 4) == 4
    with pytest.raises(FeatureStoreError, match="at least 1"):
        partition_count(lake, DuckDBEngine(), 0)
    with pytest.raises(FeatureStoreError, match="spark engine does not build in partitions"):
        partition_count(lake, SparkEngine(), 2)
    assert partition_count(lake, SparkEngine(), None) == 1


def test_a_partition_outside_the_count_is_refused():
    with pytest.raises(ValueError, match="partition 3 of 3"):
        Partition(3, 3)


def test_union_assembly_equals_join_assembly(lake, whole, tmp_path):
    """The assembly Spark uses, run on DuckDB, gives the join's table."""
    day = DATES[-1]
    plan = compile_plan(load_feature_catalog(), [day], assembly="union")
    assert "union all" in plan.per_date[day][-2].sql
    DuckDBEngine().run(plan, lake, {day: tmp_path / "union.parquet"})
    stacked = pl.read_parquet(tmp_path / "union.parquet").sort("uscc")
    joined = load_features(whole, day).sort("uscc")
    assert_frame_equal(joined, stacked, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)
