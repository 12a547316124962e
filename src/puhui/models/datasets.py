"""Training datasets from the feature store (建模样本): outcomes from the lake joined point in time
to the monthly feature snapshots.

Every row pairs a feature snapshot *as of* a first of month D (built only from data observable
before D) with an outcome observed *from* D on, so nothing a model learns from was unknown when
it would have scored. Only matured outcomes are kept: the whole outcome window lies within the
lake. Labels come from ``puhui.models.labels`` (what the bank observes), never ``truth_*``.

Targets (rows · 1 means · features as of):

- ``application_pd``: approved applications that became loans · the loan reaches 90+ DPD within
  12 months of disbursement · the first day of the application's month;
- ``behaviour_pd_{3,6,12}m``: firms with an active loan, not 90+ overdue, at month end M · any
  of its loans 90+ DPD within the next h months · the first day of month M+1;
- ``propensity``: firms without an active loan at month end M · a loan disbursed within 6
  months · the first day of month M+1;
- ``fraud_fpd``: booked applications of firms with no earlier delinquency · first-payment
  default (90+ DPD within 6 months of disbursement) · the first day of the application's month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from puhui.features.store import available_dates, load_features
from puhui.features.timing import add_months
from puhui.models import labels
from puhui.models.errors import TrainingDataError

TARGET_COLUMN = "target"
FULL_HISTORY_MONTHS = 12  # snapshots earlier than this after the lake's start are truncated
TIME_COLUMN = "as_of"
# Columns that describe a row but are never features.
KEY_COLUMNS = ("uscc", "as_of", "application_id", "outcome_from", "outcome_to", "target")


@dataclass(frozen=True)
class Target:
    """A modelling target: what a row is, what 1 means, and over how many months."""

    name: str
    zh: str
    en: str
    horizon_months: int
    rows: str
    event: str
    per_application: bool = False


TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target(
            "application_pd",
            "申请评分违约概率",
            "application PD",
            12,
            "approved applications that became loans (features as of the application's month)",
            "the loan reaches 90+ days overdue within 12 months of disbursement",
            per_application=True,
        ),
        *(
            Target(
                f"behaviour_pd_{h}m",
                f"行为评分/预警 {h} 个月违约概率",
                f"behaviour / early-warning PD, {h} months",
                h,
                "firms with an active loan not yet 90+ days overdue at a month end",
                f"any of the firm's loans reaches 90+ days overdue within the next {h} months",
            )
            for h in labels.DEFAULT_HORIZONS
        ),
        Target(
            "propensity",
            "营销响应倾向",
            "marketing propensity",
            6,
            "firms without an active loan at a month end",
            "the firm takes a loan (one is disbursed) within the next 6 months",
        ),
        Target(
            "fraud_fpd",
            "欺诈代理：首期违约",
            "fraud proxy: first-payment default",
            6,
            "booked applications of firms with no earlier delinquency at the bank or the bureau",
            "the loan reaches 90+ days overdue within 6 months of disbursement (never serviced); "
            "a proxy, since which applications were fraudulent is not observable",
            per_application=True,
        ),
    )
}


def target(name: str) -> Target:
    """The target called ``name``, or an error listing the known ones."""
    if name not in TARGETS:
        raise TrainingDataError(f"unknown target {name!r}; known: {', '.join(TARGETS)}")
    return TARGETS[name]


@dataclass
class TrainingDataset:
    """Outcome rows joined to their feature snapshot, ready for ``train_model``.

    ``frame`` holds ``KEY_COLUMNS`` (``outcome_from``/``outcome_to`` bound the outcome window;
    ``application_id`` only for per-application targets) then one column per feature.
    """

    target: Target
    frame: pl.DataFrame
    features: list[str]
    snapshot_dates: list[date]
    last_month: date
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Rows, bads and dates, for model metadata and the report."""
        dates = self.frame[TIME_COLUMN].unique().sort().to_list()
        return {
            "target": self.target.name,
            "rows": self.target.rows,
            "event": self.target.event,
            "horizon_months": self.target.horizon_months,
            "count": self.frame.height,
            "events": int(self.frame[TARGET_COLUMN].sum()),
            "as_of_first": dates[0].isoformat() if dates else None,
            "as_of_last": dates[-1].isoformat() if dates else None,
            "as_of_dates": len(dates),
            "lake_last_month": self.last_month.isoformat(),
            "notes": list(self.notes),
        }


