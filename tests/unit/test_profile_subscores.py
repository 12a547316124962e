"""Sub-score formulas of the 立体画像: percentiles, directions, missing values, definitions."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from puhui.features.catalog import FeatureCatalog, load_feature_catalog
from puhui.features.profile import (
    PEER_COLUMN,
    ProfileDefinition,
    SubscoreDefinitionError,
    explain,
    load_profile_definition,
    score_features,
    score_population,
)

GOOD = "tax_declared_revenue_sum_12m"  # direction +1
BAD = "court_defendant_count_24m"  # direction -1
UNDIRECTED = "radar_tax_vs_bank_inflow_12m"  # direction 0
COVERAGE = "tax_months_reported_12m"  # direction 0


@pytest.fixture(scope="module")
def catalog() -> FeatureCatalog:
    return load_feature_catalog()


def _definition(tmp_path: Path, catalog: FeatureCatalog, body: str) -> ProfileDefinition:
    path = tmp_path / "subscores.yaml"
    path.write_text(body, encoding="utf-8")
    return load_profile_definition(catalog, path)


SIMPLE = f"""
min_coverage: 0.3
min_peers: 3
subscores:
  mixed:
    zh: 混合
    en: mixed
    features:
      - {{feature: {GOOD}, weight: 2}}
      - {{feature: {BAD}, weight: 1}}
      - {{feature: {UNDIRECTED}, weight: 1, shape: typical}}
overall: {{zh: 综合, en: overall, weights: {{mixed: 1}}}}
"""


def _frame(**columns: list[float | None]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame({"uscc": [f"F{i:03d}" for i in range(n)], **columns}).with_columns(
        pl.exclude("uscc").cast(pl.Float64)
    )


def _scores(frame: pl.DataFrame, definition, catalog, **kwargs) -> pl.DataFrame:
    return score_population(
        score_features(frame, definition, catalog, **kwargs), definition, catalog
    )


def test_the_shipped_definitions_load_and_name_the_eight_subscores(catalog) -> None:
    definition = load_profile_definition(catalog)
    assert list(definition.subscores) == [
        "operations",
        "growth",
        "tax_compliance",
        "innovation",
        "supply_chain",
        "stability",
        "legal_risk",
        "data_consistency",
    ]
    radar = {e.feature for e in definition.subscores["data_consistency"].features}
    assert radar and all(catalog.feature(n).family == "radar" for n in radar)


def test_an_unknown_feature_fails_at_load_naming_the_subscore(tmp_path, catalog) -> None:
    body = SIMPLE.replace(BAD, "no_such_feature_24m")
    with pytest.raises(SubscoreDefinitionError, match=r"sub-score mixed: unknown feature 'no_such"):
        _definition(tmp_path, catalog, body)


def test_an_undirected_feature_needs_a_direction_or_the_typical_shape(tmp_path, catalog) -> None:
    body = SIMPLE.replace(", shape: typical", "")
    with pytest.raises(SubscoreDefinitionError, match=f"sub-score mixed: feature {UNDIRECTED}"):
        _definition(tmp_path, catalog, body)


def test_a_direction_contradicting_the_catalog_fails(tmp_path, catalog) -> None:
    body = SIMPLE.replace(f"{GOOD}, weight: 2", f"{GOOD}, weight: 2, direction: -1")
    with pytest.raises(SubscoreDefinitionError, match="contradicts the catalog"):
        _definition(tmp_path, catalog, body)


def test_overall_weights_must_name_subscores(tmp_path, catalog) -> None:
    body = SIMPLE.replace("weights: {mixed: 1}", "weights: {mystery: 1}")
    with pytest.raises(SubscoreDefinitionError, match="unknown sub-score 'mystery'"):
        _definition(tmp_path, catalog, body)


def test_the_subscore_is_monotone_in_a_good_feature(tmp_path, catalog) -> None:
    definition = _definition(tmp_path, catalog, SIMPLE)
    others = {BAD: [0, 1, 0, 2, 0, 0], UNDIRECTED: [1.0, 0.8, 1.2, 3.0, 0.9, 1.1]}
    previous = -1.0
    for revenue in (0.0, 5.0, 15.0, 25.0, 35.0, 100.0):
        frame = _frame(**{GOOD: [revenue, 10, 20, 30, 40, 50]}, **others)
        score = _scores(frame, definition, catalog)["mixed"][0]
        assert score >= previous
        previous = score
    assert previous > 50


def test_direction_is_respected_and_mid_ranks_are_symmetric(tmp_path, catalog) -> None:
    body = f"""
subscores:
  good: {{zh: 好, en: good, features: [{{feature: {GOOD}, weight: 1}}]}}
  bad: {{zh: 坏, en: bad, features: [{{feature: {BAD}, weight: 1}}]}}
