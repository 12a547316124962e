"""The feedback metrics on small examples worked by hand: conversion by decile, lift over
random and over the themed lists, the gains curve; and the order outcomes may follow."""

from __future__ import annotations

import polars as pl
import pytest

from puhui.data.store.marketing_tables import MarketingOutcome
from puhui.decisions.marketing.feedback import (
    conversion_by_decile,
    deciles_by,
    expected_lift,
    gains_curve,
    lift_summary,
)
from puhui.decisions.marketing.outcomes import OutcomeOrderError, check_next, parse_outcome
from puhui.decisions.marketing.value import rank_and_decile


@pytest.fixture
def example() -> pl.DataFrame:
    """20 firms in 10 deciles of 2: decile 1 converts 2 of 2, decile 2 one of 2, the rest none
    except one in decile 10. 4 conversions of 20: 20 % overall."""
    converted = [True, True, True, False] + [False] * 14 + [True, False]
    return pl.DataFrame(
        {
            "uscc": [f"F{i:02d}" for i in range(20)],
            "decile": [i // 2 + 1 for i in range(20)],
            "converted": converted,
            "on_theme": [True] * 10 + [False] * 10,
        }
    )


def test_conversion_and_lift_by_decile(example) -> None:
    rows = conversion_by_decile(example)
    assert [r.decile for r in rows] == list(range(1, 11))
    assert rows[0].conversion == 1.0 and rows[0].lift == pytest.approx(5.0)
    assert rows[1].conversion == 0.5 and rows[1].lift == pytest.approx(2.5)
    assert rows[9].converted == 1 and rows[9].firms == 2
    assert sum(r.converted for r in rows) == 4


def test_lift_over_random_and_over_the_themed_lists(example) -> None:
    lift = lift_summary(example)
    assert lift.random_conversion == pytest.approx(0.2)
    assert lift.top_decile_conversion == 1.0
    assert lift.lift_over_random == pytest.approx(5.0)
    # Themed firms: the first ten, with three conversions.
    assert lift.themed_firms == 10 and lift.themed_conversion == pytest.approx(0.3)
    assert lift.lift_over_themes == pytest.approx(1 / 0.3)


def test_the_gains_curve_accumulates_conversions_down_the_list(example) -> None:
    gains = gains_curve(example)
    assert [g.firms for g in gains] == [2 * k for k in range(1, 11)]
    assert [g.converted for g in gains] == [2, 3, 3, 3, 3, 3, 3, 3, 3, 4]
    assert gains[0].share_of_conversions == 0.5
    assert gains[1].share_of_conversions == 0.75
    assert gains[-1].share_of_conversions == 1.0 and gains[-1].lift == pytest.approx(1.0)
    assert gains[1].lift == pytest.approx((3 / 4) / 0.2)


def test_deciles_rank_prospects_by_expected_value_with_ties_broken_by_uscc() -> None:
    frame = pl.DataFrame(
        {
            "uscc": [f"F{i:02d}" for i in range(21)],
            "expected_value": [float(i % 7) for i in range(21)],
            "is_prospect": [True] * 20 + [False],
        }
    )
    ranked = rank_and_decile(frame)
    prospects = ranked.filter(pl.col("is_prospect")).sort("rank")
    assert prospects["rank"].to_list() == list(range(1, 21))
    values = prospects["expected_value"].to_list()
    assert values == sorted(values, reverse=True)
    assert prospects["decile"].to_list() == [d for d in range(1, 11) for _ in range(2)]
    tied = prospects.filter(pl.col("expected_value") == 6.0)["uscc"].to_list()
    assert tied == sorted(tied)
    assert ranked.filter(~pl.col("is_prospect"))["decile"].to_list() == [None]


def test_outcomes_move_forward_only_and_nothing_follows_a_closing_one() -> None:
    check_next(None, MarketingOutcome.CONTACTED)
    check_next(MarketingOutcome.CONTACTED, MarketingOutcome.APPLIED)
    check_next(MarketingOutcome.CONTACTED, MarketingOutcome.NOT_INTERESTED)
    check_next(MarketingOutcome.APPLIED, MarketingOutcome.DISBURSED)
    with pytest.raises(OutcomeOrderError, match="cannot follow"):
        check_next(MarketingOutcome.APPROVED, MarketingOutcome.APPLIED)
    with pytest.raises(OutcomeOrderError, match="closed with disbursed"):
        check_next(MarketingOutcome.DISBURSED, MarketingOutcome.CONTACTED)
    with pytest.raises(OutcomeOrderError, match="not_interested cannot follow applied"):
        check_next(MarketingOutcome.APPLIED, MarketingOutcome.NOT_INTERESTED)
    with pytest.raises(OutcomeOrderError, match="unknown outcome 'won'"):
        parse_outcome("won")


def test_response_deciles_order_listed_firms_by_p_good_times_p_take_up() -> None:
    from puhui.decisions.marketing.value import response_deciles

    frame = pl.DataFrame(
        {
            "uscc": [f"F{i:02d}" for i in range(10)],
            "is_prospect": [True] * 10,
            "listed": [True] * 5 + [False] * 5,
            "pd": [0.1] * 10,
            "p_takeup": [0.9, 0.1, 0.5, 0.3, 0.7, 0.99, 0.98, 0.97, 0.96, 0.95],
        }
    )
    out = response_deciles(frame).sort("response_decile")
    assert out["uscc"].to_list()[:5] == ["F00", "F04", "F02", "F03", "F01"]
    assert out.filter(~pl.col("listed"))["response_score"].to_list() == [0.0] * 5
    assert out["response_score"][0] == pytest.approx(0.9 * 0.9)


def test_expected_lift_uses_each_firms_chance_without_sampling_noise() -> None:
    """10 firms, one per decile: chances 0.9, 0.5, then 0.1 each; on theme the first five."""
    chances = [0.9, 0.5] + [0.1] * 8
    frame = pl.DataFrame(
        {
            "uscc": [f"F{i}" for i in range(10)],
            "decile": list(range(1, 11)),
            "chance": chances,
            "on_theme": [True] * 5 + [False] * 5,
        }
    )
    lift = expected_lift(frame, "chance")
    overall = sum(chances) / 10  # 0.22
    assert lift.expected_conversion == pytest.approx(overall)
    assert lift.top_decile_conversion == pytest.approx(0.9)
    assert lift.lift == pytest.approx(0.9 / overall)
    assert lift.themed_conversion == pytest.approx((0.9 + 0.5 + 0.3) / 5)
    assert lift.lift_over_themes == pytest.approx(0.9 / 0.34)
    share, captured, at = lift.gains[1]
    assert share == pytest.approx(0.2)
    assert captured == pytest.approx(1.4 / 2.2)
    assert at == pytest.approx(0.7 / overall)
    assert lift.gains[-1][1] == pytest.approx(1.0) and lift.gains[-1][2] == pytest.approx(1.0)


def test_deciles_by_a_score_put_the_highest_first_and_break_ties_by_uscc() -> None:
    frame = pl.DataFrame({"uscc": [f"F{i:02d}" for i in range(20)], "s": [1.0] * 10 + [2.0] * 10})
    cut = deciles_by(frame, "s").sort("uscc")
    top = cut.filter(pl.col("decile") == 1)["uscc"].to_list()
    assert top == ["F10", "F11"]
    assert cut.group_by("decile").len()["len"].to_list() == [2] * 10
    assert cut.filter(pl.col("uscc") == "F09")["decile"].item() == 10
