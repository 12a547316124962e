"""The validation metrics agree with hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from puhui.models import metrics
from puhui.models.scaling import PointsScaling


def test_perfect_ranking_has_auc_one_ks_one_and_gini_one() -> None:
    y = [0, 0, 0, 1, 1]
    score = [0.1, 0.2, 0.3, 0.8, 0.9]

    assert metrics.auc(y, score) == 1.0
    assert metrics.ks(y, score) == 1.0
    assert metrics.gini(y, score) == 1.0


def test_ks_is_the_largest_gap_between_cumulative_bad_and_good_shares() -> None:
    y = [1, 0, 1, 0, 0, 0]
    score = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1]
    # After the 3rd row: bads 2/2, goods 1/4 → gap 0.75.
    assert metrics.ks(y, score) == pytest.approx(0.75)


def test_auc_of_a_single_class_is_nan_not_an_error() -> None:
    assert np.isnan(metrics.auc([0, 0, 0], [0.1, 0.2, 0.3]))


def test_gains_table_puts_the_riskiest_decile_first_and_sums_to_everything() -> None:
    rng = np.random.default_rng(0)
    score = rng.random(1000)
    y = (rng.random(1000) < score).astype(int)
    table = metrics.gains_table(y, score)

    assert len(table) == 10
    assert table[0].bad_rate > table[-1].bad_rate
    assert table[-1].cumulative_bad_share == pytest.approx(1.0)
    assert sum(row.count for row in table) == 1000
    assert table[0].lift > 1.0


def test_calibration_table_compares_predicted_and_observed_rates() -> None:
    rng = np.random.default_rng(1)
    probability = rng.random(5000)
    y = (rng.random(5000) < probability).astype(int)
    for row in metrics.calibration_table(y, probability):
        assert row.observed_rate == pytest.approx(row.mean_predicted, abs=0.05)


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shifted_one() -> None:
    rng = np.random.default_rng(2)
    expected = rng.normal(size=5000)

    assert metrics.psi(expected, expected) == pytest.approx(0.0, abs=1e-9)
    assert metrics.psi(expected, rng.normal(size=5000)) < 0.02
    assert metrics.psi(expected, rng.normal(loc=1.0, size=5000)) > 0.25


def test_psi_counts_a_rise_in_missing_values_as_a_shift() -> None:
    expected = np.arange(1000, dtype=float)
    actual = expected.copy()
    actual[:300] = np.nan

    assert metrics.psi(expected, actual) > 0.25


def test_points_scaling_gives_the_base_score_at_base_odds_and_doubles_odds_every_pdo() -> None:
    scaling = PointsScaling(base_score=600, base_odds=50, pdo=20)
    at_base = scaling.score_from_bad_log_odds(np.log(1 / 50))

    assert at_base == pytest.approx(600)
    assert scaling.score_from_bad_log_odds(np.log(1 / 100)) == pytest.approx(620)
    assert scaling.probability_from_score(600) == pytest.approx(1 / 51)


def test_points_scaling_refuses_a_non_positive_pdo() -> None:
    with pytest.raises(ValueError, match="pdo"):
        PointsScaling(pdo=0)
