"""The early-warning PD (预警PD): behaviour models for 3, 6 and 12 months, trained and registered
with the model machinery (point-in-time datasets, time-ordered split, an out-of-time test on
months the model never saw), and scored from the feature snapshot as of the scan month.

Training uses only snapshots whose outcome window ends by ``train_end``, so an evaluation on
later months is honest. A borrower without a snapshot row, or a horizon without a champion,
has a missing PD (null), never a PD of zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from puhui.features.store import available_dates, load_features
from puhui.features.timing import add_months, month_start
from puhui.models.errors import RegistryError
from puhui.models.registry import ModelRegistry

HORIZONS = (3, 6, 12)
MODEL_NAMES = {h: f"ew_pd_{h}m" for h in HORIZONS}
PD_COLUMNS = {h: f"pd_{h}m" for h in HORIZONS}


@dataclass(frozen=True)
class TrainedPD:
    horizon: int
    name: str
    version: str
    rows: int
    events: int
    auc_out_of_time: float | None
    snapshots: tuple[date, ...]


def training_dates(features_root: Path, horizon: int, train_end: date) -> list[date]:
    """Snapshots whose whole outcome window (h months from the snapshot) ends by ``train_end``."""
    return [d for d in available_dates(features_root) if add_months(d, horizon) <= train_end]


def train_ew_pd(
    connection: Any,
    features_root: Path,
    registry: ModelRegistry,
    *,
    train_end: date,
    horizons: Sequence[int] = HORIZONS,
    algorithm: str = "scorecard",
    trained_by: str = "alarm",
) -> list[TrainedPD]:
    """Train, register and promote one champion per horizon; horizons without enough
    snapshots (three as-of dates at least) are skipped and reported by their absence."""
    from puhui.features.catalog import load_feature_catalog
    from puhui.models import workflow
    from puhui.models.datasets import build_dataset
    from puhui.models.training import OUT_OF_TIME

    catalog = load_feature_catalog()
    out = []
    for horizon in horizons:
        dates = training_dates(features_root, horizon, train_end)
        if len(dates) < 3:
            continue
        dataset = build_dataset(connection, features_root, f"behaviour_pd_{horizon}m", dates=dates)
        prepared = workflow.prepare(dataset, max_features=20)
        result = workflow.fit(prepared, algorithm, catalog)
        name = MODEL_NAMES[horizon]
        entry = workflow.register(registry, name, prepared, result, catalog, trained_by=trained_by)
        registry.promote(name, entry.version, actor=trained_by, reason="预警PD early-warning PD")
        summary = dataset.summary()
        auc = result.metrics.get(OUT_OF_TIME, {}).get("auc")
        out.append(
            TrainedPD(
                horizon,
                name,
                entry.version,
                summary["count"],
                summary["events"],
                None if auc is None else float(auc),
                tuple(dates),
            )
        )
    return out


class EarlyWarningPD:
    """Scores borrowers with the champions ``ew_pd_{3,6,12}m`` from the month's snapshot."""

    def __init__(self, registry: ModelRegistry | None, features_root: Path) -> None:
        self.features_root = features_root
        self.models: dict[int, tuple[Any, Any]] = {}
        for horizon, name in MODEL_NAMES.items():
            if registry is None:
                continue
            try:
                self.models[horizon] = registry.load_champion(name)
            except RegistryError:
                continue

    def snapshot_date(self, as_of: date) -> date:
        return month_start(as_of)

    def score(self, as_of: date, usccs: Sequence[str]) -> tuple[pl.DataFrame, list[str]]:
        """(uscc, pd_3m, pd_6m, pd_12m) and what was missing (no model, no snapshot)."""
        frame = pl.DataFrame({"uscc": list(usccs)}, schema={"uscc": pl.String})
        missing = [f"model {MODEL_NAMES[h]}" for h in HORIZONS if h not in self.models]
        day = self.snapshot_date(as_of)
        if not self.models or day not in available_dates(self.features_root):
            if self.models:
                missing.append(f"feature snapshot {day}")
            return frame.with_columns(
                [pl.lit(None, dtype=pl.Float64).alias(c) for c in PD_COLUMNS.values()]
            ), missing
        needed = sorted({f for model, meta in self.models.values() for f in meta.features})
        features = load_features(self.features_root, day, columns=needed, usccs=list(usccs))
        data = features.to_pandas()
        for horizon, column in PD_COLUMNS.items():
            if horizon in self.models and len(data):
                model, meta = self.models[horizon]
                values = model.predict_proba(data[list(meta.features)])[:, 1]
                scored = pl.DataFrame({"uscc": features["uscc"], column: values})
            else:
                scored = pl.DataFrame(schema={"uscc": pl.String, column: pl.Float64})
            frame = frame.join(scored, on="uscc", how="left")
        return frame, missing
