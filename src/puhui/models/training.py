"""Training entry points (训练): a frame, a target column and a time column in; a fitted model,
its metrics and an evaluation frame out.

Splits are by time, never at random: the earliest periods develop the model, the next ones
validate it, the latest are the out-of-time test. A period is never split across two sets, so
nothing from the future leaks into development. The frame is what the feature store writes
(``uscc``, ``as_of``, then features) joined to labels from ``puhui.models.labels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from puhui.models import metrics
from puhui.models.artifacts import CreditModel, make_model
from puhui.models.errors import TrainingDataError
from puhui.models.frames import as_pandas, binary_target
from puhui.models.selection import Selection, select_features

DEVELOPMENT = "development"
VALIDATION = "validation"
OUT_OF_TIME = "out_of_time"
SPLIT_COLUMN = "_split"
TARGET_COLUMN = "_target"
PD_COLUMN = "_pd"
TIME_COLUMN = "_time"
_KEY_COLUMNS = ("uscc",)


@dataclass(frozen=True)
class TimeSplit:
    """The last period of development and of validation; later periods are out of time."""

    development_end: Any
    validation_end: Any

    def assign(self, time: pd.Series) -> np.ndarray:
        """The split each row falls in."""
        return np.where(
            time <= self.development_end,
            DEVELOPMENT,
            np.where(time <= self.validation_end, VALIDATION, OUT_OF_TIME),
        )


def time_split(
    time: pd.Series, validation_periods: int = 1, out_of_time_periods: int = 1
) -> TimeSplit:
    """Split the distinct periods of ``time`` into development, validation and out-of-time.

    With ``as_of`` months: the last ``out_of_time_periods`` months are the out-of-time test,
    the ``validation_periods`` before them validation, the rest development.
    """
    periods = sorted(pd.Series(time).dropna().unique())
    needed = validation_periods + out_of_time_periods + 1
    if len(periods) < needed:
        raise TrainingDataError(
            f"the time column has {len(periods)} distinct periods; "
            f"a time split needs at least {needed}"
        )
    development_end = periods[len(periods) - needed]
    validation_end = periods[len(periods) - out_of_time_periods - 1]
    return TimeSplit(development_end=development_end, validation_end=validation_end)


@dataclass
class TrainingResult:
    """A fitted model with its measured performance and the rows it was judged on."""

    model: CreditModel
    features: list[str]
    split: TimeSplit | None
    metrics: dict[str, dict[str, float]]
    evaluation: pd.DataFrame
    selection: Selection | None = None
    data_window: tuple[date | None, date | None] = (None, None)
    notes: list[str] = field(default_factory=list)


def split_metrics(y: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """AUC, Gini, KS, bad rate and count of one split."""
    return {
        "count": float(len(y)),
        "bad_rate": float(np.mean(y)) if len(y) else float("nan"),
        "auc": metrics.auc(y, probability),
        "gini": metrics.gini(y, probability),
        "ks": metrics.ks(y, probability),
    }


def train_model(
    frame: Any,
    target: str,
    time_column: str | None,
    kind: str = "scorecard",
    params: dict[str, Any] | None = None,
    features: Sequence[str] | None = None,
    select: bool = False,
    split: TimeSplit | None = None,
    validation_periods: int = 1,
    out_of_time_periods: int = 1,
) -> TrainingResult:
    """Fit a model of ``kind`` on the development periods and measure it on every split.

    Without a ``time_column`` the whole frame is development (the public benchmarks do their
    own cross-validation). ``select`` runs IV / correlation / PSI selection on development rows.
    """
    data = as_pandas(frame).reset_index(drop=True)
    for column in [target, *([time_column] if time_column else [])]:
        if column not in data.columns:
            raise TrainingDataError(f"the training frame has no column {column!r}")
    y = binary_target(data[target], len(data))
    excluded = {target, *([time_column] if time_column else []), *_KEY_COLUMNS}
    names = (
        list(features)
        if features is not None
        else [str(c) for c in data.columns if c not in excluded]
    )
    absent = [n for n in names if n not in data.columns]
    if absent:
        raise TrainingDataError(f"the training frame lacks feature column(s) {', '.join(absent)}")
    if time_column:
        time = pd.Series(data[time_column])
        split = split or time_split(time, validation_periods, out_of_time_periods)
        assigned = split.assign(time)
    else:
        time = pd.Series([pd.NaT] * len(data))
        assigned = np.full(len(data), DEVELOPMENT)
    development = assigned == DEVELOPMENT
    if y[development].sum() == 0:
        raise TrainingDataError(
            f"the development periods have no bads in {target!r}; nothing to learn"
        )
    selection = None
    if select:
        selection = select_features(
            data.loc[development, names], y[development], time[development] if time_column else None
        )
        names = selection.kept or names
    model = make_model(kind, params)
    model.fit(data.loc[development, names], y[development])  # type: ignore[attr-defined]
    probability = model.predict_proba(data[names])[:, 1]
    measured = {
        name: split_metrics(y[assigned == name], probability[assigned == name])
        for name in (DEVELOPMENT, VALIDATION, OUT_OF_TIME)
        if (assigned == name).any()
    }
    evaluation = data[names].copy()
    evaluation[SPLIT_COLUMN] = assigned
    evaluation[TARGET_COLUMN] = y
    evaluation[PD_COLUMN] = probability
    evaluation[TIME_COLUMN] = time.to_numpy() if time_column else None
    window = (_as_date(time.min()), _as_date(time.max())) if time_column else (None, None)
    return TrainingResult(
        model=model,
        features=names,
        split=split,
        metrics=measured,
        evaluation=evaluation,
        selection=selection,
        data_window=window,
    )


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    try:
        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        return None
