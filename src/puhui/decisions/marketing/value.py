"""期望价值 · expected value of marketing to a firm, and its rank and decile (pure).

EV = P(good credit) × P(takes a loan) × expected balance × margin, where the expected balance is
the indicative limit times the expected utilisation and the margin is the offered rate less the
funding cost (annual, so EV is yuan of net interest a year). A firm excluded by the pre-screen,
or without an offer, has EV 0: the bank would not lend to it.
"""

from __future__ import annotations

import polars as pl

from puhui.decisions.marketing.lists import PASSED_COLUMN, PROSPECT_COLUMN
from puhui.decisions.marketing.offers import LIMIT_COLUMN, RATE_COLUMN
from puhui.decisions.marketing.spec import ValueParameters

PD_COLUMN = "pd"
TAKEUP_COLUMN = "p_takeup"
BALANCE_COLUMN = "expected_balance"
MARGIN_COLUMN = "margin_bp"
EV_COLUMN = "expected_value"
RANK_COLUMN = "rank"
DECILE_COLUMN = "decile"
LISTED_COLUMN = "listed"


def expected_value(frame: pl.LazyFrame, parameters: ValueParameters) -> pl.LazyFrame:
    """Add ``expected_balance``, ``margin_bp``, ``expected_value`` and ``listed`` (a prospect
    that passed the pre-screen and has an offer with a positive margin)."""
    margin = (pl.col(RATE_COLUMN) - parameters.funding_cost_bp).clip(lower_bound=0)
    margin = pl.when(margin < parameters.min_margin_bp).then(0).otherwise(margin)
    balance = pl.col(LIMIT_COLUMN) * parameters.utilisation
    listed = (
        pl.col(PROSPECT_COLUMN)
        & pl.col(PASSED_COLUMN)
        & pl.col(LIMIT_COLUMN).is_not_null()
        & (margin > 0)
    ).fill_null(False)
    value = (1 - pl.col(PD_COLUMN)) * pl.col(TAKEUP_COLUMN) * balance * margin / 10_000
    return frame.with_columns(
        balance.fill_null(0.0).round(2).alias(BALANCE_COLUMN),
        margin.fill_null(0).cast(pl.Int64).alias(MARGIN_COLUMN),
        listed.alias(LISTED_COLUMN),
    ).with_columns(
        pl.when(pl.col(LISTED_COLUMN))
        .then(value.fill_null(0.0))
        .otherwise(0.0)
        .round(2)
        .alias(EV_COLUMN)
    )


def rank_and_decile(frame: pl.DataFrame, *, among: str = PROSPECT_COLUMN) -> pl.DataFrame:
    """Rank the ``among`` rows by expected value (1 = best; ties broken by USCC, so the order
    is reproducible) and cut them into deciles 1 (top) … 10; other rows get nulls."""
    pool = frame.filter(pl.col(among)).sort(
        [EV_COLUMN, "uscc"], descending=[True, False], maintain_order=True
    )
    n = pool.height
    pool = pool.with_columns(
        pl.int_range(1, n + 1, dtype=pl.Int64).alias(RANK_COLUMN),
    ).with_columns(
        ((pl.col(RANK_COLUMN) - 1) * 10 // max(n, 1) + 1).cast(pl.Int32).alias(DECILE_COLUMN)
    )
    rest = frame.filter(~pl.col(among)).with_columns(
        pl.lit(None, dtype=pl.Int64).alias(RANK_COLUMN),
        pl.lit(None, dtype=pl.Int32).alias(DECILE_COLUMN),
    )
    return pl.concat([pool, rest], how="vertical_relaxed")


RESPONSE_COLUMN = "response_score"
RESPONSE_DECILE_COLUMN = "response_decile"


def response_deciles(frame: pl.DataFrame, *, among: str = PROSPECT_COLUMN) -> pl.DataFrame:
    """The conversion view of the list: ``response_score`` = P(good) × P(take-up) for listed
    firms (0 otherwise) and its deciles among the ``among`` rows (1 = most likely to convert).

    Expected value orders the list by what a loan is worth; this orders it by how likely a
    contact ends in a loan, which is what conversion by decile measures."""
    score = pl.when(pl.col(LISTED_COLUMN)).then((1 - pl.col(PD_COLUMN)) * pl.col(TAKEUP_COLUMN))
    scored = frame.with_columns(score.otherwise(0.0).fill_null(0.0).alias(RESPONSE_COLUMN))
    pool = scored.filter(pl.col(among)).sort(
        [RESPONSE_COLUMN, "uscc"], descending=[True, False], maintain_order=True
    )
    n = pool.height
    pool = pool.with_columns(
        ((pl.int_range(0, n, dtype=pl.Int64) * 10) // max(n, 1) + 1)
        .cast(pl.Int32)
        .alias(RESPONSE_DECILE_COLUMN)
    )
    rest = scored.filter(~pl.col(among)).with_columns(
        pl.lit(None, dtype=pl.Int32).alias(RESPONSE_DECILE_COLUMN)
    )
    return pl.concat([pool, rest], how="vertical_relaxed")
