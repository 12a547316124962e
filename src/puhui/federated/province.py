"""Deal a province's feature store into the two parties' tables, as the real split would fall.

The bank holds what it sees itself (settlement flows, its loans, the credit reports it pulled) and
the outcomes; the government platform holds tax, social-security and utility data for every firm
in the province. Rows are firm-months, ``<USCC>@<as-of date>``, so training can be split by time
(``TrainingParameters.train_before``) and today's population scored (``score_from``):

- bank: its labelled firm-months (the behaviour target: 90+ days overdue within 12 months) on the
  training snapshots, plus every firm it has features for as of the scoring date, unlabelled;
- platform: every firm of the province on each of those dates.

Columns are chosen by a fixed rule from the catalog (no look at labels, so neither side's choice
leaks anything and the held-out months stay unseen): trend and level aggregates of each source's
metrics over 3 and 12 months, dealt round-robin across metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from puhui.features.catalog import FeatureCatalog
from puhui.features.store import load_features
from puhui.federated.data import write_party
from puhui.federated.errors import FederatedError
from puhui.federated.linear import DATE_SEPARATOR
from puhui.models.datasets import TARGET_COLUMN, build_dataset

BANK_SOURCES = (
    "bank_account_monthly",
    "bank_loan_monthly",
    "bureau_enterprise_monthly",
    "bureau_person_monthly",
)
PLATFORM_SOURCES = ("tax_monthly", "social_monthly", "utility_monthly")
PREFERRED = (("yoy", 3), ("mean", 12), ("slope", 12), ("max", 3), ("growth", 12), ("drawdown", 12))
"""Aggregate and window, in the order each metric contributes a column."""
DEFAULT_TARGET = "behaviour_pd_12m"


@dataclass(frozen=True)
class ProvinceSplit:
    """What was written: rows per side and the columns each holds."""

    bank_rows: int
    bank_labelled_rows: int
    platform_rows: int
    bank_columns: list[str]
    platform_columns: list[str]
    score_as_of: date


def party_columns(catalog: FeatureCatalog, sources: Sequence[str], count: int) -> list[str]:
    """``count`` columns of the given sources: per metric, the PREFERRED aggregates in turn."""
    by_metric: dict[str, dict[tuple[str, int], str]] = {}
    for feature in catalog.features:
        if feature.source in sources and feature.kind == "monthly":
            metric = feature.name.rsplit(f"_{feature.aggregate}_", 1)[0]
            by_metric.setdefault(metric, {})[(feature.aggregate, feature.window)] = feature.name
    chosen: list[str] = []
    for preference in PREFERRED:
        for metric in sorted(by_metric):
            name = by_metric[metric].get(preference)
            if name is not None and len(chosen) < count:
                chosen.append(name)
    if len(chosen) < count:
        raise FederatedError(
            f"the catalog offers {len(chosen)} columns from {', '.join(sources)}, not {count}"
        )
    return chosen


def row_ids(frame: pl.DataFrame) -> pl.Series:
    """``<uscc>@<as_of>`` for each row: the key both parties can form for a firm-month."""
    return pl.concat_str(
        [pl.col("uscc"), pl.lit(DATE_SEPARATOR), pl.col("as_of").cast(pl.Date).cast(pl.Utf8)]
    ).alias("id")


def split_province(
    connection: duckdb.DuckDBPyConnection,
    features_root: Path,
    catalog: FeatureCatalog,
    bank_dir: Path,
    platform_dir: Path,
    *,
    training_dates: Sequence[date],
    score_as_of: date,
    columns_per_side: int = 20,
    target: str = DEFAULT_TARGET,
) -> ProvinceSplit:
    """Write ``party.parquet`` into each folder from the province's lake and feature store."""
    if score_as_of <= max(training_dates):
        raise FederatedError(
            f"the scoring date {score_as_of} must come after the last training snapshot "
            f"{max(training_dates)}"
        )
    bank_columns = party_columns(catalog, BANK_SOURCES, columns_per_side)
    platform_columns = party_columns(catalog, PLATFORM_SOURCES, columns_per_side)
    labelled = build_dataset(
        connection, features_root, target, dates=training_dates, columns=bank_columns
    ).frame
    if labelled.is_empty():
        raise FederatedError(f"no matured {target} outcomes on the training snapshots")
    current = load_features(features_root, score_as_of, columns=bank_columns)
    bank = pl.concat(
        [
            labelled.select(
                row_ids(labelled), *bank_columns, pl.col(TARGET_COLUMN).cast(pl.Float64)
            ),
            current.select(
                row_ids(current), *bank_columns, pl.lit(None, pl.Float64).alias(TARGET_COLUMN)
            ),
        ],
        how="vertical_relaxed",
    ).rename({TARGET_COLUMN: "label"})
    platform = load_features(
        features_root, [*sorted(set(training_dates)), score_as_of], columns=platform_columns
    )
    platform = platform.select(row_ids(platform), *platform_columns)
    write_party(
        bank_dir,
        bank["id"].to_list(),
        {name: bank[name].cast(pl.Float64).to_numpy() for name in bank_columns},
        bank["label"].to_numpy(),
    )
    write_party(
        platform_dir,
        platform["id"].to_list(),
        {name: platform[name].cast(pl.Float64).to_numpy() for name in platform_columns},
    )
    return ProvinceSplit(
        bank.height,
        labelled.height,
        platform.height,
        bank_columns,
        platform_columns,
        score_as_of,
    )
