"""The take-up model (营销响应模型): trained and registered with the models' own machinery
(point-in-time dataset, time-ordered split, out-of-time test, registry), and retrained with
the outcomes account managers recorded.

The rows are those of the models' ``propensity`` target (``puhui.models.datasets``): firms
without a loan at the bank at a month end, features as of the next month. Two events can be
learnt, both observable:

- ``applied`` (the default): the firm applies to the bank within 6 months, approved or not.
  Marketing moves the application; whether the bank then lends is decided by P(good) and the
  product rules, which expected value already multiplies in, so this target does not count
  credit quality twice. On the synthetic province it orders latent demand better (rank
  correlation 0.31 against 0.19 for ``loan``; see docs/MARKETING.md).
- ``loan``: a loan is disbursed within 6 months (``labels.propensity_labels`` as is).

Recorded marketing outcomes add rows the lake alone does not show — a prospect contacted who
declined, or applied — as of their list's date; where both exist for a firm and date, the
recorded outcome wins (applied, approved and disbursed count as taking up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from puhui.features.store import load_features
from puhui.features.timing import add_months
from puhui.models.datasets import KEY_COLUMNS, TARGET_COLUMN, TrainingDataset, build_dataset
from puhui.models.errors import TrainingDataError

MODEL_NAME = "propensity"
ROWS_PER_DATE = 4000


@dataclass(frozen=True)
class PropensityTraining:
    name: str
    version: str
    algorithm: str
    event: str
    rows: int
    events: int
    outcome_rows: int
    features: list[str]
    out_of_time: dict[str, float]


TAKE_UP_EVENTS = ("applied", "loan")


def applied_labels(connection: Any, keys: pl.DataFrame, horizon_months: int) -> pl.DataFrame:
    """(uscc, as_of, target): 1 when the firm applied within ``horizon_months`` of ``as_of``."""
    h = int(horizon_months)
    connection.register("take_up_keys", keys.select("uscc", "as_of").to_arrow())
    try:
        frame = connection.sql(
            f"""
            select k.uscc, k.as_of,
                   coalesce(bool_or(a.applied_at >= k.as_of
                                    and a.applied_at < k.as_of + interval {h} month),
                            false)::tinyint as target
            from take_up_keys as k
            left join app_application as a
              on a.uscc = k.uscc and a.applied_at >= k.as_of
             and a.applied_at < k.as_of + interval {h} month
            group by k.uscc, k.as_of
            """
        ).pl()
    finally:
        connection.unregister("take_up_keys")
    return frame.with_columns(pl.col("as_of").cast(pl.Date), pl.col(TARGET_COLUMN).cast(pl.Int8))


def relabel_applied(connection: Any, dataset: TrainingDataset) -> TrainingDataset:
    """The dataset's rows with the ``applied`` event as their target."""
    spec = dataset.target
    labels = applied_labels(connection, dataset.frame, spec.horizon_months)
    frame = (
        dataset.frame.drop(TARGET_COLUMN)
        .join(labels, on=["uscc", "as_of"], how="left")
        .with_columns(pl.col(TARGET_COLUMN).fill_null(0).cast(pl.Int8))
        .select(dataset.frame.columns)
    )
    target = replace(
        spec,
        event=f"the firm applies to the bank within {spec.horizon_months} months (approved "
        "or not); rows as for the loan-based propensity target",
    )
    notes = [*dataset.notes, "take-up event: an application within the window (applied)"]
    return TrainingDataset(
        target, frame, dataset.features, dataset.snapshot_dates, dataset.last_month, notes
    )


def with_outcomes(
    dataset: TrainingDataset, outcomes: pl.DataFrame, features_root: Path
) -> tuple[TrainingDataset, int]:
    """The dataset with recorded outcomes (``uscc``, ``as_of``, ``target``) added; a recorded
    outcome replaces the lake's label for the same firm and date. Returns the rows added."""
    if outcomes.is_empty():
        return dataset, 0
    horizon = dataset.target.horizon_months
    rows = outcomes.select(
        "uscc", pl.col("as_of").cast(pl.Date), pl.col(TARGET_COLUMN).cast(pl.Int8)
    ).unique(["uscc", "as_of"], keep="last")
    parts = []
    for day, keys in rows.group_by("as_of", maintain_order=True):
        snapshot = load_features(
            features_root, day[0], columns=dataset.features, usccs=keys["uscc"].to_list()
        )
        parts.append(keys.join(snapshot, on=["uscc", "as_of"], how="inner"))
    if not parts:
        return dataset, 0
    added = pl.concat(parts, how="diagonal_relaxed").with_columns(
        pl.col("as_of").alias("outcome_from"),
        pl.col("as_of")
        .map_elements(lambda d: add_months(d, horizon), return_dtype=pl.Date)
        .alias("outcome_to"),
    )
    kept = dataset.frame.join(added.select("uscc", "as_of"), on=["uscc", "as_of"], how="anti")
    order = [c for c in KEY_COLUMNS if c in dataset.frame.columns] + dataset.features
    frame = (
        pl.concat(
            [kept, added.select([c for c in order if c in added.columns])], how="diagonal_relaxed"
        )
        .select(order)
        .sort(["as_of", "uscc"])
    )
    notes = [*dataset.notes, f"{added.height:,} rows from recorded marketing outcomes"]
    return (
        TrainingDataset(
            dataset.target,
            frame,
            dataset.features,
            dataset.snapshot_dates,
            dataset.last_month,
            notes,
        ),
        added.height,
    )


def train_propensity(
    registry: Any,
    connection: Any,
    features_root: Path,
    *,
    dates: Sequence[date] | None = None,
    outcomes: pl.DataFrame | None = None,
    algorithm: str = "scorecard",
    max_features: int = 15,
    trained_by: str = "marketing",
    promote: bool = True,
    rows_per_date: int = ROWS_PER_DATE,
    event: str = "applied",
) -> PropensityTraining:
    """Train, register and (by default) promote the take-up model."""
    from puhui.features.catalog import load_feature_catalog
    from puhui.models import workflow
    from puhui.models.training import OUT_OF_TIME

    catalog = load_feature_catalog()
    dataset = build_dataset(
        connection, features_root, MODEL_NAME, dates=dates, max_rows_per_date=rows_per_date
    )
    if event not in TAKE_UP_EVENTS:
        raise TrainingDataError(
            f"take-up event {event!r} is not one of {', '.join(TAKE_UP_EVENTS)}"
        )
    if event == "applied":
        dataset = relabel_applied(connection, dataset)
    added = 0
    if outcomes is not None:
        dataset, added = with_outcomes(dataset, outcomes, features_root)
    prepared = workflow.prepare(dataset, max_features=max_features)
    result = workflow.fit(prepared, algorithm, catalog)
    entry = workflow.register(
        registry, MODEL_NAME, prepared, result, catalog, trained_by=trained_by
    )
    if promote:
        registry.promote(
            MODEL_NAME,
            entry.version,
            actor=trained_by,
            reason="营销响应模型 take-up model for marketing lists",
        )
    summary = dataset.summary()
    return PropensityTraining(
        name=MODEL_NAME,
        version=entry.version,
        algorithm=algorithm,
        event=event,
        rows=summary["count"],
        events=summary["events"],
        outcome_rows=added,
        features=list(result.features),
        out_of_time=dict(result.metrics.get(OUT_OF_TIME, {})),
    )
