"""Point-in-time correctness: features as of T use only what a bank could see before T.

Two lakes of the same province: the full history, and a copy cut back to what was observable
before T (each source's reporting lag respected, firms founded later removed). Every feature as
of T must be the same on both; adding data dated after T changes nothing.
"""

from __future__ import annotations

import math
from datetime import date

import polars as pl
import pytest

from puhui.features.catalog import load_feature_catalog
from puhui.features.engines import DuckDBEngine
from puhui.features.store import build_snapshots, load_features
from support.province import cut_to_observable, ingest, simulate

pytestmark = pytest.mark.integration

AS_OF = date(2025, 9, 17)  # mid-month, so lags of 10, 15 and 20 days fall either side of it


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pit")
    incoming = simulate(folder, enterprises=600, months=30, seed=31, end_month="2026-06")
    catalog = load_feature_catalog()
    cut = cut_to_observable(incoming, folder / "cut", AS_OF, dict(catalog.lags))
    return ingest(incoming, folder / "full" / "lake"), ingest(cut, folder / "past" / "lake")


def _features(lake, root, as_of: date) -> pl.DataFrame:
    build_snapshots(lake, load_feature_catalog(), [as_of], root, DuckDBEngine())
    return load_features(root, as_of).sort("uscc")


def _differences(left: pl.DataFrame, right: pl.DataFrame) -> list[str]:
    assert left.columns == right.columns
    assert left["uscc"].to_list() == right["uscc"].to_list()
    differing = []
    for column in left.columns[2:]:
        for a, b in zip(left[column].to_list(), right[column].to_list(), strict=True):
            if a is None and b is None:
                continue
            if a is None or b is None or not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                differing.append(column)
                break
    return differing


def test_data_dated_after_the_as_of_date_changes_no_feature(lakes, tmp_path):
    full, past = lakes
    with_future = _features(full, tmp_path / "full", AS_OF)
    without_future = _features(past, tmp_path / "past", AS_OF)
    assert with_future.height > 300
    assert with_future.width == len(load_feature_catalog().features) + 2
    assert _differences(with_future, without_future) == []


def test_the_cut_lake_really_lacks_later_data(lakes, tmp_path):
    """Guards the test above: a later as-of date does see data the cut lake does not have."""
    full, past = lakes
    later = date(2026, 3, 1)
    everything = _features(full, tmp_path / "full", later)
    cut = _features(past, tmp_path / "past", later)
    assert everything.height > cut.height  # firms founded after T exist only in the full lake
    common = everything.filter(pl.col("uscc").is_in(cut["uscc"].to_list()))
    assert len(_differences(common, cut)) > 100


def test_a_firm_struck_off_after_t_is_active_as_of_t(lakes, tmp_path):
    """reg_enterprise is a snapshot: its status is read as of T through ``status_since``."""
    full, _ = lakes
    later = date(2026, 7, 1)  # after the window: every strike-off is visible
    struck = (
        full.scan("reg_enterprise")
        .filter(
            (pl.col("status") != "active")
            & (pl.col("status_since") >= AS_OF)
            & (pl.col("founded_on") < AS_OF)
        )
        .collect()["uscc"]
        .to_list()
    )
    assert len(struck) >= 5, "the province should strike off firms after T"
    then = _features(full, tmp_path / "then", AS_OF).filter(pl.col("uscc").is_in(struck))
    now = _features(full, tmp_path / "now", later).filter(pl.col("uscc").is_in(struck))
    assert then.height == now.height == len(struck)
    assert then["reg_active"].to_list() == [1] * len(struck)
    assert now["reg_active"].to_list() == [0] * len(struck)
