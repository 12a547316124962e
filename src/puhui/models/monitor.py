"""Model monitoring (模型监控): monthly score and feature PSI, realised AUC, drift flags.

A pure function over frames: the development baseline (scores and features as trained) and the
scored recent population with a month column and, where matured, the observed outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from puhui.models import metrics
from puhui.models.selection import stability


@dataclass(frozen=True)
class DriftThresholds:
    """When a month is flagged; the defaults are the usual rules of thumb."""

    score_psi: float = 0.25
    feature_psi: float = 0.25
    min_auc: float = 0.65
    auc_drop: float = 0.05
    min_matured: int = 30


@dataclass(frozen=True)
class MonthReport:
    """One month's stability and, where outcomes matured, discrimination."""

    month: str
    count: int
    score_psi: float
    feature_psi: dict[str, float]
    matured: int
    realised_auc: float | None
    flags: list[str] = field(default_factory=list)


def monitor(
    baseline_scores: Sequence[float],
    baseline_features: pd.DataFrame,
    recent: pd.DataFrame,
    *,
    month_column: str,
    score_column: str,
    target_column: str | None = None,
    features: Sequence[str] = (),
    development_auc: float | None = None,
    thresholds: DriftThresholds | None = None,
) -> list[MonthReport]:
    """Monthly PSI of the score and each feature against the baseline, and realised AUC.

    ``target_column`` may hold missing values for outcomes not yet matured; only matured rows
    enter the AUC, and only when at least ``min_matured`` rows with both outcomes exist.
    """
    limits = thresholds or DriftThresholds()
    baseline = np.asarray(baseline_scores, dtype=float)
    edges = metrics.psi_edges(baseline)
    months = pd.Series(recent[month_column])
    reports = []
    for month in sorted(months.dropna().unique()):
        rows = recent[(months == month).to_numpy()]
        score_psi = metrics.psi(baseline, rows[score_column], edges=edges)
        feature_psi = (
            stability(baseline_features, rows, list(features)).to_dict() if features else {}
        )
        realised = None
        matured = 0
        if target_column is not None:
            outcome = pd.to_numeric(rows[target_column], errors="coerce")
            done = outcome.notna().to_numpy()
            matured = int(done.sum())
            if matured >= limits.min_matured and outcome[done].nunique() == 2:
                realised = metrics.auc(outcome[done], rows.loc[done, score_column])
        flags = []
        if score_psi > limits.score_psi:
            flags.append(f"score PSI {score_psi:.3f} > {limits.score_psi}")
        flags.extend(
            f"feature {name} PSI {value:.3f} > {limits.feature_psi}"
            for name, value in feature_psi.items()
            if value > limits.feature_psi
        )
        if realised is not None:
            if realised < limits.min_auc:
                flags.append(f"realised AUC {realised:.3f} < {limits.min_auc}")
            if development_auc is not None and development_auc - realised > limits.auc_drop:
                flags.append(
                    f"realised AUC {realised:.3f} is {development_auc - realised:.3f} "
                    f"below development {development_auc:.3f}"
                )
        reports.append(
            MonthReport(
                month=str(pd.Timestamp(month).date()) if not isinstance(month, str) else month,
                count=len(rows),
                score_psi=score_psi,
                feature_psi=feature_psi,
                matured=matured,
                realised_auc=realised,
                flags=flags,
            )
        )
    return reports


@dataclass(frozen=True)
class BookDrift:
    """The book scored today against a model's training baseline (模型监控 on the portfolio)."""

    count: int
    baseline_count: int
    score_psi: float
    top_features: list[tuple[str, float]]
    flags: list[str]

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def book_drift(
    baseline_scores: Sequence[float],
    baseline_features: pd.DataFrame,
    current_scores: Sequence[float],
    current_features: pd.DataFrame,
    *,
    features: Sequence[str],
    thresholds: DriftThresholds | None = None,
    top: int = 3,
) -> BookDrift:
    """Score PSI and the ``top`` drifting features of one population (the current book) against
    the development rows the model was trained on; flagged by the same limits as ``monitor``.

    The book has no matured outcomes yet, so there is no realised AUC here; that is
    ``monitor``'s job once outcomes arrive.
    """
    names = [f for f in features if f in baseline_features.columns and f in current_features]
    recent = current_features[names].reset_index(drop=True).copy()
    recent["_score"] = np.asarray(current_scores, dtype=float)
    recent["_book"] = "book"
    if recent.empty:
        return BookDrift(0, len(baseline_features), float("nan"), [], [])
    [report] = monitor(
        baseline_scores,
        baseline_features,
        recent,
        month_column="_book",
        score_column="_score",
        features=names,
        thresholds=thresholds,
    )
    ranked = sorted(
        ((name, value) for name, value in report.feature_psi.items() if not np.isnan(value)),
        key=lambda item: -item[1],
    )
    return BookDrift(
        count=report.count,
        baseline_count=len(baseline_features),
        score_psi=report.score_psi,
        top_features=ranked[:top],
        flags=report.flags,
    )
