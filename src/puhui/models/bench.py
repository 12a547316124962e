"""The public-data benchmark (公开数据基准): the platform's own estimators on German credit and
Polish bankruptcy, by stratified k-fold CV and a stratified hold-out, next to published AUCs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from puhui.models import metrics
from puhui.models.artifacts import make_model
from puhui.models.public_data import (
    DEFAULT_DATA_ROOT,
    PublicDataset,
    load_german_credit,
    load_polish_bankruptcy,
)

# Expert Systems 41(9), 2024, doi:10.1111/exsy.13599: hold-out AUC (see the dataset README).
PUBLISHED = {
    "polish_y1": {"CatBoost": 0.958, "LightGBM": 0.960, "XGBoost": 0.956, "best ensemble": 0.964},
    "polish_y5": {"CatBoost": 0.961, "LightGBM": 0.958, "XGBoost": 0.961, "best ensemble": 0.963},
}


def model_params(dataset: PublicDataset) -> dict[str, tuple[str, dict[str, Any]]]:
    """The three contenders with the settings used for ``dataset``."""
    ratios = dataset.name.startswith("polish")
    scorecard = (
        {
            "max_n_bins": 8,
            "min_bin_size": 0.03,
            "monotonic_trend": "auto_heuristic",
            "min_iv": 0.02,
            "C": 0.5,
        }
        if ratios
        else {"max_n_bins": 6, "min_bin_size": 0.05, "monotonic_trend": "auto_asc_desc"}
    )
    return {
        "scorecard": ("scorecard", scorecard),
        "lightgbm": ("lightgbm", {"monotone": dataset.monotone}),
        "ebm": ("ebm", {"monotone": dataset.monotone, "interactions": 10 if ratios else 5}),
    }


@dataclass
class BenchRow:
    """One model on one dataset."""

    dataset: str
    model: str
    holdout_auc: float | None = None
    cv_aucs: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def cv_mean(self) -> float | None:
        return float(np.mean(self.cv_aucs)) if self.cv_aucs else None

    @property
    def cv_median(self) -> float | None:
        return float(np.median(self.cv_aucs)) if self.cv_aucs else None


def _fit_auc(
    kind: str, params: dict[str, Any], dataset: PublicDataset, train: np.ndarray, test: np.ndarray
) -> float:
    model = make_model(kind, params)
    model.fit(dataset.X.iloc[train], dataset.y[train])  # type: ignore[attr-defined]
    return metrics.auc(dataset.y[test], model.predict_proba(dataset.X.iloc[test])[:, 1])


def run_dataset(
    dataset: PublicDataset,
    folds: int,
    holdout: float | None,
    seed: int = 0,
    models: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    """CV and/or hold-out AUC of each contender on one dataset."""
    rows = []
    for label, (kind, params) in model_params(dataset).items():
        if models and label not in models:
            continue
        started = time.perf_counter()
        row = BenchRow(dataset.name, label)
        index = np.arange(len(dataset.y))
        if holdout:
            train, test = train_test_split(
                index, test_size=holdout, stratify=dataset.y, random_state=seed
            )
            row.holdout_auc = _fit_auc(kind, params, dataset, train, test)
        if folds:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            row.cv_aucs = [
                _fit_auc(kind, params, dataset, tr, te)
                for tr, te in splitter.split(index, dataset.y)
            ]
        row.seconds = time.perf_counter() - started
        if progress:
            progress(
                f"{dataset.name} {label}: hold-out {row.holdout_auc} cv {row.cv_mean} "
                f"({row.seconds:.0f}s)"
            )
        rows.append(row)
    return rows


def run_public_benchmark(
    root: Path = DEFAULT_DATA_ROOT,
    folds: int = 5,
    seed: int = 0,
    models: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    """German credit by ``folds``-fold CV; Polish years 1 and 5 by 30% hold-out and CV."""
    rows = run_dataset(load_german_credit(root), folds, None, seed, models, progress)
    for year in (1, 5):
        rows += run_dataset(load_polish_bankruptcy(year, root), folds, 0.3, seed, models, progress)
    return rows


def format_table(rows: Sequence[BenchRow]) -> str:
    """A Markdown table of the results with the published figures and the champion's gap."""

    def f(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    lines = [
        "| dataset | model | hold-out AUC | CV AUC mean | CV AUC median | CV folds "
        "| published hold-out | seconds |",
        "|---|---|---:|---:|---:|---|---|---:|",
    ]
    for row in rows:
        published = (
            ", ".join(f"{k} {v:.3f}" for k, v in PUBLISHED.get(row.dataset, {}).items())
            if row.model == "lightgbm"
            else ""
        )
        folds = " ".join(f"{a:.3f}" for a in row.cv_aucs)
        lines.append(
            f"| {row.dataset} | {row.model} | {f(row.holdout_auc)} | {f(row.cv_mean)} "
            f"| {f(row.cv_median)} | {folds} | {published} | {row.seconds:.0f} |"
        )
    lines.append("")
    lines.append(
        "| dataset | gap LightGBM − EBM (CV mean) | gap LightGBM − scorecard (CV mean) "
        "| EBM within 0.03? |"
    )
    lines.append("|---|---:|---:|---|")
    by = {(r.dataset, r.model): r for r in rows}
    for dataset in dict.fromkeys(r.dataset for r in rows):
        gbm, ebm, card = (by.get((dataset, m)) for m in ("lightgbm", "ebm", "scorecard"))
        if gbm is None or gbm.cv_mean is None:
            continue
        gap_ebm = gbm.cv_mean - ebm.cv_mean if ebm and ebm.cv_mean is not None else None
        gap_card = gbm.cv_mean - card.cv_mean if card and card.cv_mean is not None else None
        verdict = (
            "–"
            if gap_ebm is None
            else ("yes" if gap_ebm <= 0.03 else f"no, by {gap_ebm - 0.03:.3f}")
        )
        lines.append(f"| {dataset} | {f(gap_ebm)} | {f(gap_card)} | {verdict} |")
    return "\n".join(lines)
