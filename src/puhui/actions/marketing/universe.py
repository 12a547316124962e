"""The population to market to (营销全量): one row per registered firm, with the features the
lists, the pre-screen, the product catalog and the models read, and where the firm is.

Reads the feature snapshot as of the date and, from the lake, each firm's name and county
(``reg_enterprise``) and the branch network (``bank_branch``): a firm's outlet is the
sub-branch (支行) of its county, its city branch the branch (分行) above it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import polars as pl

from puhui.data.lake import Lake
from puhui.features.store import FEATURES_FILE, load_features, snapshot_dir

OUTLET_COLUMN = "outlet_id"
CITY_COLUMN = "city_branch_id"


def branch_network(lake: Lake) -> pl.DataFrame:
    """``division_code`` → outlet (sub-branch of the county) and city branch."""
    branches = lake.scan("bank_branch").collect()
    subs = branches.filter(pl.col("level") == "sub_branch").select(
        "division_code",
        pl.col("branch_id").alias(OUTLET_COLUMN),
        pl.col("parent_branch_id").alias(CITY_COLUMN),
    )
    return subs.unique("division_code", keep="first").sort("division_code")


def firm_locations(lake: Lake, network: pl.DataFrame) -> pl.DataFrame:
    """uscc, name, division_code, outlet and city branch (the city's branch when the county
    has no outlet)."""
    firms = lake.scan("reg_enterprise").select("uscc", "name", "division_code").collect()
    cities = (
        lake.scan("bank_branch")
        .filter(pl.col("level") == "branch")
        .select(pl.col("division_code").str.slice(0, 4).alias("_city"), "branch_id")
        .collect()
        .unique("_city", keep="first")
    )
    located = firms.join(network, on="division_code", how="left")
    located = located.with_columns(pl.col("division_code").str.slice(0, 4).alias("_city")).join(
        cities, on="_city", how="left"
    )
    return located.with_columns(pl.coalesce(CITY_COLUMN, "branch_id").alias(CITY_COLUMN)).drop(
        "_city", "branch_id"
    )


def load_universe(
    features_root: Path, as_of: date, columns: Iterable[str], locations: pl.DataFrame
) -> pl.DataFrame:
    """The feature rows as of ``as_of`` (only ``columns``) joined to the firms' locations.

    A column the snapshot lacks (a rule on facts only a fetched credit report gives, say) is
    missing for every firm, which each rule's ``if_missing`` then decides.
    """
    wanted = sorted(set(columns))
    available = set(pl.read_parquet_schema(snapshot_dir(features_root, as_of) / FEATURES_FILE))
    frame = load_features(features_root, as_of, columns=[c for c in wanted if c in available])
    return frame.join(locations, on="uscc", how="left").with_columns(
        pl.col("name").fill_null(""),
        *[pl.lit(None, dtype=pl.Float64).alias(c) for c in wanted if c not in available],
    )
