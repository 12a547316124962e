"""The take-up model's data: the ``applied`` event from the application log, recorded outcomes
folded into the training rows (replacing the lake's label for the same firm and date), and the
simulated contact used for evaluation."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from puhui.actions.marketing.propensity import relabel_applied, with_outcomes
from puhui.actions.marketing.report import simulate_contacts
from puhui.features.store import FEATURES_FILE, snapshot_dir
from puhui.models.datasets import TrainingDataset, target

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
