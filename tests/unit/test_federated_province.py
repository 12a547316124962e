"""Joint modelling on the province: the time split both nodes agree on, the columns each side
holds, and the joint scores the bank's decisions read."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from puhui.features.catalog import load_feature_catalog
from puhui.federated.data import load_party, write_party
from puhui.federated.errors import FederatedError
from puhui.federated.joint_scores import load_joint_scores
from puhui.federated.linear import (
    HOLDOUT,
    SCORE_ONLY,
    TRAIN,
    TrainingParameters,
    row_roles,
    training_rows,
)
from puhui.federated.province import BANK_SOURCES, PLATFORM_SOURCES, party_columns

IDS = [
    "91330000000000000A@2024-07-01",
    "91330000000000000B@2024-12-01",
    "91330000000000000A@2025-01-01",
    "91330000000000000C@2025-06-01",
    "91330000000000000A@2026-07-01",
]


def test_time_split_trains_on_earlier_months_tests_on_later_and_only_scores_today():
    parameters = TrainingParameters(train_before="2025-01-01", score_from="2026-07-01")
    assert row_roles(IDS, parameters).tolist() == [TRAIN, TRAIN, HOLDOUT, HOLDOUT, SCORE_ONLY]
    assert training_rows(IDS, parameters).tolist() == [0, 1]


def test_time_split_refuses_ids_without_a_date_rather_than_guess():
    with pytest.raises(FederatedError, match="carries no date"):
        row_roles(["91330000000000000A"], TrainingParameters(train_before="2025-01-01"))
    with pytest.raises(FederatedError, match="needs the ids"):
        row_roles(10, TrainingParameters(train_before="2025-01-01"))


def test_random_split_is_unchanged_when_no_date_is_given():
    roles = row_roles(1000, TrainingParameters(train_fraction=0.7, split_seed=9))
    assert (roles == TRAIN).sum() == 700 and (roles == HOLDOUT).sum() == 300


def test_each_side_gets_its_own_sources_columns_chosen_without_labels():
    catalog = load_feature_catalog()
    source_of = {feature.name: feature.source for feature in catalog.features}
    bank = party_columns(catalog, BANK_SOURCES, 20)
    platform = party_columns(catalog, PLATFORM_SOURCES, 20)
    assert len(set(bank)) == 20 and len(set(platform)) == 20
    assert {source_of[name] for name in bank} <= set(BANK_SOURCES)
    assert {source_of[name] for name in platform} <= set(PLATFORM_SOURCES)
    assert {source_of[name] for name in platform} == set(PLATFORM_SOURCES)  # all three sources
    assert party_columns(catalog, PLATFORM_SOURCES, 20) == platform  # deterministic
    with pytest.raises(FederatedError, match="offers"):
        party_columns(catalog, ("tax_rating",), 5)


def test_unlabelled_rows_round_trip_as_missing_labels(tmp_path):
    write_party(tmp_path, IDS[:2], {"x": np.zeros(2)}, [1.0, np.nan])
    labels = load_party(tmp_path, with_labels=True).labels
    assert labels[0] == 1.0 and np.isnan(labels[1])


def test_joint_scores_give_todays_firms_by_uscc_from_the_newest_file(tmp_path):
    scores = tmp_path / "scores"
    scores.mkdir()
    pl.DataFrame(
        {
            "id": IDS,
            "pd": [0.1, 0.2, 0.3, 0.4, 0.05],
            "holdout": [False, False, True, True, True],
            "role": ["train", "train", "holdout", "holdout", "score"],
        }
    ).write_parquet(scores / "joint-lr-1.parquet")
    frame = load_joint_scores(tmp_path)
    assert frame.to_dicts() == [
        {
            "uscc": "91330000000000000A",
            "as_of": date(2026, 7, 1),
            "joint_pd": 0.05,
            "model_job": "lr-1",
        }
    ]


def test_no_scoring_yet_means_no_joint_scores_not_an_error(tmp_path):
    assert load_joint_scores(tmp_path).is_empty()
