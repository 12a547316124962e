"""Feature selection (特征筛选): information value, correlation clusters, stability over time.

The heavy lifting is in ``binning`` (IV) and ``metrics`` (PSI); this module decides. A feature
survives when it carries evidence (IV ≥ ``min_iv``), is the strongest of its cluster of
correlated features, and is stable between the earlier and the later development window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from puhui.models.binning import WoeBinning, is_categorical
from puhui.models.frames import as_pandas
from puhui.models.metrics import psi


def information_values(X: Any, y: Any, max_n_bins: int = 6) -> pd.Series:
    """IV of each feature after optimal binning, strongest first."""
    binning = WoeBinning(max_n_bins=max_n_bins).fit(X, y)
    return pd.Series({name: bins.iv for name, bins in binning.bins_.items()}).sort_values(
        ascending=False
    )


def correlation_clusters(X: Any, threshold: float = 0.8) -> list[list[str]]:
    """Groups of numeric features whose |Spearman correlation| reaches ``threshold`` (linked
    through average linkage); each categorical or constant feature is a group of its own."""
    frame = as_pandas(X)
    numeric = [
        c
        for c in frame.columns
        if not is_categorical(frame[c]) and frame[c].nunique(dropna=True) > 1
    ]
    singles = [[str(c)] for c in frame.columns if c not in numeric]
    if len(numeric) < 2:
        return [[str(c)] for c in numeric] + singles
    correlation = frame[numeric].rank().corr().fillna(0.0).abs().to_numpy(copy=True)
    np.fill_diagonal(correlation, 1.0)
    distance = np.clip(1.0 - correlation, 0.0, None)
    distance = (distance + distance.T) / 2
    labels = fcluster(
        linkage(squareform(distance, checks=False), method="average"),
        t=1.0 - threshold,
        criterion="distance",
    )
    clusters: dict[int, list[str]] = {}
    for name, label in zip(numeric, labels, strict=True):
        clusters.setdefault(int(label), []).append(str(name))
    return list(clusters.values()) + singles


def stability(earlier: Any, later: Any, features: Sequence[str] | None = None) -> pd.Series:
    """PSI of each numeric feature of ``later`` against ``earlier`` (categoricals by share)."""
    first, second = as_pandas(earlier), as_pandas(later)
    names = list(features) if features is not None else [str(c) for c in first.columns]
    values = {}
    for name in names:
        if is_categorical(first[name]):
            values[name] = _categorical_psi(first[name], second[name])
        else:
            values[name] = psi(
                pd.to_numeric(first[name], errors="coerce"),
                pd.to_numeric(second[name], errors="coerce"),
            )
    return pd.Series(values, dtype=float)


def _categorical_psi(expected: pd.Series, actual: pd.Series) -> float:
    e = expected.astype("string").fillna("(missing)").value_counts(normalize=True)
    a = actual.astype("string").fillna("(missing)").value_counts(normalize=True)
    shares = pd.concat([e, a], axis=1).fillna(0.0).clip(lower=1e-4)
    return float(
        (
            (shares.iloc[:, 1] - shares.iloc[:, 0]) * np.log(shares.iloc[:, 1] / shares.iloc[:, 0])
        ).sum()
    )


@dataclass(frozen=True)
class Selection:
    """Which features were kept, and why each other one was dropped."""

    kept: list[str]
    dropped: dict[str, str] = field(default_factory=dict)
    iv: dict[str, float] = field(default_factory=dict)
    psi: dict[str, float] = field(default_factory=dict)


def select_features(
    X: Any,
    y: Any,
    time: Any | None = None,
    min_iv: float = 0.02,
    max_correlation: float = 0.8,
    max_psi: float = 0.25,
) -> Selection:
    """Keep informative, non-redundant, stable features.

    ``time`` orders the rows: PSI compares the earlier half of the development window with the
    later half. Without it the stability check is skipped.
    """
    frame = as_pandas(X)
    iv = information_values(frame, y)
    dropped: dict[str, str] = {}
    for name, value in iv.items():
        if value < min_iv:
            dropped[str(name)] = f"IV {value:.4f} < {min_iv}"
    shifts: dict[str, float] = {}
    if time is not None:
        moments = pd.Series(np.asarray(time)).reset_index(drop=True)
        cut = (
            moments.quantile(0.5)
            if pd.api.types.is_numeric_dtype(moments)
            else moments.sort_values().iloc[len(moments) // 2]
        )
        early = frame.reset_index(drop=True)[(moments < cut).to_numpy()]
        late = frame.reset_index(drop=True)[(moments >= cut).to_numpy()]
        if len(early) and len(late):
            shifts = stability(early, late).to_dict()
            for name, value in shifts.items():
                if name not in dropped and value > max_psi:
                    dropped[name] = f"PSI {value:.3f} > {max_psi} between development halves"
    candidates = [c for c in frame.columns if str(c) not in dropped]
    for cluster in correlation_clusters(frame[candidates], max_correlation):
        best = max(cluster, key=lambda name: iv.get(name, 0.0))
        for name in cluster:
            if name != best:
                dropped[name] = (
                    f"correlated with {best} (|rho| ≥ {max_correlation}), which has higher IV"
                )
    kept = [str(c) for c in frame.columns if str(c) not in dropped]
    return Selection(
        kept=kept, dropped=dropped, iv={str(k): float(v) for k, v in iv.items()}, psi=shifts
    )


def quick_information_values(X: Any, y: Any, bins: int = 10) -> pd.Series:
    """IV of each numeric column from equal-frequency bins (plus a missing bin), strongest first.

    A fast screen over hundreds of features before the optimal binning of ``select_features``,
    which costs tens of milliseconds per feature. Categorical and constant columns score 0.
    """
    frame = as_pandas(X)
    target = np.asarray(y, dtype=float)
    bads, goods = target.sum(), len(target) - target.sum()
    values: dict[str, float] = {}
    for name in frame.columns:
        column = frame[name]
        if is_categorical(column):
            values[str(name)] = 0.0
            continue
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        present = ~np.isnan(numbers)
        if present.sum() < 2 or np.nanmin(numbers) == np.nanmax(numbers) or not bads or not goods:
            values[str(name)] = 0.0
            continue
        edges = np.unique(np.quantile(numbers[present], np.linspace(0, 1, bins + 1)[1:-1]))
        index = np.where(present, np.searchsorted(edges, numbers, side="right"), len(edges) + 1)
        bad = np.bincount(index, weights=target, minlength=len(edges) + 2)
        count = np.bincount(index, minlength=len(edges) + 2)
        used = count > 0
        bad_share = (bad[used] + 0.5) / (bads + 0.5)
        good_share = (count[used] - bad[used] + 0.5) / (goods + 0.5)
        values[str(name)] = float(((bad_share - good_share) * np.log(bad_share / good_share)).sum())
    return pd.Series(values, dtype=float).sort_values(ascending=False)
