"""The LightGBM challenger (挑战者模型), with monotone constraints where the business knows the
direction, stored as LightGBM's own text model rather than a pickle.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from puhui.models.binning import is_categorical
from puhui.models.errors import ArtifactError, TrainingDataError
from puhui.models.frames import as_pandas, binary_target
from puhui.models.reasons import Descriptions, Reason, top_reasons


class LightGBMChallenger:
    """Gradient-boosted trees on the raw features.

    ``monotone`` maps a feature to +1 (a larger value is riskier: PD rises with it) or −1 (a
    larger value is safer); features not named are unconstrained. Text columns become LightGBM
    categorical features; their categories are kept so serving codes them identically.
    """

    kind = "lightgbm"

    def __init__(
        self,
        monotone: Mapping[str, int] | None = None,
        n_estimators: int = 500,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.5,
        reg_lambda: float = 1.0,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.monotone = monotone
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "verbosity": -1,
        }

    def fit(self, X: Any, y: Any) -> LightGBMChallenger:
        """Train the booster."""
        frame = as_pandas(X)
        target = binary_target(y, len(frame))
        monotone = dict(self.monotone or {})
        unknown = sorted(set(monotone) - {str(c) for c in frame.columns})
        if unknown:
            raise TrainingDataError(
                f"monotone constraint names unknown feature(s) {', '.join(unknown)}"
            )
        bad = {name: d for name, d in monotone.items() if d not in (-1, 0, 1)}
        if bad:
            raise TrainingDataError(f"monotone directions must be +1, -1 or 0, got {bad}")
        self.feature_names_in_ = [str(c) for c in frame.columns]
        self.categories_ = {
            name: sorted(frame[name].dropna().astype(str).unique().tolist())
            for name in self.feature_names_in_
            if is_categorical(frame[name])
        }
        self.monotone_ = {name: int(monotone.get(name, 0)) for name in self.feature_names_in_}
        params = {
            **self._params(),
            "monotone_constraints": [self.monotone_[n] for n in self.feature_names_in_],
        }
        data = lgb.Dataset(
            self._encode(frame),
            label=target,
            categorical_feature=list(self.categories_) or "auto",
            free_raw_data=True,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.booster_ = lgb.train(params, data, num_boost_round=self.n_estimators)
        return self

    def _encode(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [name for name in self.feature_names_in_ if name not in frame.columns]
        if missing:
            raise TrainingDataError(f"the frame lacks feature column(s) {', '.join(missing)}")
        columns = {}
        for name in self.feature_names_in_:
            if name in self.categories_:
                columns[name] = pd.Categorical(
                    frame[name].astype("string").astype(object), categories=self.categories_[name]
                )
            else:
                columns[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        return pd.DataFrame(columns, index=frame.index)

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise ArtifactError("this LightGBM model is not fitted; call fit or load one")

    def decision_function(self, X: Any) -> np.ndarray:
        """Log-odds of bad."""
        self._check_fitted()
        return np.asarray(self.booster_.predict(self._encode(as_pandas(X)), raw_score=True))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of [good, bad] per row."""
        pd_bad = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - pd_bad, pd_bad])

    def contributions(self, X: Any) -> pd.DataFrame:
        """Per-feature log-odds contributions (TreeSHAP, LightGBM's ``pred_contrib``), plus bias."""
        self._check_fitted()
        frame = as_pandas(X)
        values = self.booster_.predict(self._encode(frame), pred_contrib=True)
        return pd.DataFrame(values, columns=[*self.feature_names_in_, "(bias)"], index=frame.index)

    def reasons(
        self, X: Any, descriptions: Descriptions | None = None, top: int = 4
    ) -> list[list[Reason]]:
        """Top adverse reasons: the features that pushed the log-odds of bad up the most."""
        contributions = self.contributions(X)[self.feature_names_in_]
        return top_reasons(contributions.to_numpy(), self.feature_names_in_, descriptions, top)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; the trees are LightGBM's text model."""
        self._check_fitted()
        return {
            "kind": self.kind,
            "params": {
                "monotone": dict(self.monotone or {}),
                "n_estimators": self.n_estimators,
                "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves,
                "min_child_samples": self.min_child_samples,
                "subsample": self.subsample,
                "colsample_bytree": self.colsample_bytree,
                "reg_lambda": self.reg_lambda,
                "n_jobs": self.n_jobs,
                "random_state": self.random_state,
            },
            "feature_names_in": self.feature_names_in_,
            "categories": self.categories_,
            "monotone_constraints": self.monotone_,
            "booster": self.booster_.model_to_string(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LightGBMChallenger:
        """Rebuild from ``to_dict``."""
        if data.get("kind") != cls.kind:
            raise ArtifactError(f"expected a lightgbm artifact, found kind {data.get('kind')!r}")
        model = cls(**data["params"])
        model.feature_names_in_ = list(data["feature_names_in"])
        model.categories_ = {name: list(values) for name, values in data["categories"].items()}
        model.monotone_ = dict(data["monotone_constraints"])
        model.booster_ = lgb.Booster(model_str=data["booster"])
        return model
