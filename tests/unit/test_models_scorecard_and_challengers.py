"""Scorecard points, JSON round trips, monotone constraints, EBM export and reason codes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from puhui.models.artifacts import model_from_dict
from puhui.models.ebm import EbmChampion
from puhui.models.errors import TrainingDataError
from puhui.models.gbm import LightGBMChallenger
from puhui.models.scorecard import BASE_CHARACTERISTIC, Scorecard

DESCRIPTIONS = {"overdue_count": ("近12月逾期次数", "Overdue episodes in 12 months")}


@pytest.fixture(scope="module")
def credit() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(11)
    n = 2000
    overdue = rng.poisson(1.0, n).astype(float)
    tax_growth = rng.normal(size=n)
    sector = rng.choice(["manufacturing", "retail", "trade"], n)
    logit = -2.0 + 0.9 * overdue - 0.8 * tax_growth + (sector == "retail") * 0.7
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"overdue_count": overdue, "tax_growth": tax_growth, "sector": sector}), y


@pytest.fixture(scope="module")
def card(credit) -> Scorecard:
    X, y = credit
    return Scorecard(base_score=600, base_odds=50, pdo=20).fit(X, y)


def test_scorecard_score_is_base_points_plus_each_characteristics_points(card, credit) -> None:
    X, _ = credit
    table = card.table()
    base = table.loc[table.characteristic == BASE_CHARACTERISTIC, "points"].item()

    assert card.score(X.iloc[:5]) == pytest.approx(
        base + card.points_matrix(X.iloc[:5]).sum(axis=1)
    )
    assert {"characteristic", "bin", "points"} <= set(table.columns)


def test_scorecard_ranks_riskier_applicants_lower(card) -> None:
    safe = pd.DataFrame({"overdue_count": [0.0], "tax_growth": [2.0], "sector": ["trade"]})
    risky = pd.DataFrame({"overdue_count": [5.0], "tax_growth": [-2.0], "sector": ["retail"]})

    assert card.score(safe)[0] > card.score(risky)[0]
    assert card.predict_proba(risky)[0, 1] > card.predict_proba(safe)[0, 1]


def test_a_larger_pdo_spreads_the_same_scorecard_wider(credit) -> None:
    X, y = credit
    narrow = Scorecard(pdo=20).fit(X, y).score(X)
    wide = Scorecard(pdo=40).fit(X, y).score(X)

    assert np.std(wide) == pytest.approx(2 * np.std(narrow), rel=0.05)


def test_scorecard_survives_json_and_scores_identically(card, credit) -> None:
    X, _ = credit
    restored = model_from_dict(json.loads(json.dumps(card.to_dict())))

    assert np.array_equal(restored.score(X), card.score(X))


def test_scorecard_reasons_are_points_lost_against_the_best_bin_in_both_languages(card) -> None:
    risky = pd.DataFrame({"overdue_count": [5.0], "tax_growth": [0.0], "sector": ["trade"]})
    reasons = card.reasons(risky, DESCRIPTIONS, top=2)[0]
    best = max(card.points_["overdue_count"])
    earned = card.points_matrix(risky)["overdue_count"].item()

    assert reasons[0].feature == "overdue_count"
    assert reasons[0].impact == pytest.approx(best - earned)
    assert (reasons[0].zh, reasons[0].en) == DESCRIPTIONS["overdue_count"]


def test_reasons_fall_back_to_the_feature_name_without_a_description(card) -> None:
    risky = pd.DataFrame({"overdue_count": [0.0], "tax_growth": [-3.0], "sector": ["trade"]})
    reasons = card.reasons(risky, DESCRIPTIONS)[0]

    assert reasons[0].feature == "tax_growth"
    assert reasons[0].zh == reasons[0].en == "tax_growth"


def test_a_model_applicant_has_no_adverse_reasons(card) -> None:
    best_case = pd.DataFrame({"overdue_count": [0.0], "tax_growth": [3.0], "sector": ["trade"]})
    lost = card.adverse_contributions(best_case)

    assert (lost.to_numpy() >= 0).all()
    assert len(card.reasons(best_case)[0]) <= (lost.to_numpy() > 0).sum()


def test_lightgbm_respects_its_monotone_constraint(credit) -> None:
    X, y = credit
    model = LightGBMChallenger(
        monotone={"overdue_count": 1, "tax_growth": -1}, n_estimators=80
    ).fit(X, y)
    grid = pd.DataFrame(
        {"overdue_count": np.arange(0, 8, dtype=float), "tax_growth": 0.0, "sector": "trade"}
    )
    pd_along = model.predict_proba(grid)[:, 1]

    assert np.all(np.diff(pd_along) >= -1e-12)


def test_lightgbm_reasons_come_from_its_own_contributions_and_it_round_trips(credit) -> None:
    X, y = credit
    model = LightGBMChallenger(n_estimators=60).fit(X, y)
    contributions = model.contributions(X.iloc[:3])
    restored = model_from_dict(json.loads(json.dumps(model.to_dict())))

    assert contributions.sum(axis=1).to_numpy() == pytest.approx(
        model.decision_function(X.iloc[:3])
    )
    assert restored.predict_proba(X) == pytest.approx(model.predict_proba(X))
    reason = model.reasons(X.iloc[:1], DESCRIPTIONS, top=1)[0]
    if reason:
        assert reason[0].impact == pytest.approx(contributions.iloc[0][reason[0].feature])


def test_lightgbm_refuses_a_constraint_on_an_unknown_feature(credit) -> None:
    X, y = credit
    with pytest.raises(TrainingDataError, match="no_such_feature"):
        LightGBMChallenger(monotone={"no_such_feature": 1}).fit(X, y)


def test_ebm_scores_from_its_exported_tables_exactly_as_after_a_json_round_trip(credit) -> None:
    X, y = credit
    model = EbmChampion(interactions=2, outer_bags=2, max_bins=64).fit(X, y)
    restored = model_from_dict(json.loads(json.dumps(model.to_dict())))
    contributions = model.table_.term_contributions(X.iloc[:4])

    assert restored.decision_function(X) == pytest.approx(model.decision_function(X))
    assert model.decision_function(X.iloc[:4]) == pytest.approx(
        model.table_.intercept + contributions.sum(axis=1)
    )
    table = model.table_.points_table()
    assert {"term", "bin", "points"} <= set(table.columns) and "overdue_count" in set(table.term)
    reasons = model.reasons(X.iloc[:50], DESCRIPTIONS)
    assert all(r.impact > 0 for row in reasons for r in row)
