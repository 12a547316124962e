"""Build the lists as of a date (生成名单): prospects → themes → pre-screen → scores → best
product → expected value → rank, for every firm of the universe at once.

``score_universe`` is the whole pipeline over a frame (the benchmark runs it on millions of
rows); ``summarize`` gives the counts a run records. Every firm ends with a ``status``:

- ``borrower``: has a loan at this bank, not a prospect;
- ``excluded``: failed the admission pre-screen (``exclusion_reasons`` names each rule);
- ``no_offer``: passed, but the score band declines or no product is eligible;
- ``listed``: on the list, with its best product, indicative limit and rate, and its EV.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import numpy as np
import polars as pl

from puhui.decisions.joint_model import blend_pd_expression
from puhui.decisions.marketing.lists import (
    FIRST_LOAN_COLUMN,
    PASSED_COLUMN,
    PROSPECT_COLUMN,
    REASONS_COLUMN,
    THEMES_COLUMN,
    classify,
)
from puhui.decisions.marketing.offers import (
    BAND_DECLINED_COLUMN,
    LIMIT_COLUMN,
    SCORE_COLUMN,
    match_best_offer,
    score_expr,
)
from puhui.decisions.marketing.spec import MarketingConfig
from puhui.decisions.marketing.value import (
    EV_COLUMN,
    LISTED_COLUMN,
    PD_COLUMN,
    TAKEUP_COLUMN,
    expected_value,
    rank_and_decile,
    response_deciles,
)
from puhui.decisions.products.spec import ProductCatalog

STATUS_COLUMN = "status"
STATUSES = ("borrower", "excluded", "no_offer", "listed")


class Predictor(Protocol):
    name: str
    version: str
    features: tuple[str, ...]

    def predict(self, frame: pl.DataFrame) -> np.ndarray: ...


def needed_columns(
    config: MarketingConfig, catalog: ProductCatalog, *models: Predictor
) -> list[str]:
    names: dict[str, None] = {}
    for name in (*config.features, *catalog.features):
        names[name] = None
    for model in models:
        for name in model.features:
            names[name] = None
    return list(names)


SLICE_ROWS = 500_000
JOINT_PD_COLUMN = "joint_pd"


def score_universe(
    universe: pl.DataFrame,
    config: MarketingConfig,
    catalog: ProductCatalog,
    as_of: date,
    pd_model: Predictor,
    takeup_model: Predictor,
    *,
    slice_rows: int = SLICE_ROWS,
    joint_pd: pl.DataFrame | None = None,
    joint_weight: float = 0.0,
) -> pl.DataFrame:
    """Every firm classified, scored, matched and valued (see the module docstring).

    Firms are scored in slices of ``slice_rows`` (each firm's result depends on its own row
    only), which bounds the intermediate columns; ranking then needs them all together.
    ``joint_pd`` (``uscc``, ``joint_pd``: the federated model's scores for today) is kept as a
    column and, with ``joint_weight`` > 0, blended into the PD (``decisions.joint_model``).
    """
    if joint_pd is not None:
        universe = universe.join(
            joint_pd.select("uscc", pl.col("joint_pd").cast(pl.Float64)), on="uscc", how="left"
        )
    parts = [
        _score_slice(
            universe.slice(start, slice_rows),
            config,
            catalog,
            as_of,
            pd_model,
            takeup_model,
            joint_weight,
        )
        for start in range(0, max(universe.height, 1), slice_rows)
    ]
    frame = pl.concat(parts, how="vertical_relaxed") if len(parts) > 1 else parts[0]
    return response_deciles(rank_and_decile(frame))


def _score_slice(
    universe: pl.DataFrame,
    config: MarketingConfig,
    catalog: ProductCatalog,
    as_of: date,
    pd_model: Predictor,
    takeup_model: Predictor,
    joint_weight: float = 0.0,
) -> pl.DataFrame:
    classified = classify(universe, config).collect()
    prospects = classified.filter(pl.col(PROSPECT_COLUMN))
    pd_values = pd_model.predict(prospects) if prospects.height else np.empty(0)
    takeup = takeup_model.predict(prospects) if prospects.height else np.empty(0)
    scored_prospects = prospects.with_columns(
        pl.Series(PD_COLUMN, pd_values, dtype=pl.Float64),
        pl.Series(TAKEUP_COLUMN, takeup, dtype=pl.Float64),
    )
    others = classified.filter(~pl.col(PROSPECT_COLUMN)).with_columns(
        pl.lit(None, dtype=pl.Float64).alias(PD_COLUMN),
        pl.lit(None, dtype=pl.Float64).alias(TAKEUP_COLUMN),
    )
    scored = pl.concat([scored_prospects, others], how="vertical_relaxed")
    if joint_weight > 0 and JOINT_PD_COLUMN in scored.columns:
        scored = scored.with_columns(
            blend_pd_expression(PD_COLUMN, JOINT_PD_COLUMN, joint_weight).alias(PD_COLUMN)
        )
    lazy = scored.lazy().with_columns(
        score_expr(PD_COLUMN, catalog.model_score_scale).alias(SCORE_COLUMN)
    )
    lazy = match_best_offer(lazy, catalog, as_of)
    lazy = expected_value(lazy, config.value)
    no_offer_reason = (
        pl.when(pl.col(BAND_DECLINED_COLUMN))
        .then(pl.lit(["score_declined"]))
        .otherwise(pl.lit(["no_product"]))
    )
    lazy = lazy.with_columns(
        pl.when(~pl.col(PROSPECT_COLUMN))
        .then(pl.lit("borrower"))
        .when(~pl.col(PASSED_COLUMN))
        .then(pl.lit("excluded"))
        .when(~pl.col(LISTED_COLUMN))
        .then(pl.lit("no_offer"))
        .otherwise(pl.lit("listed"))
        .alias(STATUS_COLUMN),
    ).with_columns(
        pl.when(pl.col(STATUS_COLUMN) == "no_offer")
        .then(no_offer_reason)
        .otherwise(pl.col(REASONS_COLUMN))
        .alias(REASONS_COLUMN)
    )
    return lazy.collect()


@dataclass(frozen=True)
class RunSummary:
    """What a build found: counts by status, exclusions by rule, listed firms by theme."""

    universe: int
    prospects: int
    first_loan: int
    excluded: int
    no_offer: int
    listed: int
    listed_first_loan: int
    total_value: float
    by_reason: dict[str, int]
    by_theme: dict[str, dict[str, Any]]
    by_product: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summarize(frame: pl.DataFrame, config: MarketingConfig) -> RunSummary:
    counts = dict(frame.group_by(STATUS_COLUMN).len().iter_rows())
    prospects = frame.filter(pl.col(PROSPECT_COLUMN))
    reasons = (
        prospects.select(pl.col(REASONS_COLUMN).explode(empty_as_null=True))
        .drop_nulls()
        .group_by(REASONS_COLUMN)
        .len()
        .sort("len", descending=True)
    )
    listed = frame.filter(pl.col(STATUS_COLUMN) == "listed")
    by_theme: dict[str, dict[str, Any]] = {}
    exploded = (
        prospects.select(THEMES_COLUMN, STATUS_COLUMN, EV_COLUMN)
        .explode(THEMES_COLUMN, empty_as_null=True)
        .rename({THEMES_COLUMN: "theme"})
        .drop_nulls("theme")
    )
    for theme in config.themes:
        members = exploded.filter(pl.col("theme") == theme.code)
        on_list = members.filter(pl.col(STATUS_COLUMN) == "listed")
        by_theme[theme.code] = {
            "zh": theme.zh,
            "prospects": members.height,
            "listed": on_list.height,
            "expected_value": round(float(on_list[EV_COLUMN].sum()), 2),
        }
    products = dict(listed.group_by("offer_product").len().sort("offer_product").iter_rows())
    return RunSummary(
        universe=frame.height,
        prospects=prospects.height,
        first_loan=int(prospects[FIRST_LOAN_COLUMN].sum()),
        excluded=int(counts.get("excluded", 0)),
        no_offer=int(counts.get("no_offer", 0)),
        listed=listed.height,
        listed_first_loan=int(listed[FIRST_LOAN_COLUMN].sum()),
        total_value=round(float(listed[EV_COLUMN].sum()), 2),
        by_reason={str(k): int(v) for k, v in reasons.iter_rows()},
        by_theme=by_theme,
        by_product={str(k): int(v) for k, v in products.items()},
    )


def listed_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """The listed prospects, best first, with the columns the store keeps."""
    return (
        frame.filter(pl.col(STATUS_COLUMN) == "listed")
        .sort("rank")
        .select(
            "uscc",
            "name",
            "division_code",
            "outlet_id",
            "city_branch_id",
            pl.col(THEMES_COLUMN).list.join(",").alias(THEMES_COLUMN),
            FIRST_LOAN_COLUMN,
            PD_COLUMN,
            TAKEUP_COLUMN,
            "offer_product",
            LIMIT_COLUMN,
            "offer_rate_bp",
            "expected_balance",
            "margin_bp",
            EV_COLUMN,
            "rank",
            "decile",
        )
    )
