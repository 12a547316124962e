"""The validation report's numbers (验证报告数据): one pure function from a model and its
evaluation frame to every figure the HTML shows, also written as JSON.

*Development* rows are those the model was fitted on; *recent* rows are the out-of-time test
(or validation when there is none). PSI compares recent against development.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from puhui.models import metrics
from puhui.models.artifacts import CreditModel, ModelMetadata
from puhui.models.binning import is_categorical
from puhui.models.selection import stability
from puhui.models.training import (
    DEVELOPMENT,
    OUT_OF_TIME,
    PD_COLUMN,
    SPLIT_COLUMN,
    TARGET_COLUMN,
    VALIDATION,
)


def recent_split(evaluation: pd.DataFrame) -> str | None:
    """The most recent split present besides development."""
    present = set(evaluation[SPLIT_COLUMN].unique())
    for name in (OUT_OF_TIME, VALIDATION):
        if name in present:
            return name
    return None


def model_tables(model: CreditModel) -> dict[str, list[dict[str, Any]]]:
    """The readable tables of a model: scorecard points, additive points, or none for GBM."""
    if hasattr(model, "table") and callable(model.table):
        return {"scorecard": _records(model.table())}
    if hasattr(model, "table_"):
        return {"points": _records(model.table_.points_table())}
    return {}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def validation_numbers(
    model: CreditModel, metadata: ModelMetadata, evaluation: pd.DataFrame
) -> dict[str, Any]:
    """Every number of the validation report, JSON-ready."""
    splits: dict[str, Any] = {}
    for name in (DEVELOPMENT, VALIDATION, OUT_OF_TIME):
        rows = evaluation[evaluation[SPLIT_COLUMN] == name]
        if rows.empty:
            continue
        y, p = rows[TARGET_COLUMN].to_numpy(), rows[PD_COLUMN].to_numpy()
        splits[name] = {
            "count": len(rows),
            "bad_rate": float(y.mean()),
            "auc": metrics.auc(y, p),
            "gini": metrics.gini(y, p),
            "ks": metrics.ks(y, p),
            "gains": [asdict(r) for r in metrics.gains_table(y, p)],
            "calibration": [asdict(r) for r in metrics.calibration_table(y, p)],
            "score_histogram": _histogram(p),
        }
    development = evaluation[evaluation[SPLIT_COLUMN] == DEVELOPMENT]
    recent_name = recent_split(evaluation)
    stability_numbers: dict[str, Any] = {"recent_split": recent_name}
    features = [f for f in metadata.features if f in evaluation.columns]
    if recent_name is not None:
        recent = evaluation[evaluation[SPLIT_COLUMN] == recent_name]
        stability_numbers["score_psi"] = metrics.psi(development[PD_COLUMN], recent[PD_COLUMN])
        stability_numbers["feature_psi"] = stability(development, recent, features).to_dict()
    iv = _iv(model, development, features)
    return {
        "model": {
            "name": metadata.name,
            "version": metadata.version,
            "kind": metadata.kind,
            "target": metadata.target,
            "trained_by": metadata.trained_by,
            "trained_at": metadata.trained_at.isoformat(),
            "data_window": [
                metadata.data_window_start.isoformat() if metadata.data_window_start else None,
                metadata.data_window_end.isoformat() if metadata.data_window_end else None,
            ],
            "features": metadata.features,
            "descriptions": {
                name: list(metadata.descriptions[name])
                for name in metadata.features
                if name in metadata.descriptions
            },
            "training": metadata.training,
        },
        "splits": splits,
        "stability": stability_numbers,
        "iv": iv,
        "tables": model_tables(model),
    }


def _histogram(probability: np.ndarray, bins: int = 20) -> dict[str, list[float]]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _ = np.histogram(np.clip(probability, 0, 1), bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def _iv(model: CreditModel, development: pd.DataFrame, features: list[str]) -> dict[str, float]:
    """IV per feature: the scorecard's own, else from binning the development rows."""
    if hasattr(model, "iv_"):
        return {k: float(v) for k, v in sorted(model.iv_.items(), key=lambda kv: -kv[1])}
    if development.empty or not features:
        return {}
    from puhui.models.selection import information_values

    usable = [f for f in features if is_categorical(development[f]) or development[f].notna().any()]
    values = information_values(development[usable], development[TARGET_COLUMN])
    return {str(k): float(v) for k, v in values.items()}
