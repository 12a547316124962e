"""风险模型 · the sentinel's risk models: supervised logistic scorers on the observable fraud
label and isolation-forest anomaly detectors, each over one family of sentinel features.

Both follow scikit-learn's estimator contract (``fit`` learns attributes ending in ``_``), are
stored as JSON (never pickle) and score one row in microseconds in plain Python, which is what
lets twenty-odd models run inside the 10 ms real-time budget. Every score is reported on one
scale: the share of development applications *without* the label that score lower (so 0.98
means "as unusual as the top 2% of genuine-looking applications"), which makes thresholds in
strategies readable and comparable across models.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import yaml
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression

from puhui.decisions.sentinel.codegen import compile_isolation_trees, compile_logit
from puhui.decisions.sentinel.features import FEATURE_TYPES
from puhui.errors import PuhuiError

KINDS = ("sentinel_logit", "sentinel_iforest")


class RiskModelError(PuhuiError):
    """A risk model spec or artifact that does not hold together."""


@dataclass(frozen=True)
class RiskModelSpec:
    name: str
    kind: str
    zh: str
    en: str
    features: tuple[str, ...]
    label: str  # observable_fraud, early_default, or none (unsupervised)
    # "firm": every input is the firm's (registration, newest panel month), so the score may be
    # computed once per firm per index build; "application": computed for every application.
    level: str = "application"

    @property
    def feature_name(self) -> str:
        return f"model_{self.name}"


def load_model_specs() -> tuple[RiskModelSpec, ...]:
    """The model catalog (``models.yaml``), each feature checked against the schema."""
    text = (resources.files("puhui.decisions.sentinel") / "models.yaml").read_text("utf-8")
    specs = []
    for entry in yaml.safe_load(text)["models"]:
        spec = RiskModelSpec(
            entry["name"],
            entry["kind"],
            entry["zh"],
            entry["en"],
            tuple(entry["features"]),
            entry.get("label", "none"),
            entry.get("level", "application"),
        )
        if spec.kind not in KINDS:
            raise RiskModelError(f"model {spec.name}: unknown kind {spec.kind!r}")
        for feature in spec.features:
            if FEATURE_TYPES.get(feature) not in {"number", "bool"}:
                raise RiskModelError(f"model {spec.name}: {feature!r} is not a numeric feature")
        specs.append(spec)
    return tuple(specs)


def row_vector(row: Mapping[str, Any], features: Sequence[str]) -> list[float]:
    """Numbers in feature order; booleans as 0/1, nulls as NaN."""
    out = []
    for name in features:
        value = row.get(name)
        out.append(math.nan if value is None else float(value))
    return out


class _Percentile:
    """Maps a raw score to the share of reference scores below it."""

    quantiles_: list[float]

    def _fit_scale(self, raw: np.ndarray) -> None:
        self.quantiles_ = [float(q) for q in np.quantile(raw, np.linspace(0, 1, 1001))]

    def _scale(self, raw: float) -> float:
        # Strictly below: a score shared by most applications (ties) stays low.
        return bisect_left(self.quantiles_, raw) / len(self.quantiles_)

    def _scale_many(self, raw: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.array(self.quantiles_), raw, side="left") / len(self.quantiles_)


class LogitScorer(_Percentile):
    """Standardised logistic regression with median imputation."""

    kind = "sentinel_logit"
    _raw_compiled: Callable[[Sequence[float]], float] | None = None

    def __init__(self, features: Sequence[str], C: float = 0.5) -> None:
        self.features = list(features)
        self.C = C

    def fit(self, X: np.ndarray, y: np.ndarray) -> LogitScorer:
        self._raw_compiled = None
        X = np.asarray(X, dtype=float)
        medians = np.nanmedian(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
        medians = np.where(np.isnan(medians), 0.0, medians)
        filled = np.where(np.isnan(X), medians, X)
        filled = np.sign(filled) * np.log1p(np.abs(filled))  # tame heavy tails (amounts)
        means, stds = filled.mean(axis=0), filled.std(axis=0)
        stds = np.where(stds > 0, stds, 1.0)
        model = LogisticRegression(C=self.C, class_weight="balanced", max_iter=500)
        model.fit((filled - means) / stds, y)
        self.medians_, self.means_, self.stds_ = medians.tolist(), means.tolist(), stds.tolist()
        self.coef_ = model.coef_[0].tolist()
        self.intercept_ = float(model.intercept_[0])
        self._fit_scale(self.raw(X)[np.asarray(y) == 0])
        return self

    def raw(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        filled = np.where(np.isnan(X), np.array(self.medians_), X)
        filled = np.sign(filled) * np.log1p(np.abs(filled))
        z = (filled - np.array(self.means_)) / np.array(self.stds_)
        return z @ np.array(self.coef_) + self.intercept_

    def score_many(self, X: np.ndarray) -> np.ndarray:
        return self._scale_many(self.raw(X))

    def score_one(self, values: Sequence[float]) -> float:
        raw = self._raw_compiled
        if raw is None:  # fitted numbers unrolled into code once (see ``codegen``)
            raw = compile_logit(self.medians_, self.means_, self.stds_, self.coef_, self.intercept_)
            self._raw_compiled = raw
        return self._scale(raw(values))

    def raw_one(self, values: Sequence[float]) -> float:
        """The reference loop the compiled ``score_one`` reproduces exactly (tests compare)."""
        total = self.intercept_
        for value, median, mean, std, coef in zip(
            values, self.medians_, self.means_, self.stds_, self.coef_, strict=True
        ):
            v = median if value != value else value
            v = math.copysign(math.log1p(abs(v)), v)
            total += coef * (v - mean) / std
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "features": self.features,
            "C": self.C,
            **{
                k: getattr(self, k)
                for k in ("medians_", "means_", "stds_", "coef_", "intercept_", "quantiles_")
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogitScorer:
        model = cls(data["features"], data["C"])
        for key in ("medians_", "means_", "stds_", "coef_", "intercept_", "quantiles_"):
            setattr(model, key, data[key])
        return model


def _average_path(n: float) -> float:
    """c(n): the average path length of an unsuccessful search in a binary search tree."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (math.log(n - 1) + 0.5772156649) - 2.0 * (n - 1) / n