overall: {{zh: 综合, en: overall, weights: {{good: 1, bad: 1}}}}
"""
    definition = _definition(tmp_path, catalog, body)
    values = [3.0, 1.0, 4.0, 1.0, 5.0]
    scores = _scores(_frame(**{GOOD: values, BAD: values}), definition, catalog)
    for good, bad in zip(scores["good"], scores["bad"], strict=True):
        assert good + bad == pytest.approx(100.0)
    # the highest court count is the worst legal record; the highest revenue the best
    assert scores["bad"].arg_min() == 4 and scores["good"].arg_max() == 4
    # mid-rank: the two tied firms share the percentile (1.5 − 0.5) / 5 = 20
    assert scores["good"][1] == pytest.approx(20.0) and scores["good"][3] == pytest.approx(20.0)


def test_a_missing_feature_is_excluded_with_its_weight(tmp_path, catalog) -> None:
    definition = _definition(tmp_path, catalog, SIMPLE)
    frame = _frame(
        **{GOOD: [None, 10, 20, 30], BAD: [0, 1, 2, 3], UNDIRECTED: [None, 1.0, 2.0, 3.0]}
    )
    scored = score_features(frame, definition, catalog)
    row = scored.row(0, named=True)
    result = explain(row, definition, catalog).subscores[0]
    # only BAD is present (weight 1 of 4 = 25% < 30% coverage): no score
    assert result.coverage == pytest.approx(0.25)
    assert result.score is None
    assert _scores(frame, definition, catalog)["mixed"][0] is None
    lenient = definition.model_copy(update={"min_coverage": 0.2})
    result = explain(row, lenient, catalog).subscores[0]
    assert result.score == pytest.approx(row[f"score|mixed|{BAD}"])  # the mean of what is there


def test_missing_neutral_scores_fifty(tmp_path, catalog) -> None:
    body = SIMPLE.replace(f"{GOOD}, weight: 2", f"{GOOD}, weight: 2, missing: neutral")
    definition = _definition(tmp_path, catalog, body)
    frame = _frame(**{GOOD: [None, 10, 20], BAD: [0, 0, 0], UNDIRECTED: [1.0, 1.0, 1.0]})
    scored = score_features(frame, definition, catalog)
    assert scored[f"score|mixed|{GOOD}"][0] == 50.0


def test_contributions_add_up_and_the_firm_view_matches_the_population(tmp_path, catalog) -> None:
    definition = _definition(tmp_path, catalog, SIMPLE)
    frame = _frame(
        **{
            GOOD: [5, 10, 20, 30, None, 50],
            BAD: [0, 1, 0, 2, 0, 0],
            UNDIRECTED: [1.0, 0.8, 1.2, None, 0.9, 9.0],
        }
    )
    scored = score_features(frame, definition, catalog)
    population = score_population(scored, definition, catalog)
    for i in range(frame.height):
        result = explain(scored.row(i, named=True), definition, catalog)
        subscore = result.subscores[0]
        assert subscore.score == pytest.approx(population["mixed"][i])
        assert result.overall == pytest.approx(population["overall"][i])
        assert sum(c.points for c in subscore.contributions) == pytest.approx(subscore.score - 50)
        points = [abs(c.points) for c in subscore.contributions]
        assert points == sorted(points, reverse=True)


def test_the_typical_shape_rewards_the_middle(tmp_path, catalog) -> None:
    body = f"""
subscores:
  consistency:
    zh: 一致
    en: consistency
    features: [{{feature: {UNDIRECTED}, weight: 1, shape: typical}}]
overall: {{zh: 综合, en: overall, weights: {{consistency: 1}}}}
"""
    definition = _definition(tmp_path, catalog, body)
    scores = _scores(_frame(**{UNDIRECTED: [0.1, 0.9, 1.0, 1.1, 8.0]}), definition, catalog)
    assert scores["consistency"].arg_max() == 2
    assert scores["consistency"][0] == scores["consistency"][4]


def test_favourable_ties_give_a_clean_record_full_marks(tmp_path, catalog) -> None:
    body = f"""
subscores:
  legal:
    zh: 司法
    en: legal
    ties: favourable
    features: [{{feature: {BAD}, weight: 1}}]
overall: {{zh: 综合, en: overall, weights: {{legal: 1}}}}
"""
    definition = _definition(tmp_path, catalog, body)
    scores = _scores(_frame(**{BAD: [0, 0, 0, 0, 0, 0, 0, 1, 3, 0]}), definition, catalog)
    assert scores["legal"][0] == pytest.approx(100.0)
    assert scores["legal"][7] == pytest.approx(20.0)  # two of ten firms have one case or more
    assert scores["legal"][8] == pytest.approx(10.0)


def test_industry_peers_are_used_when_the_industry_is_big_enough(tmp_path, catalog) -> None:
    body = f"""
min_peers: 3
subscores:
  size:
    zh: 规模
    en: size
    peer: industry
    features: [{{feature: {GOOD}, weight: 1}}]
overall: {{zh: 综合, en: overall, weights: {{size: 1}}}}
"""
    definition = _definition(tmp_path, catalog, body)
    frame = _frame(**{GOOD: [1, 2, 3, 100, 200, 300, 50]})
    groups = pl.DataFrame(
        {"uscc": frame["uscc"], PEER_COLUMN: ["F51", "F51", "F51", "C17", "C17", "C17", "A01"]}
    )
    scores = _scores(frame, definition, catalog, peer_groups=groups)["size"]
    # the largest retailer and the largest manufacturer both top their industry
    assert scores[2] == pytest.approx(scores[5]) == pytest.approx(100 * 2.5 / 3)
    # a lone farm has no peer group of 3: ranked among all 7 firms (4th of 7)
    assert scores[6] == pytest.approx(100 * 3.5 / 7)
