"""模型监控 · Model monitoring on the risk officer's portfolio page.

Per registered model in service (champion or challenger): the current book (firms with
outstanding principal in the loan book's latest month) is scored with the model on the latest
feature snapshot and compared with the development rows the model was trained on
(``puhui.models.monitor.book_drift``): score PSI, the most drifted features, and a flag when a
limit is passed. Results are cached per model version, snapshot and book, so the page stays fast.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from puhui.data.lake import Lake
from puhui.errors import PuhuiError
from puhui.features.store import available_dates, load_features
from puhui.models.artifacts import load_evaluation
from puhui.models.monitor import BookDrift, DriftThresholds, book_drift
from puhui.models.registry import ModelRegistry, RegisteredVersion
from puhui.models.training import DEVELOPMENT, PD_COLUMN, SPLIT_COLUMN

MONITORED_STATUSES = ("champion", "challenger")
_cache: dict[tuple[str, ...], ModelMonitor] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ModelMonitor:
    """One model version's row on the page: its drift, or why it could not be measured."""

    name: str
    version: str
    status: str
    as_of: str
    drift: BookDrift | None
    problem: str = ""

    @property
    def flagged(self) -> bool:
        return self.drift is not None and self.drift.flagged


def book_usccs(lake: Lake) -> list[str]:
    """Firms with outstanding principal in the loan book's latest month (empty without a book)."""
    if not {"bank_loan_monthly"} <= set(lake.tables()):
        return []
    with lake.connect() as connection:
        try:
            rows = connection.execute(
                """select distinct uscc from bank_loan_monthly
                where outstanding_principal > 0
                  and month = (select max(month) from bank_loan_monthly)
                order by uscc"""
            ).fetchall()
        except duckdb.Error:
            return []
    return [row[0] for row in rows]


def _measure(
    registry: ModelRegistry,
    entry: RegisteredVersion,
    features_root: Path,
    as_of: date,
    book: list[str],
    thresholds: DriftThresholds,
) -> ModelMonitor:
    row = {"name": entry.name, "version": entry.version, "status": entry.status}
    try:
        model, metadata = registry.load(entry.name, entry.version)
        evaluation = load_evaluation(entry.artifact_dir)
    except PuhuiError as error:
        return ModelMonitor(**row, as_of=str(as_of), drift=None, problem=str(error))
    baseline = evaluation[evaluation[SPLIT_COLUMN] == DEVELOPMENT]
    features = list(metadata.features)
    try:
        current = load_features(features_root, as_of, columns=features, usccs=book).to_pandas()
    except (PuhuiError, pl.exceptions.ColumnNotFoundError) as error:
        return ModelMonitor(
            **row,
            as_of=str(as_of),
            drift=None,
            problem=f"the snapshot lacks the model's features: {str(error)[:200]}",
        )
    scores = model.predict_proba(current[features])[:, 1] if len(current) else []
    drift = book_drift(
        baseline[PD_COLUMN],
        baseline,
        scores,
        current,
        features=features,
        thresholds=thresholds,
    )
    return ModelMonitor(**row, as_of=str(as_of), drift=drift)


def monitor_models(
    registry: ModelRegistry,
    features_root: Path,
    lake: Lake,
    thresholds: DriftThresholds | None = None,
) -> list[ModelMonitor]:
    """One row per champion and challenger, in name then version order."""
    entries = [v for v in registry.versions() if v.status in MONITORED_STATUSES]
    if not entries:
        return []
    dates = available_dates(features_root)
    if not dates:
        return [
            ModelMonitor(v.name, v.version, v.status, "", None, "no feature snapshot to score")
            for v in entries
        ]
    as_of, book = dates[-1], book_usccs(lake)
    if not book:
        return [
            ModelMonitor(v.name, v.version, v.status, str(as_of), None, "no loan book to score")
            for v in entries
        ]
    limits = thresholds or DriftThresholds()
    book_key = hashlib.sha256("\n".join(book).encode()).hexdigest()[:16]
    rows = []
    for entry in entries:
        key = (
            str(features_root),
            entry.name,
            entry.version,
            entry.status,
            str(as_of),
            book_key,
            repr(limits),
        )
        with _lock:
            found = _cache.get(key)
        if found is None:
            found = _measure(registry, entry, features_root, as_of, book, limits)
            with _lock:
                _cache[key] = found
        rows.append(found)
    return rows
