"""One party's half of a vertically split logistic regression (pure numpy, no I/O).

The joint log-odds is z = X_bank·w_bank + b + X_platform·w_platform. Each party standardises its
own columns, keeps its own weights, and contributes its share of the residual of the first-order
Taylor expansion of the logistic loss, σ(z) ≈ 1/2 + z/4 (Hardy et al. 2017, as in FATE):

    r = (z_bank/4 + 1/2 − y)/n  +  (z_platform/4)/n        (bank share + platform share)

so each gradient Xᵀr splits into one local product and one cross-party product (``he``). Each
party updates its own weights with Adam and an L2 penalty; the intercept lives with the bank.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from puhui.federated.errors import FederatedError


@dataclass(frozen=True)
class TrainingParameters:
    """Hyper-parameters both parties agree on when the job starts."""

    iterations: int = 40
    learning_rate: float = 0.1
    l2: float = 1e-3
    train_fraction: float = 0.7
    split_seed: int = 7
    train_before: str | None = None
    """ISO date. When set, the split is by time: ids read ``<key>@<YYYY-MM-DD>`` and rows dated
    before it train, later ones are held out (``train_fraction`` and the seed are then unused)."""
    score_from: str | None = None
    """ISO date, with ``train_before``: rows dated on or after it are scored only (no label)."""


@dataclass
class Standardizer:
    """Median imputation, 1st/99th percentile clipping and z-scaling, learned on training rows."""

    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, matrix: np.ndarray) -> Standardizer:
        median = np.nanmedian(matrix, axis=0)
        median = np.where(np.isnan(median), 0.0, median)
        filled = np.where(np.isnan(matrix), median, matrix)
        low, high = np.percentile(filled, 1, axis=0), np.percentile(filled, 99, axis=0)
        clipped = np.clip(filled, low, high)
        scale = clipped.std(axis=0)
        return cls(median, low, high, clipped.mean(axis=0), np.where(scale > 0, scale, 1.0))

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(matrix), self.median, matrix)
        return (np.clip(filled, self.low, self.high) - self.mean) / self.scale


TRAIN, HOLDOUT, SCORE_ONLY = 0, 1, 2
DATE_SEPARATOR = "@"


def row_roles(ids: Sequence[str] | int, parameters: TrainingParameters) -> np.ndarray:
    """Each row of the sorted intersection: TRAIN, HOLDOUT or SCORE_ONLY (both parties agree).

    By default a seeded random ``train_fraction`` trains. With ``train_before`` the split is by
    the date each id carries, so the model is tested on months after those it learned from, and
    rows dated from ``score_from`` on (today's population, unlabelled) are only scored.
    """
    if parameters.train_before is None:
        count = ids if isinstance(ids, int) else len(ids)
        order = np.random.default_rng(parameters.split_seed).permutation(count)
        roles = np.full(count, HOLDOUT, dtype=np.int8)
        roles[order[: round(count * parameters.train_fraction)]] = TRAIN
        return roles
    if isinstance(ids, int):
        raise FederatedError("a split by time needs the ids, which carry the dates")
    dates = []
    for identifier in ids:
        _, separator, day = identifier.rpartition(DATE_SEPARATOR)
        if not separator or len(day) != 10:
            raise FederatedError(
                f"id {identifier!r} carries no date (<key>{DATE_SEPARATOR}YYYY-MM-DD) "
                "but the job splits by time"
            )
        dates.append(day)
    day_of_row = np.asarray(dates)
    roles = np.where(day_of_row < parameters.train_before, TRAIN, HOLDOUT).astype(np.int8)
    if parameters.score_from is not None:
        roles[day_of_row >= parameters.score_from] = SCORE_ONLY
    return roles


def training_rows(ids: Sequence[str] | int, parameters: TrainingParameters) -> np.ndarray:
    """The rows (of the sorted intersection) both parties train on."""
    return np.flatnonzero(row_roles(ids, parameters) == TRAIN)


@dataclass
class LinearPart:
    """One party's columns, weights and optimiser state; the bank's also has the intercept."""

    standardizer: Standardizer
    weights: np.ndarray
    intercept: float | None = None
    parameters: TrainingParameters = field(default_factory=TrainingParameters)
    step: int = 0
    _moment: np.ndarray | None = None
    _second: np.ndarray | None = None

    @classmethod
    def start(
        cls, raw_features: np.ndarray, parameters: TrainingParameters, with_intercept: bool
    ) -> LinearPart:
        standardizer = Standardizer.fit(raw_features)
        return cls(
            standardizer=standardizer,
            weights=np.zeros(raw_features.shape[1]),
            intercept=0.0 if with_intercept else None,
            parameters=parameters,
        )

    def partial_score(self, features: np.ndarray) -> np.ndarray:
        """This party's share of the log-odds for standardised ``features``."""
        score = features @ self.weights
        return score + self.intercept if self.intercept is not None else score

    def residual_share(self, features: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        """This party's additive share of the Taylor residual r (divided by n)."""
        share = 0.25 * self.partial_score(features)
        if labels is not None:
            share = share + 0.5 - labels
        return share / len(features)

    def apply_gradient(self, gradient: np.ndarray, residual_sum: float | None = None) -> None:
        """One Adam step from the joint gradient of this party's weights (and intercept)."""
        gradient = gradient + self.parameters.l2 * self.weights
        if self.intercept is not None:
            if residual_sum is None:
                raise FederatedError("the intercept's gradient (residual sum) is missing")
            gradient = np.append(gradient, residual_sum)
        if self._moment is None:
            self._moment, self._second = np.zeros_like(gradient), np.zeros_like(gradient)
        self.step += 1
        self._moment = 0.9 * self._moment + 0.1 * gradient
        self._second = 0.999 * self._second + 0.001 * gradient**2
        corrected = self._moment / (1 - 0.9**self.step)
        scaled = np.sqrt(self._second / (1 - 0.999**self.step)) + 1e-8
        update = self.parameters.learning_rate * corrected / scaled
        if self.intercept is not None:
            self.intercept -= float(update[-1])
            update = update[:-1]
        self.weights = self.weights - update

    def to_json(self) -> dict:
        s = self.standardizer
        return {
            "parameters": asdict(self.parameters),
            "weights": self.weights.tolist(),
            "intercept": self.intercept,
            "standardizer": {
                name: getattr(s, name).tolist()
                for name in ("median", "low", "high", "mean", "scale")
            },
        }

    def save(self, path: Path, feature_names: list[str], job_id: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"job_id": job_id, "features": feature_names, **self.to_json()}
        path.write_text(json.dumps(body, indent=1))

    @classmethod
    def load(cls, path: Path) -> tuple[LinearPart, list[str]]:
        if not path.is_file():
            raise FederatedError(f"joint model half not found at {path}")
        body = json.loads(path.read_text())
        standardizer = Standardizer(**{k: np.asarray(v) for k, v in body["standardizer"].items()})
        parameters = TrainingParameters(**body.get("parameters", {}))
        part = cls(standardizer, np.asarray(body["weights"]), body["intercept"], parameters)
        return part, body["features"]
