"""An additive points model read from plain tables (加性评分表): shape functions and pairs.

This is the readable, servable form of an explainable boosting machine: for each term (one
feature, or a pair of features) a table of log-odds per bin. The score of a case is the
intercept plus one cell of each table, so a credit committee reads it like a scorecard, and
serving needs nothing but this module and the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from puhui.models.errors import ArtifactError, TrainingDataError
from puhui.models.frames import as_pandas
from puhui.models.reasons import Descriptions, Reason, describe, top_reasons
from puhui.models.scaling import PointsScaling

CONTINUOUS = "continuous"
NOMINAL = "nominal"


@dataclass(frozen=True)
class TermAxis:
    """How one feature is binned inside one term.

    Index 0 is *missing*; continuous bins follow the ``cuts`` (bin i+1 holds values in
    [cuts[i-1], cuts[i])); nominal bins are ``categories``' indices; the last index is *unknown*
    (a category never seen in training).
    """

    feature: str
    kind: str
    cuts: tuple[float, ...] = ()
    categories: Mapping[str, int] | None = None

    @property
    def size(self) -> int:
        """Number of cells along this axis, missing and unknown included."""
        if self.kind == CONTINUOUS:
            return len(self.cuts) + 3
        return len(self.categories or {}) + 2

    def index(self, values: pd.Series) -> np.ndarray:
        """The cell of each value along this axis."""
        if self.kind == CONTINUOUS:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            index = np.searchsorted(np.asarray(self.cuts, dtype=float), numbers, side="right") + 1
            return np.where(np.isnan(numbers), 0, index)
        lookup = dict(self.categories or {})
        unknown = self.size - 1
        text = values.astype("string")
        return np.array([0 if v is pd.NA else lookup.get(v, unknown) for v in text], dtype=int)

    def labels(self) -> list[str]:
        """A label per cell, for tables."""
        if self.kind == CONTINUOUS:
            edges = [-np.inf, *self.cuts, np.inf]
            middle = [f"[{lo:.6g}, {hi:.6g})" for lo, hi in pairwise(edges)]
            return ["Missing", *middle, "Unknown"]
        ordered = sorted((self.categories or {}).items(), key=lambda item: item[1])
        return ["Missing", *[name for name, _ in ordered], "Unknown"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "feature": self.feature,
            "kind": self.kind,
            "cuts": list(self.cuts),
            "categories": dict(self.categories or {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TermAxis:
        """Rebuild from ``to_dict``."""
        return cls(
            feature=data["feature"],
            kind=data["kind"],
            cuts=tuple(float(c) for c in data.get("cuts", ())),
            categories={str(k): int(v) for k, v in (data.get("categories") or {}).items()},
        )


@dataclass(frozen=True)
class Term:
    """One additive term: its axes and the log-odds of bad in every cell."""

    name: str
    axes: tuple[TermAxis, ...]
    scores: np.ndarray

    def __post_init__(self) -> None:
        expected = tuple(axis.size for axis in self.axes)
        if self.scores.shape != expected:
            raise ArtifactError(
                f"term {self.name!r} has a score table of shape {self.scores.shape}, "
                f"expected {expected}"
            )

    def contribution(self, frame: pd.DataFrame) -> np.ndarray:
        """Log-odds this term adds for each row."""
        cells = tuple(axis.index(frame[axis.feature]) for axis in self.axes)
        return self.scores[cells]


class AdditivePointsModel:
    """Scores from term tables; ``scaling`` turns log-odds into points (higher is safer)."""

    kind = "additive"

    def __init__(
        self, intercept: float, terms: Sequence[Term], scaling: PointsScaling | None = None
    ) -> None:
        self.intercept = float(intercept)
        self.terms = list(terms)
        self.scaling = scaling or PointsScaling()

    @property
    def feature_names(self) -> list[str]:
        """Every feature some term reads, in first-use order."""
        seen: dict[str, None] = {}
        for term in self.terms:
            for axis in term.axes:
                seen.setdefault(axis.feature, None)
        return list(seen)

    def term_contributions(self, X: Any) -> pd.DataFrame:
        """Log-odds of bad added by each term, per row."""
        frame = as_pandas(X)
        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing:
            raise TrainingDataError(f"the frame lacks feature column(s) {', '.join(missing)}")
        return pd.DataFrame(
            {term.name: term.contribution(frame) for term in self.terms}, index=frame.index
        )

    def decision_function(self, X: Any) -> np.ndarray:
        """Log-odds of bad: intercept plus every term."""
        return self.intercept + self.term_contributions(X).sum(axis=1).to_numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of [good, bad] per row."""
        pd_bad = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - pd_bad, pd_bad])

    def score(self, X: Any) -> np.ndarray:
        """Points (higher is safer) on the model's scaling."""
        return self.scaling.score_from_bad_log_odds(self.decision_function(X))

    def reasons(
        self, X: Any, descriptions: Descriptions | None = None, top: int = 4
    ) -> list[list[Reason]]:
        """Top adverse reasons: the terms that added the most log-odds of bad.

        A pair term is described by both features' descriptions joined with "×".
        """
        contributions = self.term_contributions(X)
        names = [term.name for term in self.terms]
        texts = {}
        for term in self.terms:
            parts = [describe(axis.feature, descriptions) for axis in term.axes]
            texts[term.name] = (" × ".join(p[0] for p in parts), " × ".join(p[1] for p in parts))
        return top_reasons(contributions.to_numpy(), names, texts, top)

    def points_table(self, decimals: int = 1) -> pd.DataFrame:
        """The readable table: term, bin, points, with neighbouring bins of equal points merged.

        Points are −factor × log-odds, so a bin that adds risk has negative points; the
        ``(base points)`` row carries the intercept. Pair terms list only their non-zero cells.
        """
        factor = self.scaling.factor
        rows: list[dict[str, Any]] = [
            {
                "term": "(base points)",
                "bin": "",
                "points": round(self.scaling.offset - factor * self.intercept, decimals),
            }
        ]
        for term in self.terms:
            points = np.round(-factor * term.scores, decimals)
            if len(term.axes) == 1:
                rows.extend(_merged_rows(term.name, term.axes[0].labels(), points))
                continue
            labels = [axis.labels() for axis in term.axes]
            for cell in zip(*np.nonzero(points), strict=True):
                rows.append(
                    {
                        "term": term.name,
                        "bin": " & ".join(labels[a][i] for a, i in enumerate(cell)),
                        "points": float(points[cell]),
                    }
                )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "kind": self.kind,
            "intercept": self.intercept,
            "scaling": {
                "base_score": self.scaling.base_score,
                "base_odds": self.scaling.base_odds,
                "pdo": self.scaling.pdo,
            },
            "terms": [
                {
                    "name": term.name,
                    "axes": [axis.to_dict() for axis in term.axes],
                    "scores": term.scores.tolist(),
                }
                for term in self.terms
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdditivePointsModel:
        """Rebuild from ``to_dict``."""
        if data.get("kind") != cls.kind:
            raise ArtifactError(f"expected an additive artifact, found kind {data.get('kind')!r}")
        terms = [
            Term(
                name=term["name"],
                axes=tuple(TermAxis.from_dict(axis) for axis in term["axes"]),
                scores=np.asarray(term["scores"], dtype=float),
            )
            for term in data["terms"]
        ]
        return cls(float(data["intercept"]), terms, PointsScaling(**data["scaling"]))


def _merged_rows(name: str, labels: list[str], points: np.ndarray) -> list[dict[str, Any]]:
    """Collapse runs of neighbouring continuous bins with equal points into one row."""
    rows: list[dict[str, Any]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i < len(labels) and points[i] == points[start] and _joinable(labels[start], labels[i]):
            continue
        label = labels[start] if i - 1 == start else _join(labels[start], labels[i - 1])
        rows.append({"term": name, "bin": label, "points": float(points[start])})
        start = i
    return rows


def _joinable(first: str, other: str) -> bool:
    return first.startswith("[") and other.startswith("[")


def _join(first: str, last: str) -> str:
    return f"{first.split(',')[0]},{last.split(',')[1]}"
