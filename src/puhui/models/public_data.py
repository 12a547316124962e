"""Loaders for the public datasets the benchmarks prove the models on (公开数据集).

German credit (UCI 144, consumer loans, 1000 rows, 30% bad) and Polish companies bankruptcy
(UCI 365, financial ratios, years 1 and 5). Both return (features, target with 1 = bad).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.io import arff

from puhui.models.errors import TrainingDataError

DEFAULT_DATA_ROOT = Path("/work/shared/data")


@dataclass(frozen=True)
class PublicDataset:
    """A labelled public dataset ready for the same training code as the platform's."""

    name: str
    X: pd.DataFrame
    y: np.ndarray
    monotone: dict[str, int]


def load_german_credit(root: Path = DEFAULT_DATA_ROOT) -> PublicDataset:
    """Statlog German credit, decoded labels; bad = ``creditability == 'bad'``."""
    path = Path(root) / "german_credit" / "germancredit_decoded.csv"
    if not path.is_file():
        raise TrainingDataError(f"German credit data not found at {path}")
    frame = pd.read_csv(path)
    y = (frame.pop("creditability") == "bad").astype(int).to_numpy()
    # The business direction is plain for these two: longer loans and larger amounts are riskier.
    return PublicDataset("german_credit", frame, y, {"duration_in_month": 1, "credit_amount": 1})


def load_polish_bankruptcy(year: int, root: Path = DEFAULT_DATA_ROOT) -> PublicDataset:
    """Polish bankruptcy ratios for forecasting year ``year`` (1 or 5 present); bad = class 1."""
    path = Path(root) / "polish_bankruptcy" / f"{year}year.arff"
    if not path.is_file():
        raise TrainingDataError(f"Polish bankruptcy file not found at {path}")
    data, _ = arff.loadarff(str(path))
    frame = pd.DataFrame(data)
    y = (frame.pop("class") == b"1").astype(int).to_numpy()
    return PublicDataset(f"polish_y{year}", frame.astype(float), y, {})
