"""Persistence of today's conditions for the daily scan (持续性), from the scans kept on disk.

The fitted weights give points to a condition in proportion to how many of the looks 30, 60
and 90 days back saw it too (``decisions.alarm.fitting.persistence`` defines it on histories).
The daily scan reads, for each look, the latest finished scan at most 14 days before it (its
``evidence.parquet``, one row per borrower and condition): three small files, not 90.
A look without a scan counts as not fired, as in learning.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl

from puhui.decisions.alarm.fitting import CHECKPOINT_TOLERANCE_DAYS, checkpoints

SCHEMA = {"uscc": pl.String, "condition": pl.String, "share": pl.Float64}


def _scan_near(scans_dir: Path, day: date) -> Path | None:
    for back in range(CHECKPOINT_TOLERANCE_DAYS + 1):
        folder = scans_dir / (day - timedelta(days=back)).isoformat()
        if (folder / "evidence.parquet").exists():
            return folder / "evidence.parquet"
    return None


def earlier_shares(scans_dir: Path, day: date, today: pl.DataFrame, days: int) -> pl.DataFrame:
    """(uscc, condition, share) for today's (uscc, condition) rows in ``today``."""
    backs = checkpoints(days)
    keys = today.select("uscc", "condition").unique()
    found = []
    for back in backs:
        path = _scan_near(scans_dir, day - timedelta(days=back))
        if path is not None:
            found.append(pl.read_parquet(path, columns=["uscc", "condition"]).unique())
    if not found or not backs:
        return pl.DataFrame(schema=SCHEMA)
    hits = pl.concat(found).join(keys, on=["uscc", "condition"], how="semi")
    return (
        hits.group_by("uscc", "condition").agg((pl.len() / len(backs)).alias("share")).cast(SCHEMA)  # type: ignore[arg-type]
    )