def lake_last_month(connection: duckdb.DuckDBPyConnection) -> date:
    """The last month the bank's loan book covers: outcome windows must end by it."""
    row = connection.sql("select max(month) from bank_loan_monthly").fetchall()[0]
    if row is None or row[0] is None:
        raise TrainingDataError("the lake has no bank_loan_monthly rows: no outcomes to learn")
    return row[0]


def _month_start_column(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Date).dt.truncate("1mo")


def _outcomes(
    connection: duckdb.DuckDBPyConnection,
    spec: Target,
    dates: Sequence[date],
    features_root: Path,
) -> pl.DataFrame:
    """(uscc, as_of, [application_id], outcome_from, outcome_to, target), matured rows only."""
    h = spec.horizon_months
    if spec.name == "application_pd":
        raw = labels.application_labels(connection, horizon_months=h)
        rows = raw.filter(pl.col("booked") & pl.col("matured")).select(
            "uscc",
            _month_start_column("applied_on").alias("as_of"),
            "application_id",
            pl.col("disbursed_on").cast(pl.Date).alias("outcome_from"),
            pl.col(f"bad_{h}m").alias(TARGET_COLUMN),
        )
    elif spec.name == "fraud_fpd":
        raw = labels.first_payment_default_labels(connection, horizon_months=h)
        rows = raw.filter(pl.col(f"fpd_{h}m").is_not_null()).select(
            "uscc",
            _month_start_column("applied_on").alias("as_of"),
            "application_id",
            pl.col("disbursed_on").cast(pl.Date).alias("outcome_from"),
            pl.col(f"fpd_{h}m").alias(TARGET_COLUMN),
        )
    elif spec.name.startswith("behaviour_pd_"):
        raw = labels.behaviour_labels(connection, horizons=(h,))
        # Label month M (state at its end) is scored with the snapshot as of M + 1 month, the
        # first day on which month M is observable; the window is months M+1 … M+h.
        rows = raw.filter(pl.col(f"default_{h}m").is_not_null()).select(
            "uscc",
            pl.col("as_of").dt.offset_by("1mo").alias("as_of"),
            pl.col("as_of").dt.offset_by("1mo").alias("outcome_from"),
            pl.col(f"default_{h}m").alias(TARGET_COLUMN),
        )
    elif spec.name == "propensity":
        population = pl.concat(
            [load_features(features_root, day, columns=[]) for day in dates], how="vertical"
        )
        raw = labels.propensity_labels(connection, population, horizon_months=h)
        rows = raw.filter(pl.col(f"took_loan_{h}m").is_not_null()).select(
            "uscc",
            "as_of",
            pl.col("as_of").alias("outcome_from"),
            pl.col(f"took_loan_{h}m").alias(TARGET_COLUMN),
        )
    else:  # pragma: no cover - TARGETS and this function change together
        raise TrainingDataError(f"no outcome definition for target {spec.name!r}")
    rows = rows.with_columns(
        pl.col("as_of").cast(pl.Date),
        pl.col("outcome_from").dt.offset_by(f"{h}mo").alias("outcome_to"),
        pl.col(TARGET_COLUMN).cast(pl.Int8),
    )
    return rows.filter(pl.col("as_of").is_in(list(dates)))


