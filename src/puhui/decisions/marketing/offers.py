"""The best matching product for a whole population at once (向量化产品匹配).

The same catalog and the same meaning as ``products.matching.match_products`` (common rules,
eligibility, score band, limit formula with caps and rounding, LPR + premium + spread −
relationship discounts within floor and cap, ranking by highest limit then lowest rate), as
Polars expressions, so screening millions of prospects does not call Python per firm. Only new
products are marketed (a renewal needs a loan at the bank). A test checks it against
``match_products`` firm by firm.
"""

from __future__ import annotations

import math
from datetime import date

import polars as pl

from puhui.decisions.marketing.rules import all_pass, value_expr
from puhui.decisions.products.spec import ProductCatalog, ProductSpec, ScoreScale

SCORE_COLUMN = "score"
BAND_COLUMN = "band"
PRODUCT_COLUMN = "offer_product"
LIMIT_COLUMN = "offer_limit"
RATE_COLUMN = "offer_rate_bp"
OFFERS_COLUMN = "offer_count"
BAND_DECLINED_COLUMN = "band_declined"


def score_expr(pd_column: str, scale: ScoreScale) -> pl.Expr:
    """``pd_to_score`` vectorised: PD onto 0–100, higher is better."""
    pd = pl.col(pd_column).clip(1e-6, 1 - 1e-6)
    anchor = (1 - scale.anchor_pd) / scale.anchor_pd
    score = scale.anchor_score + scale.points_per_doubling * (
        ((1 - pd) / pd / anchor).log() / math.log(2)
    )
    return score.clip(0.0, 100.0)


def _limit_expr(product: ProductSpec, band_cap: pl.Expr) -> pl.Expr:
    formula = product.limit
    parts = []
    for term in formula.terms:
        value = value_expr(term.feature)
        parts.append(pl.when(value > 0).then(value.round(2) * float(term.multiple)).otherwise(None))
    if formula.combine == "sum":
        raw = pl.sum_horizontal(parts)
    elif formula.combine == "max":
        raw = pl.max_horizontal(parts)
    else:
        raw = pl.min_horizontal(parts)
    raw = raw.fill_null(0.0)
    capped = pl.min_horizontal(raw, pl.lit(float(formula.max_amount)), band_cap)
    step = float(formula.round_to)
    return ((capped / step + 1e-9).floor() * step).round(2)


def _discount_expr(catalog: ProductCatalog) -> pl.Expr:
    """Total relationship discount in bp: each discount's highest tier, within the total cap."""
    room: pl.Expr = pl.lit(catalog.discounts.max_total_bp)
    total: pl.Expr = pl.lit(0)
    for discount in catalog.discounts.items:
        value = value_expr(discount.feature)
        bp: pl.Expr = pl.lit(0)
        for tier in discount.tiers:
            bp = pl.when(value >= tier.at_least).then(pl.lit(tier.bp)).otherwise(bp)
        bp = pl.when(value.is_null()).then(0).otherwise(bp)
        taken = pl.min_horizontal(bp, room)
        total = total + taken
        room = room - taken
    return total


def match_best_offer(
    frame: pl.LazyFrame, catalog: ProductCatalog, as_of: date, *, score_column: str = SCORE_COLUMN
) -> pl.LazyFrame:
    """Add ``band``, ``band_declined``, ``offer_count`` and the best offer's product, limit
    (yuan) and rate (bp per year); no offer leaves them null."""
    score = pl.col(score_column)
    bands = catalog.score_bands
    band_name: pl.Expr = pl.lit(bands[-1].band)
    band_cap: pl.Expr = pl.lit(float(bands[-1].limit_cap))
    band_premium: pl.Expr = pl.lit(bands[-1].risk_premium_bp)
    declined: pl.Expr = pl.lit(bands[-1].action == "decline")
    for band in reversed(bands[:-1]):
        hit = score >= band.min_score
        band_name = pl.when(hit).then(pl.lit(band.band)).otherwise(band_name)
        band_cap = pl.when(hit).then(pl.lit(float(band.limit_cap))).otherwise(band_cap)
        band_premium = pl.when(hit).then(pl.lit(band.risk_premium_bp)).otherwise(band_premium)
        declined = pl.when(hit).then(pl.lit(band.action == "decline")).otherwise(declined)
    lazy = frame.with_columns(
        band_name.alias(BAND_COLUMN),
        band_cap.alias("_band_cap"),
        band_premium.alias("_band_premium"),
        declined.alias(BAND_DECLINED_COLUMN),
        all_pass(catalog.common_rules).alias("_common"),
        _discount_expr(catalog).alias("_discount"),
    )
    lpr = catalog.lpr_on(as_of).one_year_bp
    products = sorted((p for p in catalog.products if p.kind == "new"), key=lambda p: p.code)
    columns = []
    for i, product in enumerate(products):
        limit = _limit_expr(product, pl.col("_band_cap"))
        offered = (
            pl.col("_common")
            & all_pass(product.eligibility)
            & ~pl.col(BAND_DECLINED_COLUMN)
            & (limit >= float(product.limit.min_amount))
        )
        raw_rate = (
            lpr + pl.col("_band_premium") + product.pricing.product_spread_bp - pl.col("_discount")
        )
        rate = raw_rate.clip(product.pricing.floor_bp, product.pricing.cap_bp)
        columns += [
            offered.alias(f"_ok_{i}"),
            limit.alias(f"_limit_{i}"),
            rate.cast(pl.Int64).alias(f"_rate_{i}"),
        ]
    lazy = lazy.with_columns(columns)
    lazy = lazy.with_columns(
        pl.lit(None, dtype=pl.String).alias(PRODUCT_COLUMN),
        pl.lit(None, dtype=pl.Float64).alias(LIMIT_COLUMN),
        pl.lit(None, dtype=pl.Int64).alias(RATE_COLUMN),
    )
    best_code, best_limit, best_rate = (
        pl.col(PRODUCT_COLUMN),
        pl.col(LIMIT_COLUMN),
        pl.col(RATE_COLUMN),
    )
    # Products in code order: on equal limit and rate the earlier code stays best.
    for i, product in enumerate(products):
        ok, limit, rate = pl.col(f"_ok_{i}"), pl.col(f"_limit_{i}"), pl.col(f"_rate_{i}")
        better = ok & (
            best_limit.is_null()
            | (limit > best_limit)
            | ((limit == best_limit) & (rate < best_rate))
        )
        lazy = lazy.with_columns(better.alias("_better")).with_columns(
            pl.when(pl.col("_better"))
            .then(pl.lit(product.code))
            .otherwise(best_code)
            .alias(PRODUCT_COLUMN),
            pl.when(pl.col("_better")).then(limit).otherwise(best_limit).alias(LIMIT_COLUMN),
            pl.when(pl.col("_better")).then(rate).otherwise(best_rate).alias(RATE_COLUMN),
        )
    count = pl.sum_horizontal([pl.col(f"_ok_{i}").cast(pl.Int32) for i in range(len(products))])
    lazy = lazy.with_columns(count.alias(OFFERS_COLUMN))
    helpers = ["_band_cap", "_band_premium", "_common", "_discount", "_better"]
    for i in range(len(products)):
        helpers += [f"_ok_{i}", f"_limit_{i}", f"_rate_{i}"]
    return lazy.drop(helpers)
