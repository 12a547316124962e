"""The joint model's scores as the bank's own decisions read them: PD by USCC, today's firms.

``BankService.score`` writes ``<bank dir>/scores/joint-<model job>.parquet`` with every row of the
intersection and its role (train, holdout, score). Marketing and origination read only the rows
scored for today (role ``score``); a firm the platform does not know simply has no joint PD and
falls back to the bank's own model. The platform never sees these numbers.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from puhui.federated.linear import DATE_SEPARATOR

SCORES_GLOB = "joint-*.parquet"


def latest_scores_file(bank_dir: Path) -> Path | None:
    """The newest joint scores file in the bank node's folder, or None before any scoring."""
    files = sorted((Path(bank_dir) / "scores").glob(SCORES_GLOB), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


def load_joint_scores(bank_dir: Path, as_of: date | None = None) -> pl.DataFrame:
    """``uscc``, ``as_of``, ``joint_pd``, ``model_job`` for the latest scoring date (may be empty).

    Rows scored for today are preferred; a file from a random-split job (no dates in the ids)
    gives every row, keyed by the id itself. With ``as_of``, only scores for that date count:
    scores for another date describe other states of the firms.
    """
    path = latest_scores_file(bank_dir)
    empty = pl.DataFrame(
        schema={"uscc": pl.Utf8, "as_of": pl.Date, "joint_pd": pl.Float64, "model_job": pl.Utf8}
    )
    if path is None:
        return empty
    frame = pl.read_parquet(path)
    if "role" in frame.columns and (frame["role"] == "score").any():
        frame = frame.filter(pl.col("role") == "score")
    parts = pl.col("id").str.split_exact(DATE_SEPARATOR, 1)
    frame = frame.with_columns(
        parts.struct.field("field_0").alias("uscc"),
        parts.struct.field("field_1").str.to_date(strict=False).alias("as_of"),
    )
    day = as_of if as_of is not None else frame["as_of"].max()
    if day is not None:
        frame = frame.filter(pl.col("as_of") == day)
    model_job = path.stem.removeprefix("joint-")
    return frame.select(
        "uscc", "as_of", pl.col("pd").alias("joint_pd"), pl.lit(model_job).alias("model_job")
    ).unique("uscc", keep="first")