def build_dataset(
    connection: duckdb.DuckDBPyConnection,
    features_root: Path,
    target_name: str,
    *,
    dates: Sequence[date] | None = None,
    columns: Sequence[str] | None = None,
    max_rows_per_date: int | None = None,
    seed: int = 0,
) -> TrainingDataset:
    """Outcomes of ``target_name`` joined to the feature snapshot as of each row's date.

    ``connection`` is ``Lake(root).connect()``; ``features_root`` is ``<data_dir>/features``.
    ``dates`` limits the snapshots used (default: every one built); ``columns`` the features.
    ``max_rows_per_date`` samples rows uniformly per date (seeded), for populations such as
    propensity's whose full panel would not fit in memory; the event rate is unchanged.
    """
    spec = target(target_name)
    built = available_dates(features_root)
    chosen = sorted(set(built) & set(dates)) if dates is not None else built
    if not chosen:
        raise TrainingDataError(
            f"no feature snapshots in {features_root}"
            + (f" for the dates {', '.join(d.isoformat() for d in dates)}" if dates else "")
            + "; run `puhui features snapshots --from YYYY-MM --to YYYY-MM` first"
        )
    last_month = lake_last_month(connection)
    rows = _outcomes(connection, spec, chosen, features_root)
    notes = [
        f"outcomes matured by {last_month:%Y-%m} (the lake's last month) only; "
        f"snapshots used: {chosen[0]:%Y-%m-%d} … {chosen[-1]:%Y-%m-%d} ({len(chosen)})"
    ]
    history_start = connection.sql("select min(month) from bank_loan_monthly").fetchall()[0][0]
    full_history = add_months(history_start, FULL_HISTORY_MONTHS)
    if chosen[0] < full_history:
        notes.append(
            f"snapshots before {full_history:%Y-%m-%d} have less than {FULL_HISTORY_MONTHS} "
            "months of lake history: their 12- and 24-month windows are truncated, so a feature "
            "means something else early on; PSI selection drops the worst, but training from "
            f"{full_history:%Y-%m} on is sounder"
        )
    if spec.name == "application_pd":
        notes.append(
            "rejected and unbooked applications have no outcome and are left out "
            "(no reject inference): the model ranks applicants like those approved before"
        )
    if spec.name == "fraud_fpd":
        notes.append(
            "fraud is not observable; first-payment default of firms with a clean history is "
            "its proxy and also catches some genuine credit failures"
        )
    if max_rows_per_date is not None:
        sampled = rows.filter(
            pl.int_range(pl.len()).shuffle(seed=seed).over("as_of") < max_rows_per_date
        )
        if sampled.height < rows.height:
            notes.append(
                f"sampled {sampled.height:,} of {rows.height:,} rows "
                f"(at most {max_rows_per_date:,} per date, seed {seed})"
            )
        rows = sampled
    if rows.is_empty():
        raise TrainingDataError(
            f"target {spec.name}: no matured outcomes for the snapshots "
            f"{chosen[0]:%Y-%m-%d} … {chosen[-1]:%Y-%m-%d}; the lake ends {last_month:%Y-%m} and "
            f"a {spec.horizon_months}-month window must fit before it"
        )
    parts = []
    for day, keys in rows.sort("as_of").group_by("as_of", maintain_order=True):
        day_value = day[0]
        snapshot = load_features(
            features_root, day_value, columns=columns, usccs=keys["uscc"].unique().to_list()
        )
        parts.append(keys.join(snapshot, on=["uscc", "as_of"], how="left"))
    frame = pl.concat(parts, how="diagonal_relaxed")
    # Label and feature queries return rows in no fixed order; training must not depend on it.
    identity = [c for c in ("as_of", "uscc", "application_id", "loan_id") if c in frame.columns]
    frame = frame.sort(identity, maintain_order=True)
    feature_names = [c for c in frame.columns if c not in KEY_COLUMNS]
    order = [c for c in KEY_COLUMNS if c in frame.columns] + feature_names
    return TrainingDataset(
        target=spec,
        frame=frame.select(order),
        features=feature_names,
        snapshot_dates=chosen,
        last_month=last_month,
        notes=notes,
    )


def month_dates(first: date, last: date) -> list[date]:
    """Firsts of months from ``first`` to ``last`` inclusive."""
    day, out = first.replace(day=1), []
    while day <= last:
        out.append(day)
        day = add_months(day, 1)
    return out
