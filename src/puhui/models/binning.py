"""Optimal binning and weight of evidence (分箱与WOE), learnt with optbinning, kept as plain data.

``WoeBinning`` is a thin estimator: optbinning's ``OptimalBinning`` finds the cut points (with a
monotonic trend where asked), and the bins are then stored as ``FeatureBins`` values, so that
scoring, reason codes and the JSON artifact need neither optbinning nor pickle. Each feature has
its regular bins, then a *special* bin (values listed in ``special_codes``, e.g. -999) and a
*missing* bin. WOE here is ln(bad share / good share): higher means riskier.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from optbinning import OptimalBinning

from puhui.models.errors import TrainingDataError
from puhui.models.frames import as_pandas, binary_target

_SMOOTHING = 0.5
_FINITE_MAX = np.finfo(float).max
# optbinning's CART pre-binning works in float32; beyond this the value only matters as "extreme".
_PREBIN_MAX = float(np.finfo(np.float32).max) / 2


@dataclass(frozen=True)
class FeatureBins:
    """The bins of one characteristic and the evidence in each.

    ``splits`` are the cut points of a numeric feature (bins are [a, b)); ``categories`` the
    groups of a categorical one. Per-bin arrays run over the regular bins, then special, then
    missing.
    """

    feature: str
    kind: str  # "numeric" or "categorical"
    splits: list[float] = field(default_factory=list)
    categories: list[list[str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    bads: list[int] = field(default_factory=list)
    woe: list[float] = field(default_factory=list)
    iv: float = 0.0

    @property
    def n_regular(self) -> int:
        """Number of regular bins (without special and missing)."""
        return len(self.labels) - 2

    def bin_index(self, values: pd.Series, special_codes: Sequence[float] = ()) -> np.ndarray:
        """The bin of each value: regular bins first, then special, then missing."""
        special_bin, missing_bin = self.n_regular, self.n_regular + 1
        if self.kind == "categorical":
            lookup = {value: i for i, group in enumerate(self.categories) for value in group}
            text = values.astype("string")
            index = np.array(
                [lookup.get(v, missing_bin) if v is not pd.NA else missing_bin for v in text],
                dtype=int,
            )
            return index
        numbers = _numeric(values)
        index = np.searchsorted(np.asarray(self.splits, dtype=float), numbers, side="right")
        if special_codes:
            index = np.where(
                np.isin(numbers, np.asarray(special_codes, dtype=float)), special_bin, index
            )
        return np.where(np.isnan(numbers), missing_bin, index)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureBins:
        """Rebuild from ``to_dict``."""
        return cls(**dict(data))


def _numeric(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    # ±inf (a ratio over zero) is kept as the most extreme finite value: it belongs to an end bin.
    return np.clip(numbers, -_FINITE_MAX, _FINITE_MAX)


def is_categorical(values: pd.Series) -> bool:
    """True for text, boolean or pandas categorical columns."""
    return not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def evidence(
    index: np.ndarray, y: np.ndarray, n_bins: int
) -> tuple[list[int], list[int], list[float], float]:
    """Counts, bads, smoothed WOE and IV of each bin given bin indices and the 0/1 target."""
    counts = np.bincount(index, minlength=n_bins)
    bads = np.bincount(index, weights=y, minlength=n_bins)
    goods = counts - bads
    used = counts > 0
    # Smoothed over the bins that hold rows; an empty bin (no special values seen) is neutral.
    k = max(int(used.sum()), 1)
    bad_share = np.where(used, (bads + _SMOOTHING) / (bads.sum() + _SMOOTHING * k), 0.0)
    good_share = np.where(used, (goods + _SMOOTHING) / (goods.sum() + _SMOOTHING * k), 0.0)
    woe = np.zeros(n_bins)
    woe[used] = np.log(bad_share[used] / good_share[used])
    iv = float(np.sum((bad_share - good_share) * woe))
    return counts.astype(int).tolist(), bads.astype(int).tolist(), woe.tolist(), iv


def _numeric_labels(splits: Sequence[float]) -> list[str]:
    edges = [-np.inf, *splits, np.inf]
    return [f"[{_fmt(lo)}, {_fmt(hi)})" for lo, hi in pairwise(edges)]


def _fmt(value: float) -> str:
    if np.isinf(value):
        return "-inf" if value < 0 else "inf"
    return f"{value:.6g}"


class WoeBinning:
    """Learns optimal bins per feature and transforms values to their WOE.

    Parameters mirror optbinning's: ``max_n_bins``, ``min_bin_size`` (share of rows),
    ``monotonic_trend`` for numeric features (e.g. ``"auto_asc_desc"``, ``"ascending"``,
    ``"auto"``; per feature in ``monotonic_trends``), ``special_codes`` (numeric values with a
    meaning of their own, binned apart). A column that cannot be binned (all missing, a single
    value) gets one regular bin and carries no evidence, rather than failing the whole fit.
    """

    def __init__(
        self,
        max_n_bins: int = 6,
        min_bin_size: float = 0.05,
        monotonic_trend: str | None = "auto_asc_desc",
        monotonic_trends: Mapping[str, str | None] | None = None,
        special_codes: Sequence[float] = (),
        max_n_prebins: int = 20,
    ) -> None:
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.monotonic_trend = monotonic_trend
        self.monotonic_trends = monotonic_trends
        self.special_codes = special_codes
        self.max_n_prebins = max_n_prebins

    def fit(self, X: Any, y: Any) -> WoeBinning:
        """Bin every column of ``X`` against the 0/1 target ``y``."""
        frame = as_pandas(X)
        target = binary_target(y, len(frame))
        trends = dict(self.monotonic_trends or {})
        self.feature_names_in_ = [str(c) for c in frame.columns]
        self.bins_: dict[str, FeatureBins] = {}
        for name in self.feature_names_in_:
            self.bins_[name] = self._fit_one(
                name, frame[name], target, trends.get(name, self.monotonic_trend)
            )
        return self

    def _fit_one(
        self, name: str, values: pd.Series, y: np.ndarray, trend: str | None
    ) -> FeatureBins:
        categorical = is_categorical(values)
        splits: list[float] = []
        categories: list[list[str]] = []
        usable = values.notna()
        if categorical:
            text = values.astype("string")
            if usable.any():
                observed = sorted(text[usable].unique())
                categories = self._categorical_groups(name, text, y, observed)
            labels = [", ".join(group) for group in categories] or ["(none)"]
            if not categories:
                categories = [[]]
        else:
            numbers = _numeric(values)
            regular = ~np.isnan(numbers) & ~np.isin(
                numbers, np.asarray(self.special_codes, dtype=float)
            )
            if len(np.unique(numbers[regular])) > 1 and len(np.unique(y[regular])) == 2:
                splits = self._numeric_splits(name, numbers, y, trend)
            labels = _numeric_labels(splits)
        bins = FeatureBins(
            feature=name,
            kind="categorical" if categorical else "numeric",
            splits=splits,
            categories=categories,
            labels=[*labels, "Special", "Missing"],
        )
        index = bins.bin_index(values, self.special_codes)
        counts, bads, woe, iv = evidence(index, y, len(bins.labels))
        return FeatureBins(
            **{**bins.to_dict(), "counts": counts, "bads": bads, "woe": woe, "iv": iv}
        )

    def _optimal(self, name: str, dtype: str, trend: str | None) -> OptimalBinning:
        return OptimalBinning(
            name=name,
            dtype=dtype,
            max_n_prebins=self.max_n_prebins,
            max_n_bins=self.max_n_bins,
            min_bin_size=self.min_bin_size,
            monotonic_trend=trend if dtype == "numerical" else None,
            special_codes=list(self.special_codes)
            if dtype == "numerical" and self.special_codes
            else None,
        )

    def _numeric_splits(
        self, name: str, numbers: np.ndarray, y: np.ndarray, trend: str | None
    ) -> list[float]:
        optimal = self._optimal(name, "numerical", trend)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                optimal.fit(np.clip(numbers, -_PREBIN_MAX, _PREBIN_MAX), y)
            except (ValueError, RuntimeError) as error:  # optbinning refuses degenerate columns
                raise TrainingDataError(f"cannot bin feature {name!r}: {error}") from error
        if optimal.status not in {"OPTIMAL", "FEASIBLE"}:
            return []
        return [float(s) for s in optimal.splits]

    def _categorical_groups(
        self, name: str, text: pd.Series, y: np.ndarray, observed: list[str]
    ) -> list[list[str]]:
        if len(observed) < 2:
            return [list(observed)]
        optimal = self._optimal(name, "categorical", None)
        usable = text.notna().to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimal.fit(text[usable].astype(object).to_numpy(), y[usable])
        groups = (
            [sorted(str(v) for v in group) for group in optimal.splits]
            if optimal.status in {"OPTIMAL", "FEASIBLE"}
            else []
        )
        grouped = {v for group in groups for v in group}
        # Categories optbinning left out (too rare) join one group of their own.
        rest = [v for v in observed if v not in grouped]
        return [g for g in groups if g] + ([rest] if rest else [])

    def bin_indices(self, X: Any) -> dict[str, np.ndarray]:
        """The bin of every value, per feature."""
        frame = as_pandas(X)
        missing = [name for name in self.feature_names_in_ if name not in frame.columns]
        if missing:
            raise TrainingDataError(f"the frame lacks feature column(s) {', '.join(missing)}")
        return {
            name: bins.bin_index(frame[name], self.special_codes)
            for name, bins in self.bins_.items()
        }

    def transform(self, X: Any) -> pd.DataFrame:
        """WOE of each value, one column per feature."""
        indices = self.bin_indices(X)
        return pd.DataFrame(
            {name: np.asarray(self.bins_[name].woe)[index] for name, index in indices.items()},
            index=as_pandas(X).index,
        )

    def iv_table(self) -> pd.DataFrame:
        """Information value per feature, strongest first."""
        rows = [(name, bins.iv, bins.n_regular) for name, bins in self.bins_.items()]
        return pd.DataFrame(rows, columns=["feature", "iv", "bins"]).sort_values(
            "iv", ascending=False, ignore_index=True
        )
