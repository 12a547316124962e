"""Discrimination, calibration and stability metrics (区分度、校准、稳定性) as pure functions.

Every function takes the observed outcome ``y`` (1 = bad/default) and a score where a higher
value means riskier (a probability of default), unless it says otherwise. PSI compares two
distributions with bins learnt on the expected (development) one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score

_PSI_FLOOR = 1e-4


def _arrays(y: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    target = np.asarray(y, dtype=float)
    values = np.asarray(score, dtype=float)
    if target.shape != values.shape:
        raise ValueError(f"y has {target.shape} values but score has {values.shape}")
    keep = ~np.isnan(values) & ~np.isnan(target)
    return target[keep], values[keep]


def auc(y: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    target, values = _arrays(y, score)
    if len(np.unique(target)) < 2:
        return float("nan")
    return float(roc_auc_score(target, values))


def gini(y: ArrayLike, score: ArrayLike) -> float:
    """Gini (accuracy ratio) = 2·AUC − 1."""
    return 2.0 * auc(y, score) - 1.0


def ks(y: ArrayLike, score: ArrayLike) -> float:
    """Kolmogorov–Smirnov: the largest gap between the bads' and goods' cumulative shares."""
    target, values = _arrays(y, score)
    bads, goods = target.sum(), (1 - target).sum()
    if bads == 0 or goods == 0:
        return float("nan")
    order = np.argsort(-values, kind="mergesort")
    sorted_values, sorted_target = values[order], target[order]
    # Cut only between distinct scores, so ties never split.
    last_of_value = np.r_[sorted_values[1:] != sorted_values[:-1], True]
    cum_bad = np.cumsum(sorted_target)[last_of_value] / bads
    cum_good = np.cumsum(1 - sorted_target)[last_of_value] / goods
    return float(np.max(np.abs(cum_bad - cum_good)))


@dataclass(frozen=True)
class GainsRow:
    """One band of a gains table, riskiest band first."""

    band: int
    count: int
    bads: int
    bad_rate: float
    min_score: float
    max_score: float
    cumulative_bad_share: float
    cumulative_population_share: float
    lift: float
    cumulative_lift: float


def gains_table(y: ArrayLike, score: ArrayLike, bands: int = 10) -> list[GainsRow]:
    """Gains and lift by score decile (or ``bands`` equal-count bands), riskiest first."""
    target, values = _arrays(y, score)
    total, total_bads = len(target), target.sum()
    if total == 0:
        return []
    order = np.argsort(-values, kind="mergesort")
    base_rate = total_bads / total if total else float("nan")
    rows: list[GainsRow] = []
    cum_bads = 0.0
    cum_count = 0
    for band, index in enumerate(np.array_split(order, min(bands, total)), start=1):
        band_target = target[index]
        band_bads = float(band_target.sum())
        cum_bads += band_bads
        cum_count += len(index)
        rate = band_bads / len(index)
        cum_rate = cum_bads / cum_count
        rows.append(
            GainsRow(
                band=band,
                count=len(index),
                bads=int(band_bads),
                bad_rate=rate,
                min_score=float(values[index].min()),
                max_score=float(values[index].max()),
                cumulative_bad_share=cum_bads / total_bads if total_bads else float("nan"),
                cumulative_population_share=cum_count / total,
                lift=rate / base_rate if base_rate else float("nan"),
                cumulative_lift=cum_rate / base_rate if base_rate else float("nan"),
            )
        )
    return rows


@dataclass(frozen=True)
class CalibrationRow:
    """Predicted against observed default rate in one band of predicted PD."""

    band: int
    count: int
    mean_predicted: float
    observed_rate: float


def calibration_table(
    y: ArrayLike, probability: ArrayLike, bands: int = 10
) -> list[CalibrationRow]:
    """Mean predicted PD against the observed bad rate in equal-count bands of predicted PD."""
    target, values = _arrays(y, probability)
    if len(target) == 0:
        return []
    order = np.argsort(values, kind="mergesort")
    return [
        CalibrationRow(
            band=band,
            count=len(index),
            mean_predicted=float(values[index].mean()),
            observed_rate=float(target[index].mean()),
        )
        for band, index in enumerate(np.array_split(order, min(bands, len(target))), start=1)
    ]


def psi_edges(expected: ArrayLike, bins: int = 10) -> np.ndarray:
    """Inner cut points at the expected distribution's quantiles (duplicates merged)."""
    values = np.asarray(expected, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return np.array([])
    cuts = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(cuts)


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share per bin, with missing values as a bin of their own (the last)."""
    missing = np.isnan(values)
    counts = np.bincount(
        np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1
    ).astype(float)
    counts = np.r_[counts, missing.sum()]
    total = counts.sum()
    return counts / total if total else counts


def psi(
    expected: ArrayLike, actual: ArrayLike, bins: int = 10, edges: Sequence[float] | None = None
) -> float:
    """Population stability index of ``actual`` against ``expected``.

    Bins are the expected quantiles (or ``edges``); missing values form their own bin. Empty
    bins are floored at 0.01% so one vanished bin reads as a large shift, not infinity.
    Rules of thumb: < 0.1 stable, 0.1–0.25 watch, > 0.25 shifted.
    """
    expected_values = np.asarray(expected, dtype=float)
    actual_values = np.asarray(actual, dtype=float)
    if len(expected_values) == 0 or len(actual_values) == 0:
        return float("nan")
    cut = np.asarray(edges, dtype=float) if edges is not None else psi_edges(expected_values, bins)
    e = np.maximum(_shares(expected_values, cut), _PSI_FLOOR)
    a = np.maximum(_shares(actual_values, cut), _PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))
