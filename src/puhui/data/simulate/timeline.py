"""Months of the simulated window, as integer indices, and the dates the sources print.

Internally month ``t`` runs 0..T-1 (negative before the window); dates are stored as days since
1970-01-01 (Arrow ``date32``) and timestamps as microseconds (Arrow ``timestamp[us, UTC]``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

MICROS_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class Timeline:
    """The window of ``months`` months ending with ``end_month`` (``YYYY-MM``)."""

    end_month: str
    months: int

    @cached_property
    def start(self) -> np.datetime64:
        return np.datetime64(self.end_month, "M") - (self.months - 1)

    def month_start_days(self, t: np.ndarray | int) -> np.ndarray:
        """Day number of the first day of month ``t`` (any integer, also outside the window)."""
        return (self.start + np.asarray(t)).astype("datetime64[D]").astype(np.int64)

    def month_end_days(self, t: np.ndarray | int) -> np.ndarray:
        return self.month_start_days(np.asarray(t) + 1) - 1

    @cached_property
    def starts(self) -> np.ndarray:
        """First day of every window month (int64 day numbers)."""
        return self.month_start_days(np.arange(self.months))

    @cached_property
    def ends(self) -> np.ndarray:
        return self.month_end_days(np.arange(self.months))

    @cached_property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts + 1

    @cached_property
    def calendar_month(self) -> np.ndarray:
        """1..12 for every window month (seasonality, quarterly tax)."""
        return ((self.start + np.arange(self.months)).astype(np.int64) % 12) + 1

    @cached_property
    def year(self) -> np.ndarray:
        return (self.start + np.arange(self.months)).astype("datetime64[Y]").astype(np.int64) + 1970

    @property
    def last_day(self) -> int:
        return int(self.ends[-1])

    def month_of_day(self, days: np.ndarray) -> np.ndarray:
        """Window month index of day numbers (negative before the window)."""
        months = np.asarray(days).astype("datetime64[D]").astype("datetime64[M]")
        return (months - self.start).astype(np.int64)

    def day_in_month(self, t: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        """A day within month ``t``, ``fraction`` in [0, 1) of the way through it."""
        t = np.asarray(t)
        start = self.month_start_days(t)
        length = self.month_start_days(t + 1) - start
        return start + np.minimum((np.asarray(fraction) * length).astype(np.int64), length - 1)

    def year_end_day(self, year: np.ndarray) -> np.ndarray:
        """Day number of 31 December of ``year``."""
        return (np.asarray(year) - 1970 + 1).astype("datetime64[Y]").astype("datetime64[D]").astype(
            np.int64
        ) - 1


def stream(seed: int, name: str, *keys: int) -> np.random.Generator:
    """An independent random stream per (seed, purpose, chunk), so stages never share draws.

    Naming streams keeps a run reproducible when one stage changes how many numbers it draws.
    """
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(name.encode()), *keys]))
    )
