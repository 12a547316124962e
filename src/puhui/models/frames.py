"""Accepting polars or pandas frames and 0/1 targets at the modelling layer's edge."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from puhui.models.errors import TrainingDataError


def as_pandas(frame: Any) -> pd.DataFrame:
    """A pandas view of a pandas or polars frame (or a 2-d array with generated names)."""
    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "to_pandas") and hasattr(frame, "columns"):
        return frame.to_pandas()
    array = np.asarray(frame)
    if array.ndim != 2:
        raise TrainingDataError(f"expected a frame or a 2-d array, got shape {array.shape}")
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def binary_target(y: Any, rows: int | None = None) -> np.ndarray:
    """The target as a float array of 0/1, refusing anything else."""
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    target = np.asarray(y, dtype=float)
    if rows is not None and len(target) != rows:
        raise TrainingDataError(f"the target has {len(target)} values but the frame {rows} rows")
    if np.isnan(target).any():
        raise TrainingDataError("the target has missing values; drop immature rows first")
    values = set(np.unique(target).tolist())
    if not values <= {0.0, 1.0}:
        raise TrainingDataError(f"the target must be 0/1, found values {sorted(values)[:5]}")
    return target
