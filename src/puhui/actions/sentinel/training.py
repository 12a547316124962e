"""哨兵模型训练与评估 · observable labels, time-ordered training of the risk models, their
registration, and the evaluation against the simulator's truth (evaluation only).

Labels (what a bank actually learns, and when):

- ``observable_fraud``: within 365 days after the application, the firm, its legal
  representative, the applicant, the phone or the device used was put on a fraud list (神荼
  团伙/冒名, the bank's write-off list), *or* the firm went 90+ days past due at the bureau
  within 6 months of applying (a bust-out, 早期违约). Each label is known only from its
  discovery date; training uses labels discovered before the hold-out begins.
- ``early_default``: 30+ days past due at the bureau within 12 months (credit, not fraud).

``truth_application`` is read only by :func:`truth_by_application`, for the evaluation table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from puhui.actions.sentinel.index import SentinelIndex, hash_phone
from puhui.data.lake import Lake
from puhui.decisions.sentinel.models import (
    RiskModel,
    RiskModelSpec,
    load_model_specs,
    new_model,
)
from puhui.models.metrics import auc

FRAUD_TYPES = ("shell", "data_farming", "identity_theft", "probing")
TARGET_FPR = 0.02


def observable_labels(index: SentinelIndex, frame: pl.DataFrame, known_by: date) -> pl.DataFrame:
    """``application_id, observable_fraud, early_default`` as discoverable by ``known_by``."""
    listings: dict[tuple[str, str], list] = {}
    for entry in index.blacklist.entries:
        if entry.list_name in {"group_shentu", "internal"} and entry.reason != "外部欺诈情报":
            listings.setdefault((entry.subject_type, entry.value), []).append(entry.listed_on)
    apps = index.lake_applications
    fraud = []
    for row in apps.iter_rows(named=True):
        day = row["applied_at"].date()
        firm = index.firms.get(row["uscc"])
        subjects = [
            ("enterprise", row["uscc"]),
            ("person", row.get("applicant_id") or ""),
            ("person", firm.legal_rep if firm else ""),
            ("phone", hash_phone(row.get("phone")) or ""),
            ("device", row.get("device_id") or ""),
        ]
        found = any(
            day < listed <= min(day + timedelta(days=365), known_by)
            for s in subjects
            for listed in listings.get(s, ())
        )
        fraud.append(found)
    labels = pl.DataFrame(
        {"application_id": apps["application_id"], "listed": fraud},
        schema={"application_id": pl.Utf8, "listed": pl.Boolean},
    )
    bureau = index.firm_panel.select("uscc", "month", "ent_max_overdue_days")
    months = frame.select("application_id", "uscc", "feature_month")
    joined = months.join(bureau, on="uscc", how="left").filter(
        (pl.col("month") > pl.col("feature_month"))
        & (pl.col("month") <= pl.lit(known_by - timedelta(days=31)))
    )
    months_after = (pl.col("month").dt.year() - pl.col("feature_month").dt.year()) * 12 + (
        pl.col("month").dt.month() - pl.col("feature_month").dt.month()
    )
    outcome = joined.group_by("application_id").agg(
        bust=((months_after <= 7) & (pl.col("ent_max_overdue_days") >= 90)).any(),
        late=((months_after <= 13) & (pl.col("ent_max_overdue_days") >= 30)).any(),
    )
    return (
        labels.join(outcome, on="application_id", how="left")
        .with_columns(
            observable_fraud=pl.col("listed") | pl.col("bust").fill_null(False),
            early_default=pl.col("late").fill_null(False),
        )
        .select("application_id", "observable_fraud", "early_default")
    )


def truth_by_application(lake: Lake) -> pl.DataFrame:
    """EVALUATION ONLY: the simulator's fraud type per application."""
    return lake.scan("truth_application").select("application_id", "fraud_type").collect()


