"""The WOE logistic scorecard (评分卡): bins, a logistic regression on WOE, and points.

A credit committee reads it as a table of (characteristic, bin, points); the score of an
applicant is the base points plus the points of the bin each characteristic falls in. Higher
is safer. The fitted scorecard is plain data (``to_dict``), so serving needs no pickle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from puhui.models.binning import FeatureBins, WoeBinning
from puhui.models.errors import ArtifactError, TrainingDataError
from puhui.models.frames import as_pandas, binary_target
from puhui.models.reasons import Descriptions, Reason, top_reasons
from puhui.models.scaling import PointsScaling

BASE_CHARACTERISTIC = "(base points)"


class Scorecard:
    """WOE scorecard estimator.

    ``min_iv`` drops characteristics whose information value is below it before the regression;
    characteristics whose coefficient comes out non-positive (they would reverse their own WOE,
    usually through collinearity) are dropped and the regression refitted, so every table row
    reads the way its bin's bad rate says.
    """

    kind = "scorecard"

    def __init__(
        self,
        max_n_bins: int = 6,
        min_bin_size: float = 0.05,
        monotonic_trend: str | None = "auto_asc_desc",
        monotonic_trends: Mapping[str, str | None] | None = None,
        special_codes: Sequence[float] = (),
        min_iv: float = 0.02,
        C: float = 1.0,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        round_points: bool = True,
    ) -> None:
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.monotonic_trend = monotonic_trend
        self.monotonic_trends = monotonic_trends
        self.special_codes = special_codes
        self.min_iv = min_iv
        self.C = C
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo
        self.round_points = round_points

    @property
    def scaling(self) -> PointsScaling:
        """The points scaling these parameters describe."""
        return PointsScaling(self.base_score, self.base_odds, self.pdo)

    def fit(self, X: Any, y: Any) -> Scorecard:
        """Bin, select by IV, regress on WOE and scale to points."""
        frame = as_pandas(X)
        target = binary_target(y, len(frame))
        if target.sum() == 0 or target.sum() == len(target):
            raise TrainingDataError(
                "the target has a single class; a scorecard needs goods and bads"
            )
        _ = self.scaling  # validates the scaling parameters before the slow part
        binning = WoeBinning(
            max_n_bins=self.max_n_bins,
            min_bin_size=self.min_bin_size,
            monotonic_trend=self.monotonic_trend,
            monotonic_trends=self.monotonic_trends,
            special_codes=self.special_codes,
        ).fit(frame, target)
        self.feature_names_in_ = list(binning.feature_names_in_)
        self.iv_ = {name: bins.iv for name, bins in binning.bins_.items()}
        selected = [name for name in self.feature_names_in_ if self.iv_[name] >= self.min_iv]
        if not selected:
            selected = [max(self.iv_, key=self.iv_.__getitem__)]
        woe = binning.transform(frame)
        while True:
            regression = LogisticRegression(C=self.C, max_iter=2000)
            regression.fit(woe[selected].to_numpy(), target)
            coefficients = regression.coef_[0]
            keep = [name for name, beta in zip(selected, coefficients, strict=True) if beta > 0]
            if len(keep) == len(selected) or not keep:
                break
            selected = keep
        self.bins_ = {name: binning.bins_[name] for name in selected}
        self.characteristics_ = selected
        self.coefficients_ = dict(zip(selected, coefficients.tolist(), strict=True))
        self.intercept_ = float(regression.intercept_[0])
        self._set_points()
        return self

    def _set_points(self) -> None:
        scaling = self.scaling
        points: dict[str, list[float]] = {}
        for name in self.characteristics_:
            raw = -scaling.factor * self.coefficients_[name] * np.asarray(self.bins_[name].woe)
            points[name] = (np.round(raw) if self.round_points else raw).tolist()
        base = scaling.offset - scaling.factor * self.intercept_
        self.points_ = points
        self.base_points_ = float(round(base) if self.round_points else base)

    def _check_fitted(self) -> None:
        if not hasattr(self, "points_"):
            raise ArtifactError("this scorecard is not fitted; call fit or load one")

    def points_matrix(self, X: Any) -> pd.DataFrame:
        """Points earned per characteristic for each row."""
        self._check_fitted()
        frame = as_pandas(X)
        missing = [name for name in self.characteristics_ if name not in frame.columns]
        if missing:
            raise TrainingDataError(
                f"the frame lacks scorecard characteristic(s) {', '.join(missing)}"
            )
        return pd.DataFrame(
            {
                name: np.asarray(self.points_[name])[
                    self.bins_[name].bin_index(frame[name], self.special_codes)
                ]
                for name in self.characteristics_
            },
            index=frame.index,
        )

    def score(self, X: Any) -> np.ndarray:
        """The score: base points plus each characteristic's points (higher is safer)."""
        return self.base_points_ + self.points_matrix(X).sum(axis=1).to_numpy()

    def decision_function(self, X: Any) -> np.ndarray:
        """Log-odds of bad implied by the score."""
        return self.scaling.bad_log_odds_from_score(self.score(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of [good, bad] per row, as sklearn classifiers return them."""
        pd_bad = self.scaling.probability_from_score(self.score(X))
        return np.column_stack([1.0 - pd_bad, pd_bad])

    def adverse_contributions(self, X: Any) -> pd.DataFrame:
        """Points lost per characteristic against its best bin."""
        points = self.points_matrix(X)
        best = pd.Series({name: max(self.points_[name]) for name in self.characteristics_})
        return best - points

    def reasons(
        self, X: Any, descriptions: Descriptions | None = None, top: int = 4
    ) -> list[list[Reason]]:
        """Top adverse reasons per row: the characteristics that lost the most points."""
        lost = self.adverse_contributions(X)
        return top_reasons(lost.to_numpy(), self.characteristics_, descriptions, top)

    def table(self) -> pd.DataFrame:
        """The scorecard table: characteristic, bin, points, with counts and bad rates."""
        self._check_fitted()
        rows: list[dict[str, Any]] = [
            {
                "characteristic": BASE_CHARACTERISTIC,
                "bin": "",
                "points": self.base_points_,
                "count": None,
                "bad_rate": None,
                "woe": None,
            }
        ]
        for name in self.characteristics_:
            bins = self.bins_[name]
            for label, points, count, bads, woe in zip(
                bins.labels, self.points_[name], bins.counts, bins.bads, bins.woe, strict=True
            ):
                if count == 0 and label in {"Special", "Missing"}:
                    continue
                rows.append(
                    {
                        "characteristic": name,
                        "bin": label,
                        "points": points,
                        "count": count,
                        "bad_rate": bads / count if count else None,
                        "woe": woe,
                    }
                )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """The fitted scorecard as JSON-ready data."""
        self._check_fitted()
        return {
            "kind": self.kind,
            "params": {
                "max_n_bins": self.max_n_bins,
                "min_bin_size": self.min_bin_size,
                "monotonic_trend": self.monotonic_trend,
                "monotonic_trends": dict(self.monotonic_trends or {}),
                "special_codes": list(self.special_codes),
                "min_iv": self.min_iv,
                "C": self.C,
                "base_score": self.base_score,
                "base_odds": self.base_odds,
                "pdo": self.pdo,
                "round_points": self.round_points,
            },
            "feature_names_in": self.feature_names_in_,
            "iv": self.iv_,
            "characteristics": self.characteristics_,
            "coefficients": self.coefficients_,
            "intercept": self.intercept_,
            "base_points": self.base_points_,
            "points": self.points_,
            "bins": {name: bins.to_dict() for name, bins in self.bins_.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scorecard:
        """Rebuild a fitted scorecard from ``to_dict`` (no optbinning, no pickle)."""
        if data.get("kind") != cls.kind:
            raise ArtifactError(f"expected a scorecard artifact, found kind {data.get('kind')!r}")
        model = cls(**data["params"])
        model.feature_names_in_ = list(data["feature_names_in"])
        model.iv_ = dict(data["iv"])
        model.characteristics_ = list(data["characteristics"])
        model.coefficients_ = dict(data["coefficients"])
        model.intercept_ = float(data["intercept"])
        model.base_points_ = float(data["base_points"])
        model.points_ = {name: list(points) for name, points in data["points"].items()}
        model.bins_ = {name: FeatureBins.from_dict(bins) for name, bins in data["bins"].items()}
        return model
