"""The HTML validation report of a model whose evaluation has development rows only: it renders,
says that stability was not measured, and shows no PSI; with an out-of-time split it shows PSI."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from puhui.models.artifacts import ModelMetadata
from puhui.models.gbm import LightGBMChallenger
from puhui.models.report import validation_numbers
from puhui.models.report_html import render_report
from puhui.models.training import (
    DEVELOPMENT,
    OUT_OF_TIME,
    PD_COLUMN,
    SPLIT_COLUMN,
    TARGET_COLUMN,
)

FEATURES = ["leverage", "cash"]
NOTE = "No out-of-time rows: stability not measured"


def _evaluation(splits: np.ndarray, seed: int = 4) -> tuple[LightGBMChallenger, pd.DataFrame]:
    """A small GBM fitted on the development rows, scored on every row."""
    rng = np.random.default_rng(seed)
    n = len(splits)
    X = pd.DataFrame({"leverage": rng.normal(size=n), "cash": rng.normal(size=n)})
    X.loc[splits == OUT_OF_TIME, "leverage"] += 1.0  # the later rows have moved
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2 + X["leverage"] - X["cash"])))).astype(int)
    development = splits == DEVELOPMENT
    model = LightGBMChallenger(n_estimators=20, num_leaves=4, min_child_samples=5)
    model.fit(X[development], y[development])
    evaluation = X.assign(
        **{SPLIT_COLUMN: splits, TARGET_COLUMN: y, PD_COLUMN: model.predict_proba(X)[:, 1]}
    )
    return model, evaluation


def _metadata() -> ModelMetadata:
    return ModelMetadata(
        name="dev_only_pd",
        version="1",
        kind="lightgbm",
        features=FEATURES,
        target="pd",
        trained_by="S1",
        trained_at=datetime(2026, 1, 2, tzinfo=UTC),
    )


def test_a_development_only_report_renders_and_says_stability_was_not_measured() -> None:
    model, evaluation = _evaluation(np.array([DEVELOPMENT] * 600))
    numbers = validation_numbers(model, _metadata(), evaluation)
    assert numbers["stability"] == {"recent_split": None}  # what used to crash the template

    html = render_report(numbers)

    assert NOTE in html and "未测算稳定性" in html and "in-sample" in html
    assert "score PSI" not in html
    assert list(numbers["splits"]) == [DEVELOPMENT]
    assert f'<td class="l">{DEVELOPMENT}</td><td>600</td>' in html
    assert "Calibration (development)" in html  # the only split there is
    assert "data:image/png;base64," in html and "<script" not in html


@pytest.mark.parametrize("with_recent", [False, True])
def test_psi_is_shown_exactly_when_there_are_recent_rows(with_recent: bool) -> None:
    splits = np.array([DEVELOPMENT, DEVELOPMENT, DEVELOPMENT, OUT_OF_TIME] * 150)
    if not with_recent:
        splits = splits[splits == DEVELOPMENT]
    model, evaluation = _evaluation(splits)
    html = render_report(validation_numbers(model, _metadata(), evaluation))
    assert ("score PSI" in html) is with_recent
    assert (NOTE in html) is not with_recent
    if with_recent:
        assert f"Stability (PSI, {OUT_OF_TIME} vs development)" in html
        psi_table = html.split("Stability (PSI")[1].split("Information value")[0]
        assert psi_table.index("leverage") < psi_table.index("cash")  # the moved feature first
