"""Small synthetic provinces for feature tests, and lakes cut back to a point in time."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from puhui.data.ingest import ingest_directory
from puhui.data.lake import Lake
from puhui.data.schema import load_catalog
from puhui.data.simulate import build_config, simulate_province
from puhui.features.timing import anchor_month, observation_cutoff

# Entity tables whose rows start at a date: a firm founded after T did not exist at T.
ENTITY_START = {"reg_enterprise": "founded_on", "bank_customer": "opened_on"}


def simulate(folder: Path, *, enterprises: int, months: int, seed: int, end_month: str) -> Path:
    """Simulate a province into ``folder/incoming`` and return that folder."""
    incoming = folder / "incoming"
    config = build_config(enterprises=enterprises, months=months, seed=seed, end_month=end_month)
    simulate_province(config, incoming)
    return incoming


def ingest(incoming: Path, lake_root: Path) -> Lake:
    lake = Lake(lake_root)
    result = ingest_directory(lake, incoming, rejections_dir=lake_root.parent / "rejections")
    assert result.ok, [(r.table, r.status) for r in result.rejected]
    return lake


def cut_to_observable(incoming: Path, out: Path, as_of: date, lags: dict[str, int]) -> Path:
    """Copy a province keeping only rows a bank could observe before ``as_of``.

    Monthly rows need their month closed and the source's lag passed; events need their date plus
    the lag before ``as_of``; firms and customers must have started before it, and a firm
    struck off (or moved out) later shows as active, as the registry did then.
    """
    catalog = load_catalog()
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(incoming.glob("*.parquet")):
        spec = catalog.table(path.stem)
        frame = pl.read_parquet(path)
        lag = lags.get(spec.name, 0)
        if spec.grain == "monthly":
            frame = frame.filter(pl.col("month") <= anchor_month(as_of, lag))
        elif spec.grain == "event":
            column = pl.col(spec.partition)
            if spec.field(spec.partition).type == "timestamp":
                column = column.dt.date()
            frame = frame.filter(column < observation_cutoff(as_of, lag))
        elif spec.name in ENTITY_START:
            frame = frame.filter(pl.col(ENTITY_START[spec.name]) < as_of)
        if spec.name == "reg_enterprise":  # the registry as it stood: later strike-offs undone
            later = pl.col("status_since") >= observation_cutoff(as_of, lag)
            frame = frame.with_columns(
                pl.when(later).then(pl.lit("active")).otherwise(pl.col("status")).alias("status"),
                pl.when(later).then(None).otherwise(pl.col("status_since")).alias("status_since"),
            )
        frame.write_parquet(out / path.name)
    return out
