"""The interpretable champion (可解释冠军模型): an explainable boosting machine, exported as tables.

interpret's ``ExplainableBoostingClassifier`` learns one shape function per feature and a few
pairwise interactions. After fitting, the shapes are copied into an ``AdditivePointsModel``
and every prediction is made from those tables, so what the committee reads is exactly what
scores, and the artifact is JSON.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from interpret.glassbox import ExplainableBoostingClassifier

from puhui.models.additive import CONTINUOUS, NOMINAL, AdditivePointsModel, Term, TermAxis
from puhui.models.binning import is_categorical
from puhui.models.errors import ArtifactError, TrainingDataError
from puhui.models.frames import as_pandas, binary_target
from puhui.models.reasons import Descriptions, Reason
from puhui.models.scaling import PointsScaling


class EbmChampion:
    """EBM estimator whose fitted form is an ``AdditivePointsModel`` (``table_``).

    ``monotone`` maps a feature to +1 (larger is riskier) or −1, as for LightGBM.
    ``interactions`` is the number of pairwise terms (0 for a purely additive model).
    """

    kind = "ebm"

    def __init__(
        self,
        interactions: int = 10,
        max_bins: int = 256,
        max_interaction_bins: int = 32,
        outer_bags: int = 4,
        learning_rate: float = 0.015,
        monotone: Mapping[str, int] | None = None,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.interactions = interactions
        self.max_bins = max_bins
        self.max_interaction_bins = max_interaction_bins
        self.outer_bags = outer_bags
        self.learning_rate = learning_rate
        self.monotone = monotone
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> EbmChampion:
        """Fit the EBM and export its shape functions."""
        frame = as_pandas(X)
        target = binary_target(y, len(frame))
        names = [str(c) for c in frame.columns]
        monotone = dict(self.monotone or {})
        unknown = sorted(set(monotone) - set(names))
        if unknown:
            raise TrainingDataError(
                f"monotone constraint names unknown feature(s) {', '.join(unknown)}"
            )
        types = [NOMINAL if is_categorical(frame[n]) else CONTINUOUS for n in names]
        prepared = frame.copy()
        for name, kind in zip(names, types, strict=True):
            if kind == NOMINAL:
                prepared[name] = frame[name].astype("string").astype(object)
        model = ExplainableBoostingClassifier(
            feature_names=names,
            feature_types=types,
            max_bins=self.max_bins,
            max_interaction_bins=self.max_interaction_bins,
            interactions=self.interactions,
            outer_bags=self.outer_bags,
            learning_rate=self.learning_rate,
            monotone_constraints=[monotone.get(n, 0) for n in names] if monotone else None,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(prepared, target)
        self.feature_names_in_ = names
        self.table_ = export_ebm(model, PointsScaling(self.base_score, self.base_odds, self.pdo))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "table_"):
            raise ArtifactError("this EBM is not fitted; call fit or load one")

    def decision_function(self, X: Any) -> np.ndarray:
        """Log-odds of bad, from the exported tables."""
        self._check_fitted()
        return self.table_.decision_function(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of [good, bad] per row."""
        self._check_fitted()
        return self.table_.predict_proba(X)

    def score(self, X: Any) -> np.ndarray:
        """Points, higher is safer."""
        self._check_fitted()
        return self.table_.score(X)

    def reasons(
        self, X: Any, descriptions: Descriptions | None = None, top: int = 4
    ) -> list[list[Reason]]:
        """Top adverse reasons from the per-term contributions."""
        self._check_fitted()
        return self.table_.reasons(X, descriptions, top)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: the parameters and the exported tables."""
        self._check_fitted()
        params = {
            k: getattr(self, k)
            for k in (
                "interactions",
                "max_bins",
                "max_interaction_bins",
                "outer_bags",
                "learning_rate",
                "base_score",
                "base_odds",
                "pdo",
                "n_jobs",
                "random_state",
            )
        }
        params["monotone"] = dict(self.monotone or {})
        return {
            "kind": self.kind,
            "params": params,
            "feature_names_in": self.feature_names_in_,
            "table": self.table_.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EbmChampion:
        """Rebuild from ``to_dict``; interpret is not needed to score."""
        if data.get("kind") != cls.kind:
            raise ArtifactError(f"expected an ebm artifact, found kind {data.get('kind')!r}")
        model = cls(**data["params"])
        model.feature_names_in_ = list(data["feature_names_in"])
        model.table_ = AdditivePointsModel.from_dict(data["table"])
        return model


def export_ebm(model: ExplainableBoostingClassifier, scaling: PointsScaling) -> AdditivePointsModel:
    """Copy a fitted EBM's bins and term scores into an ``AdditivePointsModel``."""
    names = list(model.feature_names_in_)
    terms = []
    for term_name, features, scores in zip(
        model.term_names_, model.term_features_, model.term_scores_, strict=True
    ):
        axes = []
        for feature in features:
            levels = model.bins_[feature]
            definition = levels[min(len(features) - 1, len(levels) - 1)]
            if isinstance(definition, dict):
                axes.append(
                    TermAxis(
                        names[feature],
                        NOMINAL,
                        categories={str(k): int(v) for k, v in definition.items()},
                    )
                )
            else:
                axes.append(
                    TermAxis(names[feature], CONTINUOUS, cuts=tuple(float(c) for c in definition))
                )
        terms.append(
            Term(name=str(term_name), axes=tuple(axes), scores=np.asarray(scores, dtype=float))
        )
    return AdditivePointsModel(float(np.ravel(model.intercept_)[0]), terms, scaling)
