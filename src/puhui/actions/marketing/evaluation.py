"""How good a list is on the synthetic province, and how good it could be (评估与上限).

Evaluation only: ``truth_enterprise``'s latent ``credit_demand`` gives every prospect's chance
of converting when contacted (it applies with probability ``credit_demand``, the bank approves
when the product catalog gives it an offer, and ``ACCEPT_RATE`` of approved firms take the
loan, as ``report.simulate_contacts`` draws it). From those chances:

- the **expected** lift of the list's response deciles, free of sampling noise;
- the **simulated** lift over many seeds (what one contact campaign would show, and its spread);
- the **ceiling**: the lift of ranking by the true chance itself, which no model can beat; and
  the earlier oracle, P(good) × true demand among listed firms, for comparison.
"""

from __future__ import annotations

from datetime import date
from statistics import mean, pstdev
from typing import Any

import polars as pl

from puhui.actions.marketing.report import ACCEPT_RATE, simulate_contacts
from puhui.decisions.marketing.feedback import (
    DECILE,
    ON_THEME,
    ExpectedLift,
    deciles_by,
    expected_lift,
    lift_summary,
)
from puhui.decisions.marketing.value import LISTED_COLUMN, PD_COLUMN, RESPONSE_DECILE_COLUMN

CHANCE = "conversion_chance"


def conversion_chances(universe: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Every prospect with its true chance of converting when contacted (``CHANCE``)."""
    prospects = universe.filter(pl.col("is_prospect"))
    return prospects.join(
        truth.select("uscc", "credit_demand"), on="uscc", how="left"
    ).with_columns(
        (
            pl.col("credit_demand").fill_null(0.0)
            * pl.col("offer_product").is_not_null().cast(pl.Float64)
            * ACCEPT_RATE
        ).alias(CHANCE),
        (pl.col("themes").list.len() > 0).alias(ON_THEME),
    )


def _summary(lift: ExpectedLift) -> dict[str, Any]:
    return {
        "lift": round(lift.lift, 4),
        "lift_over_themes": round(lift.lift_over_themes or 0.0, 4),
        "top_decile_conversion": round(lift.top_decile_conversion, 4),
        "random_conversion": round(lift.expected_conversion, 4),
        "themed_conversion": round(lift.themed_conversion or 0.0, 4),
        "gains": [
            {"share_of_list": s, "share_of_conversions": round(c, 4), "lift": round(x, 4)}
            for s, c, x in lift.gains
        ],
    }


def ceilings(chances: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """The lift of ranking by the true chance (the ceiling) and by P(good) × true demand among
    listed firms (the oracle the take-up model stands in for)."""
    best = deciles_by(chances, CHANCE)
    oracle = deciles_by(
        chances.with_columns(
            pl.when(pl.col(LISTED_COLUMN))
            .then((1 - pl.col(PD_COLUMN)) * pl.col("credit_demand"))
            .otherwise(0.0)
            .fill_null(0.0)
            .alias("_oracle")
        ),
        "_oracle",
    )
    return {
        "ceiling": _summary(expected_lift(best, CHANCE)),
        "oracle_response": _summary(expected_lift(oracle, CHANCE)),
    }


def expected_and_ceiling(
    universe: pl.DataFrame, truth: pl.DataFrame, *, by: str = "response"
) -> dict[str, Any]:
    """For a run's feedback: the expected (noise-free) top-decile lift of its deciles
    (``by`` response or value) and the ceiling of ranking by the true chance."""
    column = RESPONSE_DECILE_COLUMN if by == "response" else DECILE
    chances = conversion_chances(universe, truth)
    expected = expected_lift(chances.with_columns(pl.col(column).alias(DECILE)), CHANCE)
    bounds = ceilings(chances)
    return {
        "expected_lift": round(expected.lift, 4),
        "expected_lift_over_themes": round(expected.lift_over_themes or 0.0, 4),
        "ceiling_lift": bounds["ceiling"]["lift"],
        "oracle_response_lift": bounds["oracle_response"]["lift"],
    }


def lift_study(
    frame: pl.DataFrame, truth: pl.DataFrame, as_of: date, *, seeds: int = 20
) -> dict[str, Any]:
    """Expected, simulated (``seeds`` draws) and ceiling lifts of the scored universe's
    response deciles."""
    chances = conversion_chances(frame, truth)
    expected = expected_lift(
        chances.with_columns(pl.col(RESPONSE_DECILE_COLUMN).alias(DECILE)), CHANCE
    )
    simulated = []
    for seed in range(max(seeds, 1)):
        contacts = simulate_contacts(frame, truth, as_of, seed=seed).with_columns(
            pl.col(RESPONSE_DECILE_COLUMN).alias(DECILE)
        )
        simulated.append(lift_summary(contacts))
    lifts = [s.lift_over_random for s in simulated]
    first = simulated[0]
    return {
        "prospects": chances.height,
        "listed": int(chances[LISTED_COLUMN].sum()),
        "expected": _summary(expected),
        "simulated_mean_lift": round(mean(lifts), 4),
        "simulated_sd_lift": round(pstdev(lifts), 4),
        "simulated_mean_lift_over_themes": round(
            mean(s.lift_over_themes or 0.0 for s in simulated), 4
        ),
        "seed0": {
            "lift": round(first.lift_over_random, 4),
            "lift_over_themes": round(first.lift_over_themes or 0.0, 4),
            "top_decile_conversion": round(first.top_decile_conversion, 4),
            "random_conversion": round(first.random_conversion, 4),
        },
        **ceilings(chances),
    }