class IsolationScorer(_Percentile):
    """An isolation forest whose trees are kept as plain lists (JSON), scored in Python."""

    kind = "sentinel_iforest"
    _forest_compiled: Callable[[Sequence[float]], float] | None = None

    def __init__(self, features: Sequence[str], trees: int = 30, seed: int = 7) -> None:
        self.features = list(features)
        self.trees = trees
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> IsolationScorer:
        self._trees_compiled = self._forest_compiled = None
        X = np.asarray(X, dtype=float)
        medians = np.nanmedian(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
        self.medians_ = np.where(np.isnan(medians), 0.0, medians).tolist()
        filled = np.where(np.isnan(X), np.array(self.medians_), X)
        forest = IsolationForest(
            n_estimators=self.trees, max_samples=min(256, len(filled)), random_state=self.seed
        ).fit(filled)
        self.max_samples_ = int(forest.max_samples_)
        self.trees_ = []
        for tree, columns in zip(forest.estimators_, forest.estimators_features_, strict=True):
            t = tree.tree_
            self.trees_.append(
                {
                    "left": t.children_left.tolist(),
                    "right": t.children_right.tolist(),
                    "feature": [int(columns[f]) if f >= 0 else -1 for f in t.feature],
                    "threshold": t.threshold.tolist(),
                    "size": t.n_node_samples.tolist(),
                }
            )
        reference = filled if y is None else filled[np.asarray(y) == 0]
        self._fit_scale(self.raw(reference))
        return self

    def _compiled(self) -> list[tuple[list[int], list[int], list[int], list[float], list[float]]]:
        """Trees as tuples of lists with each leaf's path-length correction precomputed."""
        cached = getattr(self, "_trees_compiled", None)
        if cached is None:
            cached = [
                (
                    t["left"],
                    t["right"],
                    t["feature"],
                    t["threshold"],
                    [
                        _average_path(n) if lt == -1 else 0.0
                        for lt, n in zip(t["left"], t["size"], strict=True)
                    ],
                )
                for t in self.trees_
            ]
            self._trees_compiled = cached
        return cached

    def raw_one(self, values: Sequence[float]) -> float:
        """The reference tree walk the compiled ``score_one`` reproduces exactly."""
        row = [m if v != v else v for v, m in zip(values, self.medians_, strict=True)]
        total = 0.0
        for left, right, feature, threshold, leaf in self._compiled():
            node = depth = 0
            while left[node] != -1:
                node = left[node] if row[feature[node]] <= threshold[node] else right[node]
                depth += 1
            total += depth + leaf[node]
        return 2.0 ** (-(total / len(self.trees_)) / _average_path(self.max_samples_))

    def raw(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        filled = np.where(np.isnan(X), np.array(self.medians_), X)
        depth = np.zeros(len(filled))
        rows = np.arange(len(filled))
        for tree in self.trees_:
            left, right = np.array(tree["left"]), np.array(tree["right"])
            feature, threshold = np.array(tree["feature"]), np.array(tree["threshold"])
            sizes = np.array(tree["size"])
            node = np.zeros(len(filled), dtype=np.int64)
            steps = np.zeros(len(filled))
            while True:
                inner = left[node] != -1
                if not inner.any():
                    break
                go_left = filled[rows, np.maximum(feature[node], 0)] <= threshold[node]
                node = np.where(inner, np.where(go_left, left[node], right[node]), node)
                steps += inner
            depth += steps + np.array([_average_path(s) for s in sizes])[node]
        return 2.0 ** (-(depth / len(self.trees_)) / _average_path(self.max_samples_))

    def score_many(self, X: np.ndarray) -> np.ndarray:
        return self._scale_many(self.raw(X))

    def score_one(self, values: Sequence[float]) -> float:
        forest = self._forest_compiled
        if forest is None:  # the trees as nested ifs, compiled once (see ``codegen``)
            forest = compile_isolation_trees(self.medians_, self._compiled())
            self._forest_compiled = forest
        total = forest(values)
        return self._scale(2.0 ** (-(total / len(self.trees_)) / _average_path(self.max_samples_)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "features": self.features,
            "trees": self.trees,
            "seed": self.seed,
            "medians_": self.medians_,
            "max_samples_": self.max_samples_,
            "trees_": self.trees_,
            "quantiles_": self.quantiles_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IsolationScorer:
        model = cls(data["features"], data["trees"], data["seed"])
        for key in ("medians_", "max_samples_", "trees_", "quantiles_"):
            setattr(model, key, data[key])
        return model


RiskModel = LogitScorer | IsolationScorer


def new_model(spec: RiskModelSpec) -> RiskModel:
    if spec.kind == "sentinel_logit":
        return LogitScorer(spec.features)
    return IsolationScorer(spec.features)


def model_from_dict(data: Mapping[str, Any]) -> RiskModel:
    if data.get("kind") == "sentinel_logit":
        return LogitScorer.from_dict(data)
    if data.get("kind") == "sentinel_iforest":
        return IsolationScorer.from_dict(data)
    raise RiskModelError(f"unknown risk model kind {data.get('kind')!r}")
