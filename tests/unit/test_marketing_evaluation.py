"""The evaluation on the synthetic province: each prospect's true chance of converting, the
expected lift of a ranking, the ceiling of ranking by the true chance, and the seeded
simulation around them."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from puhui.actions.marketing.evaluation import (
    CHANCE,
    ceilings,
    conversion_chances,
    expected_and_ceiling,
    lift_study,
)


def _universe(n: int = 2000, seed: int = 20261129) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Prospects with a true demand; half have an offer (listed); the response deciles come
    from a noisy reading of demand, so the ranking is good but not perfect. (The seed differs
    from the simulation's 0 … 7, whose uniform draws would otherwise be the very same.)"""
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0.05, 0.9, n)
    listed = np.arange(n) % 2 == 0
    noisy = demand + rng.normal(0, 0.25, n)
    response = np.where(listed, noisy, -10.0)
    order = np.argsort(-response, kind="stable")
    decile = np.empty(n, dtype=np.int32)
    decile[order] = np.arange(n) * 10 // n + 1
    ids = [f"F{i:05d}" for i in range(n)]
    universe = pl.DataFrame(
        {
            "uscc": ids,
            "is_prospect": [True] * n,
            "status": np.where(listed, "listed", "no_offer"),
            "listed": listed,
            "offer_product": [("xiaowei_edai" if x else None) for x in listed],
            "themes": [["park"] if i % 3 == 0 else [] for i in range(n)],
            "pd": [0.02] * n,
            "decile": decile,
            "response_decile": decile,
            "expected_value": np.where(listed, demand * 1000, 0.0),
        }
    )
    truth = pl.DataFrame(
        {"uscc": ids, "credit_demand": demand, "default_month": [None] * n},
        schema_overrides={"default_month": pl.Date},
    )
    return universe, truth


def test_a_prospect_converts_with_its_demand_only_when_it_has_an_offer() -> None:
    universe, truth = _universe(10)
    chances = conversion_chances(universe, truth)
    rows = {r["uscc"]: r for r in chances.iter_rows(named=True)}
    assert rows["F00000"][CHANCE] == pytest.approx(rows["F00000"]["credit_demand"] * 0.9)
    assert rows["F00001"][CHANCE] == 0.0  # no offer: the bank would not lend


def test_the_ceiling_beats_a_noisy_ranking_and_the_oracle_matches_it_here() -> None:
    universe, truth = _universe()
    bounds = ceilings(conversion_chances(universe, truth))
    measured = expected_and_ceiling(universe, truth)
    assert measured["ceiling_lift"] == bounds["ceiling"]["lift"]
    assert 1.0 < measured["expected_lift"] < measured["ceiling_lift"]
    # with one PD for every firm, P(good) × true demand orders exactly like the true chance
    assert bounds["oracle_response"]["lift"] == pytest.approx(bounds["ceiling"]["lift"])
    gains = bounds["ceiling"]["gains"]
    assert gains[-1]["share_of_conversions"] == pytest.approx(1.0)
    assert [g["share_of_conversions"] for g in gains] == sorted(
        g["share_of_conversions"] for g in gains
    )


def test_the_simulated_lift_scatters_around_the_expected_one() -> None:
    universe, truth = _universe()
    study = lift_study(universe, truth, date(2026, 7, 1), seeds=8)
    assert study["prospects"] == 2000 and study["listed"] == 1000
    assert study["simulated_mean_lift"] == pytest.approx(study["expected"]["lift"], abs=0.15)
    assert study["simulated_sd_lift"] > 0
    assert study["expected"]["lift"] < study["ceiling"]["lift"]