def holdout_start(frame: pl.DataFrame, months: int = 12) -> date:
    """The hold-out is the last ``months`` months of applications."""
    last: datetime = frame["applied_at"].max()  # type: ignore[assignment]
    year, month = last.year, last.month - months + 1
    while month <= 0:
        year, month = year - 1, month + 12
    return date(year, month, 1)


def matrix(frame: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    return frame.select([pl.col(f).cast(pl.Float64) for f in features]).to_numpy().astype(float)


@dataclass
class TrainedModel:
    spec: RiskModelSpec
    model: RiskModel
    metrics: dict[str, Any]


def train_models(
    frame: pl.DataFrame,
    labels: pl.DataFrame,
    split: date,
    specs: Sequence[RiskModelSpec] = (),
    matured: pl.DataFrame | None = None,
) -> list[TrainedModel]:
    """Fit every model on development rows (before ``split``) with the labels known then;
    the hold-out metric uses ``matured`` labels (as known at the end of the data)."""
    specs = specs or load_model_specs()
    data = frame.join(labels, on="application_id", how="left")
    cut = datetime(split.year, split.month, split.day, tzinfo=UTC)
    development = data.filter(pl.col("applied_at") < cut)
    holdout = frame.join(
        matured if matured is not None else labels, on="application_id", how="left"
    ).filter(pl.col("applied_at") >= cut)
    trained = []
    for spec in specs:
        X = matrix(development, spec.features)
        if spec.label == "none":
            y = np.zeros(len(X), dtype=int)
            model = new_model(spec).fit(X, None)
        else:
            y = development[spec.label].fill_null(False).to_numpy().astype(int)
            if y.sum() < 2:  # too few events: fall back to an anomaly view of the same family
                y = np.zeros(len(X), dtype=int)
                y[: min(2, len(y))] = 1
            model = new_model(spec).fit(X, y)
        metrics: dict[str, Any] = {"development_rows": len(X)}
        label = spec.label if spec.label != "none" else "observable_fraud"
        for name, part in (("development", development), ("holdout", holdout)):
            scores = model.score_many(matrix(part, spec.features))
            target = part[label].fill_null(False).to_numpy().astype(int)
            metrics[f"{name}_auc_{label}"] = (
                float(auc(target, scores)) if 0 < target.sum() < len(target) else None
            )
            metrics[f"{name}_events"] = int(target.sum())
        trained.append(TrainedModel(spec, model, metrics))
    return trained


def score_models(frame: pl.DataFrame, models: Sequence[TrainedModel]) -> pl.DataFrame:
    return frame.with_columns(
        [
            pl.Series(m.spec.feature_name, m.model.score_many(matrix(frame, m.spec.features)))
            for m in models
        ]
    )


@dataclass(frozen=True)
class RecallRow:
    fraud_type: str
    applications: int
    caught: int

    @property
    def recall(self) -> float:
        return self.caught / self.applications if self.applications else float("nan")


def recall_table(flagged: np.ndarray, fraud_type: Sequence[str]) -> tuple[list[RecallRow], float]:
    """Recall per fraud type and the false-positive rate among genuine applications."""
    kinds = np.asarray(fraud_type)
    rows = []
    for kind in (*FRAUD_TYPES, "all fraud"):
        mask = kinds != "none" if kind == "all fraud" else kinds == kind
        rows.append(RecallRow(kind, int(mask.sum()), int(flagged[mask].sum())))
    genuine = kinds == "none"
    fpr = float(flagged[genuine].mean()) if genuine.any() else float("nan")
    return rows, fpr


def threshold_at_fpr(scores: np.ndarray, negatives: np.ndarray, fpr: float = TARGET_FPR) -> float:
    """The smallest score that flags at most ``fpr`` of the negatives."""
    values = np.sort(scores[negatives])[::-1]
    k = int(np.floor(fpr * len(values)))
    return float(values[k]) + 1e-9 if k < len(values) else float("-inf")


def metrics_for_registry(trained: TrainedModel, extra: Mapping[str, Any]) -> dict[str, Any]:
    return {**trained.metrics, **extra}
