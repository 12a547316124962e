"""Points scaling (分数刻度): log-odds to a score a credit committee reads.

``base_score`` points at odds of ``base_odds`` good to one bad; every ``pdo`` points more
doubles the odds. Higher scores are safer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class PointsScaling:
    """Score = offset + factor · ln(odds of good); validated on construction."""

    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    def __post_init__(self) -> None:
        if self.pdo <= 0:
            raise ValueError(f"pdo must be positive, got {self.pdo}")
        if self.base_odds <= 0:
            raise ValueError(f"base_odds must be positive, got {self.base_odds}")

    @property
    def factor(self) -> float:
        """Points per unit of log-odds."""
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        """Score at even odds."""
        return self.base_score - self.factor * math.log(self.base_odds)

    def score_from_bad_log_odds(self, log_odds_bad: ArrayLike) -> np.ndarray:
        """Score for a log-odds of bad (the logit of PD)."""
        return self.offset - self.factor * np.asarray(log_odds_bad, dtype=float)

    def bad_log_odds_from_score(self, score: ArrayLike) -> np.ndarray:
        """The inverse: logit of PD for a score."""
        return (self.offset - np.asarray(score, dtype=float)) / self.factor

    def probability_from_score(self, score: ArrayLike) -> np.ndarray:
        """PD implied by a score."""
        return 1.0 / (1.0 + np.exp(-self.bad_log_odds_from_score(score)))
