"""The joint model's PD in decisions and marketing lists: blended in log-odds, or only reported."""

from __future__ import annotations

import math

import polars as pl
import pytest

from puhui.decisions.joint_model import (
    JOINT_VERSION_KEY,
    JointModelError,
    JointModelScorer,
    blend_pd,
    blend_pd_expression,
)
from puhui.decisions.products.spec import ScoreScale
from puhui.decisions.scoring import ScoreResult, pd_to_score

SCALE = ScoreScale(anchor_pd=0.02, anchor_score=60, points_per_doubling=8)


class FixedScorer:
    feature_names = ("x",)

    def __init__(self, pd: float | None) -> None:
        self.pd = pd

    def score(self, uscc, features):
        return ScoreResult(
            score=50.0 if self.pd is None else pd_to_score(self.pd, SCALE),
            pd=self.pd,
            source="champion:test",
            model_versions={"test": "1"},
            reasons=("营业收入下降",),
        )


def test_blend_is_the_weighted_mean_of_log_odds():
    blended = blend_pd(0.02, 0.08, 0.5)
    expected_logit = 0.5 * math.log(0.02 / 0.98) + 0.5 * math.log(0.08 / 0.92)
    assert blended == pytest.approx(1 / (1 + math.exp(-expected_logit)))
    assert blend_pd(0.02, 0.08, 0.0) == pytest.approx(0.02)
    assert blend_pd(0.02, 0.08, 1.0) == pytest.approx(0.08)


def test_missing_joint_pd_keeps_the_champion_and_missing_champion_takes_the_joint():
    assert blend_pd(0.03, None, 0.5) == 0.03
    assert blend_pd(None, 0.07, 0.5) == 0.07


def test_weight_outside_zero_to_one_is_refused():
    with pytest.raises(JointModelError, match=r"1\.5"):
        JointModelScorer(FixedScorer(0.1), {}, weight=1.5, model_job="lr-1", scale=SCALE)


def test_scorer_blends_for_firms_the_joint_model_scored_and_names_the_joint_model():
    scorer = JointModelScorer(
        FixedScorer(0.02), {"A": 0.10}, weight=0.5, model_job="lr-7", scale=SCALE
    )
    result = scorer.score("A", {})
    assert result.pd == pytest.approx(blend_pd(0.02, 0.10, 0.5))
    assert result.score < pd_to_score(0.02, SCALE)  # a riskier joint view lowers the score
    assert result.model_versions == {"test": "1", JOINT_VERSION_KEY: "lr-7"}
    assert any("联合建模" in reason for reason in result.reasons)
    untouched = scorer.score("B", {})
    assert untouched.pd == 0.02 and JOINT_VERSION_KEY not in untouched.model_versions


def test_weight_zero_reports_the_joint_pd_without_changing_the_decision():
    scorer = JointModelScorer(
        FixedScorer(0.02), {"A": 0.30}, weight=0.0, model_job="lr-7", scale=SCALE
    )
    result = scorer.score("A", {})
    assert result.pd == 0.02 and result.score == pytest.approx(pd_to_score(0.02, SCALE))
    assert result.model_versions[JOINT_VERSION_KEY] == "lr-7"


def test_polars_blend_matches_the_scalar_blend_and_keeps_rows_without_a_joint_pd():
    frame = pl.DataFrame({"pd": [0.02, 0.05, None], "joint_pd": [0.08, None, 0.04]})
    out = frame.select(blend_pd_expression("pd", "joint_pd", 0.3).alias("b"))["b"].to_list()
    assert out[0] == pytest.approx(blend_pd(0.02, 0.08, 0.3))
    assert out[1] == pytest.approx(0.05)
    assert out[2] == pytest.approx(0.04)


def test_origination_uses_the_joint_pds_scored_for_its_own_snapshot_date_only(tmp_path):
    from datetime import date

    from puhui.actions.origination.decisioning import _with_joint_model
    from puhui.decisions.products.spec import load_product_catalog

    scores = tmp_path / "federated" / "bank" / "scores"
    scores.mkdir(parents=True)
    pl.DataFrame(
        {
            "id": ["A@2026-07-01", "A@2025-01-01"],
            "pd": [0.2, 0.9],
            "holdout": [True, True],
            "role": ["score", "holdout"],
        }
    ).write_parquet(scores / "joint-lr-9.parquet")
    catalog = load_product_catalog()
    inner = FixedScorer(0.02)
    wrapped = _with_joint_model(inner, tmp_path, date(2026, 7, 1), catalog, 0.5)
    result = wrapped.score("A", {})
    assert result.model_versions[JOINT_VERSION_KEY] == "lr-9"
    assert result.pd == pytest.approx(blend_pd(0.02, 0.2, 0.5))
    assert _with_joint_model(inner, tmp_path, date(2026, 8, 1), catalog, 0.5) is inner
    assert _with_joint_model(inner, tmp_path / "nowhere", date(2026, 7, 1), catalog, 0.5) is inner
