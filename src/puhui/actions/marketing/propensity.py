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

from puhui.actions.marketing.takeup_model import (  # re-exported: the CLI and tests use them
    DEFAULT_ALGORITHM,
    DEFAULT_FEATURE_SET,
    fit_propensity,
    screened_rows,
)
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
    feature_set: str
    features: list[str]
    out_of_time: dict[str, float]


TAKE_UP_EVENTS = ("applied", "sought", "loan")

# What each event counts within the window after ``as_of`` (the ``loan`` event is the models'
# own ``propensity`` target and needs no query here).
_EVENT_SQL = {
    "applied": """
        select uscc, applied_at as happened_at from app_application
    """,
    "sought": """
        select uscc, applied_at as happened_at from app_application
        union all
        select uscc, queried_at as happened_at from bureau_enterprise_query
        where reason = 'loan_approval'
    """,
}
_EVENT_TEXT = {
    "applied": "the firm applies to the bank within {h} months (approved or not)",
    "sought": "the firm seeks credit within {h} months: it applies to the bank or a lender "
    "queries its credit report for a loan approval",
}


def event_labels(
    connection: Any, keys: pl.DataFrame, horizon_months: int, event: str = "applied"
) -> pl.DataFrame:
    """(uscc, as_of, target): 1 when ``event`` happened within ``horizon_months`` of ``as_of``
    (``applied``: an application to the bank; ``sought``: that or a lender's loan-approval
    query of the firm's credit report, i.e. the firm shopping for credit anywhere)."""
    if event not in _EVENT_SQL:
        raise TrainingDataError(f"take-up event {event!r} is not one of {', '.join(_EVENT_SQL)}")
    h = int(horizon_months)
    connection.register("take_up_keys", keys.select("uscc", "as_of").to_arrow())
    try:
        frame = connection.sql(
            f"""
            with happened as ({_EVENT_SQL[event]})
            select k.uscc, k.as_of, (count(e.uscc) > 0)::tinyint as target
            from take_up_keys as k
            left join happened as e
              on e.uscc = k.uscc and e.happened_at >= k.as_of
             and e.happened_at < k.as_of + interval {h} month
            group by k.uscc, k.as_of
            """
        ).pl()
    finally:
        connection.unregister("take_up_keys")
    return frame.with_columns(pl.col("as_of").cast(pl.Date), pl.col(TARGET_COLUMN).cast(pl.Int8))


def applied_labels(connection: Any, keys: pl.DataFrame, horizon_months: int) -> pl.DataFrame:
    """(uscc, as_of, target): 1 when the firm applied within ``horizon_months`` of ``as_of``."""
    return event_labels(connection, keys, horizon_months, "applied")


def relabel(connection: Any, dataset: TrainingDataset, event: str) -> TrainingDataset:
    """The dataset's rows with ``event`` (``applied`` or ``sought``) as their target."""
    spec = dataset.target
    labels = event_labels(connection, dataset.frame, spec.horizon_months, event)
    frame = (
        dataset.frame.drop(TARGET_COLUMN)
        .join(labels, on=["uscc", "as_of"], how="left")
        .with_columns(pl.col(TARGET_COLUMN).fill_null(0).cast(pl.Int8))
        .select(dataset.frame.columns)
    )
    target = replace(
        spec,
        event=_EVENT_TEXT[event].format(h=spec.horizon_months)
        + "; rows as for the loan-based propensity target",
    )
    notes = [*dataset.notes, f"take-up event: {event} within the window"]
    return TrainingDataset(
        target, frame, dataset.features, dataset.snapshot_dates, dataset.last_month, notes
    )


def relabel_applied(connection: Any, dataset: TrainingDataset) -> TrainingDataset:
    """The dataset's rows with the ``applied`` event as their target."""
    return relabel(connection, dataset, "applied")


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


def propensity_dataset(
    connection: Any,
    features_root: Path,
    *,
    dates: Sequence[date] | None = None,
    event: str = "applied",
    rows_per_date: int | None = ROWS_PER_DATE,
) -> TrainingDataset:
    """The take-up rows (point in time) with ``event`` as the target."""
    if event not in TAKE_UP_EVENTS:
        raise TrainingDataError(
            f"take-up event {event!r} is not one of {', '.join(TAKE_UP_EVENTS)}"
        )
    dataset = build_dataset(
        connection, features_root, MODEL_NAME, dates=dates, max_rows_per_date=rows_per_date
    )
    if event != "loan":
        dataset = relabel(connection, dataset, event)
    return dataset


def train_propensity(
    registry: Any,
    connection: Any,
    features_root: Path,
    *,
    dates: Sequence[date] | None = None,
    outcomes: pl.DataFrame | None = None,
    algorithm: str = DEFAULT_ALGORITHM,
    max_features: int = 15,
    trained_by: str = "marketing",
    promote: bool = True,
    rows_per_date: int = ROWS_PER_DATE,
    event: str = "applied",
    feature_set: str = DEFAULT_FEATURE_SET,
    screen: Any | None = None,
) -> PropensityTraining:
    """Train, register and (by default) promote the take-up model; with ``screen`` (the
    marketing configuration) only on rows that pass its admission pre-screen."""
    from puhui.features.catalog import load_feature_catalog
    from puhui.models import workflow
    from puhui.models.training import OUT_OF_TIME

    catalog = load_feature_catalog()
    dataset = propensity_dataset(
        connection, features_root, dates=dates, event=event, rows_per_date=rows_per_date
    )
    if screen is not None:
        dataset = screened_rows(dataset, screen)
    added = 0
    if outcomes is not None:
        dataset, added = with_outcomes(dataset, outcomes, features_root)
    fitted = fit_propensity(
        dataset, catalog, algorithm=algorithm, feature_set=feature_set, max_features=max_features
    )
    entry = workflow.register(
        registry, MODEL_NAME, fitted.prepared, fitted.result, catalog, trained_by=trained_by
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
        feature_set=feature_set,
        features=fitted.features,
        out_of_time=dict(fitted.result.metrics.get(OUT_OF_TIME, {})),
    )
