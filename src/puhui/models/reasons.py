"""Reason codes (拒绝/预警原因): the top adverse reasons behind each score, in zh and en.

Every model turns into the same input: a matrix of *adverse* contributions (how much each
feature pushed this case towards bad, in the model's own units: points lost for a scorecard,
log-odds for LightGBM and EBM). Descriptions come from a ``{feature: (zh, en)}`` mapping that the
feature store provides; a feature missing from it is named by its column name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Descriptions = Mapping[str, tuple[str, str]]


@dataclass(frozen=True)
class Reason:
    """One adverse reason: which feature, how much it cost, and how to say it."""

    feature: str
    impact: float
    zh: str
    en: str


def describe(feature: str, descriptions: Descriptions | None) -> tuple[str, str]:
    """The (zh, en) description of a feature, or its name twice."""
    if descriptions and feature in descriptions:
        zh, en = descriptions[feature]
        return zh or feature, en or feature
    return feature, feature


def top_reasons(
    adverse: np.ndarray,
    features: Sequence[str],
    descriptions: Descriptions | None = None,
    top: int = 4,
    min_impact: float = 1e-9,
) -> list[list[Reason]]:
    """For each row, the ``top`` features with the largest positive adverse contribution.

    Features that did not hurt (contribution ≤ ``min_impact``) are never reasons, so a strong
    applicant may get fewer than ``top`` reasons, or none.
    """
    matrix = np.atleast_2d(np.asarray(adverse, dtype=float))
    if matrix.shape[1] != len(features):
        raise ValueError(f"{matrix.shape[1]} contribution columns for {len(features)} features")
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :top]
    texts = [describe(name, descriptions) for name in features]
    result: list[list[Reason]] = []
    for row, columns in zip(matrix, order, strict=True):
        reasons = []
        for column in columns:
            impact = float(row[column])
            if impact <= min_impact:
                break
            zh, en = texts[column]
            reasons.append(Reason(feature=features[column], impact=impact, zh=zh, en=en))
        result.append(reasons)
    return result
