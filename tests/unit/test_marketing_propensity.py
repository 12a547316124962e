"""The take-up model's data: the ``applied`` event from the application log, recorded outcomes
folded into the training rows (replacing the lake's label for the same firm and date), and the
simulated contact used for evaluation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from puhui.actions.marketing.propensity import relabel, relabel_applied, with_outcomes
from puhui.actions.marketing.report import simulate_contacts
from puhui.actions.marketing.takeup_model import (
    DEMAND_FEATURE_SET,
    DEMAND_FEATURES,
    fit_propensity,
    restrict_features,
    screened_rows,
)
from puhui.features.catalog import load_feature_catalog
from puhui.features.store import FEATURES_FILE, snapshot_dir
from puhui.models.datasets import TrainingDataset, target
from puhui.models.errors import TrainingDataError
from puhui.models.training import PD_COLUMN

JAN, FEB = date(2025, 1, 1), date(2025, 2, 1)


@pytest.fixture
def features_root(tmp_path: Path) -> Path:
    root = tmp_path / "features"
    for day, offset in ((JAN, 0.0), (FEB, 100.0)):
        folder = snapshot_dir(root, day)
        folder.mkdir(parents=True)
        pl.DataFrame(
            {
                "uscc": ["A", "B", "C"],
                "as_of": [day] * 3,
                "x": [1.0 + offset, 2.0 + offset, 3.0 + offset],
            }
        ).write_parquet(folder / FEATURES_FILE)
    return root


@pytest.fixture
def dataset() -> TrainingDataset:
    frame = pl.DataFrame(
        {
            "uscc": ["A", "B", "A"],
            "as_of": [JAN, JAN, FEB],
            "outcome_from": [JAN, JAN, FEB],
            "outcome_to": [date(2025, 7, 1), date(2025, 7, 1), date(2025, 8, 1)],
            "target": pl.Series([0, 1, 0], dtype=pl.Int8),
            "x": [1.0, 2.0, 101.0],
        }
    )
    return TrainingDataset(target("propensity"), frame, ["x"], [JAN, FEB], date(2025, 12, 1))


def test_recorded_outcomes_add_rows_and_replace_the_lakes_label(dataset, features_root) -> None:
    outcomes = pl.DataFrame(
        {"uscc": ["A", "C"], "as_of": [FEB, FEB], "target": [1, 0]},
        schema={"uscc": pl.String, "as_of": pl.Date, "target": pl.Int8},
    )
    merged, added = with_outcomes(dataset, outcomes, features_root)
    assert added == 2
    rows = {(r["uscc"], r["as_of"]): r for r in merged.frame.iter_rows(named=True)}
    assert len(rows) == 4
    assert rows[("A", FEB)]["target"] == 1  # the recorded outcome wins
    assert rows[("C", FEB)]["x"] == 103.0  # features as of the list's date
    assert rows[("C", FEB)]["outcome_to"] == date(2025, 8, 1)
    assert rows[("B", JAN)]["target"] == 1  # untouched lake rows stay
    assert "recorded marketing outcomes" in merged.notes[-1]


def test_no_outcomes_leave_the_dataset_as_it_was(dataset, features_root) -> None:
    empty = pl.DataFrame(schema={"uscc": pl.String, "as_of": pl.Date, "target": pl.Int8})
    merged, added = with_outcomes(dataset, empty, features_root)
    assert added == 0 and merged.frame.equals(dataset.frame)


def test_the_applied_event_comes_from_applications_within_the_window(dataset) -> None:
    connection = duckdb.connect()
    applications = pl.DataFrame(
        {
            "uscc": ["A", "A", "B"],
            "applied_at": [
                datetime(2025, 3, 5, 10),  # A: inside January's and February's windows
                datetime(2024, 12, 31, 9),  # before any window
                datetime(2025, 7, 2, 9),  # B: after January's 6-month window
            ],
        }
    )
    connection.register("app_application", applications.to_arrow())
    relabelled = relabel_applied(connection, dataset)
    labels = {(r["uscc"], r["as_of"]): r["target"] for r in relabelled.frame.iter_rows(named=True)}
    assert labels == {("A", JAN): 1, ("B", JAN): 0, ("A", FEB): 1}
    assert "applies" in relabelled.target.event
    assert relabelled.frame.columns == dataset.frame.columns


def test_the_sought_event_adds_lenders_loan_queries_of_the_credit_report(dataset) -> None:
    connection = duckdb.connect()
    applications = pl.DataFrame(
        {"uscc": ["A"], "applied_at": [datetime(2024, 12, 31, 9)]},  # before every window
    )
    queries = pl.DataFrame(
        {
            "uscc": ["B", "A", "A"],
            "queried_at": [
                datetime(2025, 6, 30, 15),  # B: inside January's window
                datetime(2025, 7, 15, 9),  # A: inside February's window only
                datetime(2025, 2, 10, 9),  # A: a post-loan check is not seeking credit
            ],
            "reason": ["loan_approval", "loan_approval", "post_loan"],
        }
    )
    connection.register("app_application", applications.to_arrow())
    connection.register("bureau_enterprise_query", queries.to_arrow())
    relabelled = relabel(connection, dataset, "sought")
    labels = {(r["uscc"], r["as_of"]): r["target"] for r in relabelled.frame.iter_rows(named=True)}
    assert labels == {("A", JAN): 0, ("B", JAN): 1, ("A", FEB): 1}
    assert "seeks credit" in relabelled.target.event
    with pytest.raises(TrainingDataError, match="take-up event"):
        relabel(connection, dataset, "visited")


def test_the_simulated_contact_follows_demand_and_needs_an_offer() -> None:
    n = 4000
    universe = pl.DataFrame(
        {
            "uscc": [f"F{i:05d}" for i in range(n)],
            "is_prospect": [True] * n,
            "status": ["listed"] * n,
            "offer_product": ["xiaowei_edai" if i % 2 else None for i in range(n)],
            "themes": [["park"]] * n,
            "decile": [1] * n,
            "response_decile": [1] * n,
            "expected_value": [1.0] * n,
        }
    )
    truth = pl.DataFrame(
        {
            "uscc": universe["uscc"],
            "credit_demand": [0.8 if i < n // 2 else 0.2 for i in range(n)],
            "default_month": [None] * n,
        },
        schema_overrides={"default_month": pl.Date},
    )
    first = simulate_contacts(universe, truth, date(2026, 7, 1), seed=3)
    again = simulate_contacts(universe, truth, date(2026, 7, 1), seed=3)
    assert first.equals(again)
    assert first.filter(pl.col("offer_product").is_null())["converted"].sum() == 0
    high = first.filter(pl.col("offer_product").is_not_null() & (pl.col("credit_demand") > 0.5))
    low = first.filter(pl.col("offer_product").is_not_null() & (pl.col("credit_demand") < 0.5))
    assert high["applied"].mean() == pytest.approx(0.8, abs=0.04)
    assert low["applied"].mean() == pytest.approx(0.2, abs=0.04)
    assert high["converted"].mean() == pytest.approx(0.72, abs=0.05)  # 0.8 × 90 % accept


def _demand_dataset(rows_per_date: int = 400, dates: int = 8) -> TrainingDataset:
    """Take-up rows whose event rate rises with underlying growth and manufacturing; every
    curated feature present (the others are noise)."""
    rng = np.random.default_rng(11)
    days = [date(2024, 7 + k, 1) if k < 6 else date(2025, k - 5, 1) for k in range(dates)]
    n = rows_per_date * dates
    growth = rng.normal(0, 1, n)
    manufacturing = (rng.random(n) < 0.4).astype(float)
    chance = 1 / (1 + np.exp(-(-2.5 + 1.2 * growth + 0.6 * manufacturing)))
    columns = {name: rng.normal(0, 1, n) for name in DEMAND_FEATURES}
    columns["demand_underlying_growth_36m"] = growth
    columns["demand_manufacturing"] = manufacturing
    as_of = np.repeat(days, rows_per_date)
    frame = pl.DataFrame(
        {
            "uscc": [f"F{i % rows_per_date:04d}" for i in range(n)],
            "as_of": as_of,
            "outcome_from": as_of,
            "outcome_to": as_of,
            "target": pl.Series((rng.random(n) < chance).astype(int), dtype=pl.Int8),
            **columns,
            "bank_inflow_amount_sum_12m": rng.normal(0, 1, n),
        }
    )
    names = [*DEMAND_FEATURES, "bank_inflow_amount_sum_12m"]
    return TrainingDataset(target("propensity"), frame, names, days, date(2025, 12, 1))


def test_feature_sets_choose_the_candidates() -> None:
    dataset = _demand_dataset(rows_per_date=10, dates=3)
    assert restrict_features(dataset, "catalog").features == dataset.features
    without = restrict_features(dataset, "catalog_without_demand").features
    assert without and not any(n.startswith("demand_") for n in without)
    assert restrict_features(dataset, DEMAND_FEATURE_SET).features == list(DEMAND_FEATURES)
    with pytest.raises(TrainingDataError, match="feature set"):
        restrict_features(dataset, "everything")


def test_the_demand_set_needs_snapshots_built_with_the_demand_family() -> None:
    dataset = _demand_dataset(rows_per_date=10, dates=3)
    old = replace(dataset, features=[n for n in dataset.features if not n.startswith("demand_")])
    with pytest.raises(TrainingDataError, match="features snapshots"):
        restrict_features(old, DEMAND_FEATURE_SET)


def test_lightgbm_on_the_demand_set_learns_growth_with_take_up_directions() -> None:
    fitted = fit_propensity(
        _demand_dataset(), load_feature_catalog(), algorithm="lightgbm", feature_set="demand"
    )
    assert "bank_inflow_amount_sum_12m" not in fitted.features
    assert fitted.model.monotone_["demand_underlying_growth_36m"] == 1
    assert fitted.model.monotone_.get("reg_age_months", 0) == 0  # no credit-risk direction
    assert fitted.metrics["out_of_time"]["auc"] > 0.7
    # measured on development months only; the out-of-time months come last
    assert fitted.prepared.split.validation_end < pd.Timestamp(2025, 2, 1)


def test_the_curated_model_is_additive_and_refit_on_every_month_once_measured() -> None:
    dataset = _demand_dataset()
    fitted = fit_propensity(dataset, load_feature_catalog(), feature_set="demand")
    model = fitted.model
    assert (model.num_leaves, model.n_estimators) == (2, 300)  # stumps: one feature per tree
    assert fitted.result.notes[-1].startswith("served model refit on all 3,200 rows")
    # the served model differs from the development-only fit the metrics describe
    evaluation = fitted.result.evaluation
    served = model.predict_proba(evaluation[fitted.features])[:, 1]
    assert np.abs(served - evaluation[PD_COLUMN].to_numpy()).max() > 1e-3


def test_screened_rows_keep_the_prospects_that_pass_the_pre_screen(dataset) -> None:
    from puhui.decisions.marketing.spec import load_marketing_config

    config = load_marketing_config()
    frame = dataset.frame.with_columns(
        pl.Series("reg_active", [1.0, 0.0, 1.0]),  # B's registration is not active
        pl.Series("loan_outstanding_principal_mean_1m", [0.0, 0.0, 5e5]),  # A in Feb: a borrower
    )
    screened = screened_rows(replace(dataset, frame=frame), config)
    assert screened.frame.select("uscc", "as_of").rows() == [("A", JAN)]
    assert screened.frame.columns == frame.columns
    assert "pre-screen" in screened.notes[-1]
