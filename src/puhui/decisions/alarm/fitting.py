"""Signal weights fitted jointly (联合拟合权重) on the 90–365-day outcome, pure over Polars.

``learning.py`` weighs each signal by its own lift over 180 days: signals that fire long before
a default but also for many good borrowers (flows, revenue, purchases dropping) get little
weight, and signals that fire together are counted twice. Here one penalised logistic
regression sees every condition at once and is asked the alarm's real question: will the
borrower default 90 to 365 days from now? (Rows closer than ``min_lead_days`` to a default are
left out of the fit: they teach late signals.) Its inputs are the worst grade of each condition
(one indicator per condition and grade, as the scan deduplicates), the persistence of the
condition (at how many of the looks 30, 60 and 90 days back it had fired too: a drop that
lasts two or three months is not a blip), and the excess of the EW-PD's log-odds over the base
rate.

The coefficients become points, so the daily scan scores exactly as before: a signal's weight
is its condition-and-grade coefficient (× ``scale``) over the grade's points; the persistence
and PD terms are added by ``combine.assess``. Negative coefficients are cut to zero: a signal
never lowers the risk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from puhui.decisions.alarm.spec import LEVELS, SignalLibrary

PD_FLOOR = 1e-4


@dataclass(frozen=True)
class FittedTerms:
    """What a fitted model adds besides per-signal weights (all in score points)."""

    persistence: Mapping[str, float] = field(default_factory=dict)  # condition → points at 100%
    pd_points: float = 0.0  # points per unit of log-odds above ``pd_reference``
    pd_reference: float = 0.0  # the PD whose log-odds score zero (the base rate)
    persistence_days: int = 91

    def as_dict(self) -> dict:
        return {
            "persistence": dict(self.persistence),
            "pd_points": self.pd_points,
            "pd_reference": self.pd_reference,
            "persistence_days": self.persistence_days,
        }

    @classmethod
    def from_dict(cls, raw: Mapping | None) -> FittedTerms:
        if not raw:
            return cls()
        return cls(
            dict(raw.get("persistence", {})),
            float(raw.get("pd_points", 0.0)),
            float(raw.get("pd_reference", 0.0)),
            int(raw.get("persistence_days", 91)),
        )


def logit(p: float) -> float:
    p = min(max(p, PD_FLOOR), 1 - PD_FLOOR)
    return math.log(p / (1 - p))


def pd_excess(column: str, reference: float) -> pl.Expr:
    """max(0, logit(pd) − logit(reference)); a missing PD adds nothing (unknown, not safe)."""
    p = pl.col(column).clip(PD_FLOOR, 1 - PD_FLOOR)
    return ((p / (1 - p)).log() - logit(reference)).clip(lower_bound=0.0).fill_null(0.0)


def worst_grades(fired: pl.DataFrame, library: SignalLibrary) -> pl.DataFrame:
    """(uscc, scan_date, condition, grade_rank): each condition's worst grade per scan."""
    meta = pl.DataFrame(
        {
            "signal_id": [s.signal_id for s in library.signals],
            "condition": [s.condition for s in library.signals],
            "grade_rank": [LEVELS.index(s.grade) for s in library.signals],
        },
        schema_overrides={"grade_rank": pl.Int8},
    )
    return (
        fired.select("uscc", "scan_date", "signal_id")
        .join(meta, on="signal_id")
        .group_by("uscc", "scan_date", "condition")
        .agg(pl.col("grade_rank").max())
    )


CHECKPOINT_DAYS = 30
CHECKPOINT_TOLERANCE_DAYS = 14


def checkpoints(days: int) -> list[int]:
    """Days back of the earlier looks at a condition: 30, 60, 90 for a 91-day persistence."""
    return list(range(CHECKPOINT_DAYS, days, CHECKPOINT_DAYS))


def persistence(grades: pl.DataFrame, borrowers: pl.DataFrame, days: int) -> pl.DataFrame:
    """(uscc, scan_date, condition, share): at how many of the checkpoints 30, 60, 90 days back
    the condition had fired too (the borrower's latest scan at most 14 days before each
    checkpoint; no scan there counts as not fired). Cheap for the daily scan, which reads
    three earlier scans, and the same for histories scanned every 7 or 14 days."""
    backs = checkpoints(days)
    scans = borrowers.select("uscc", "scan_date").unique()
    past = scans.rename({"scan_date": "past"}).sort("past")
    parts = []
    for back in backs:
        probe = scans.with_columns((pl.col("scan_date") - pl.duration(days=back)).alias("at"))
        matched = probe.sort("at").join_asof(
            past,
            left_on="at",
            right_on="past",
            by="uscc",
            strategy="backward",
            tolerance=timedelta(days=CHECKPOINT_TOLERANCE_DAYS),
            check_sortedness=False,
        )
        parts.append(matched.select("uscc", "scan_date", "past").drop_nulls())
    window = pl.concat(parts)
    return (
        window.join(
            grades.select("uscc", pl.col("scan_date").alias("past"), "condition"),
            on=["uscc", "past"],
        )
        .group_by("uscc", "scan_date", "condition")
        .agg((pl.len() / len(backs)).alias("share"))
    )


def design(
    grades: pl.DataFrame,
    shares: pl.DataFrame | None,
    rows: pl.DataFrame,
    pds: pl.DataFrame,
    pd_column: str,
    pd_reference: float,
) -> tuple[np.ndarray, list[str]]:
    """The model matrix for ``rows`` (uscc, scan_date, in order) and its column names."""
    keys = rows.select("uscc", "scan_date").with_row_index("row")
    parts = [
        grades.join(keys, on=["uscc", "scan_date"]).select(
            "row",
            (pl.lit("g|") + pl.col("condition") + "|" + pl.col("grade_rank").cast(pl.String)).alias(
                "name"
            ),
            pl.lit(1.0).alias("value"),
        )
    ]
    if shares is not None:
        parts.append(
            shares.join(keys, on=["uscc", "scan_date"]).select(
                "row",
                (pl.lit("p|") + pl.col("condition")).alias("name"),
                pl.col("share").alias("value"),
            )
        )
    long = pl.concat(parts)
    names = sorted(long["name"].unique().to_list())
    index = {n: i for i, n in enumerate(names)}
    matrix = np.zeros((keys.height, len(names) + 1), dtype=np.float32)
    cols = long["name"].replace_strict(index, return_dtype=pl.Int64).to_numpy()
    matrix[long["row"].to_numpy(), cols] = long["value"].to_numpy()
    pd_values = keys.join(
        pds.select("uscc", "scan_date", pl.col(pd_column).alias("pd")),
        on=["uscc", "scan_date"],
        how="left",
    ).sort("row")
    matrix[:, -1] = pd_values.select(pd_excess("pd", pd_reference))["pd"].to_numpy()
    return matrix, [*names, "pd"]


@dataclass(frozen=True)
class FittedModel:
    signal_weights: dict[str, float]
    terms: FittedTerms
    coefficients: dict[str, float]
    rows: int
    bads: int


def fit(
    fired: pl.DataFrame,
    borrowers: pl.DataFrame,
    pds: pl.DataFrame,
    defaults: pl.DataFrame,
    library: SignalLibrary,
    grade_points: Mapping[str, float],
    *,
    outcome_end: date,
    pd_column: str = "pd_12m",
    horizon_days: int = 365,
    min_lead_days: int = 60,
    persistence_days: int = 91,
    use_persistence: bool = True,
    use_pd: bool = True,
    strength: float = 0.05,
    scale: float = 4.0,
) -> FittedModel:
    """Fit on the training scans; outcome rows need ``min_lead_days`` of their window by
    ``outcome_end`` and are bad when the first default falls in
    [date + ``min_lead_days``, date + ``horizon_days``] (a default after ``outcome_end`` is
    unknown and counts as good, as it would have when learning)."""
    from sklearn.linear_model import LogisticRegression

    known = defaults.filter(pl.col("default_date") <= outcome_end)
    rows = (
        borrowers.select("uscc", "scan_date")
        .filter(pl.col("scan_date") + pl.duration(days=min_lead_days) <= pl.lit(outcome_end))
        .join(known, on="uscc", how="left")
        .with_columns((pl.col("default_date") - pl.col("scan_date")).dt.total_days().alias("days"))
        .filter(pl.col("days").is_null() | (pl.col("days") >= min_lead_days))
        .with_columns((pl.col("days").is_not_null() & (pl.col("days") <= horizon_days)).alias("y"))
        .sort("uscc", "scan_date")
    )
    grades = worst_grades(fired, library)
    shares = persistence(grades, borrowers, persistence_days) if use_persistence else None
    train_pds = pds
    base = float(rows["y"].mean() or 0.0)
    reference = max(base, PD_FLOOR)
    if not train_pds.height or pd_column not in train_pds.columns:
        missing = pl.lit(None, dtype=pl.Float64).alias(pd_column)
        train_pds = rows.select("uscc", "scan_date", missing)
    x, names = design(grades, shares, rows, train_pds, pd_column, reference)
    if not use_pd:
        x[:, -1] = 0.0
    y = rows["y"].to_numpy().astype(int)
    if y.sum() == 0:
        return FittedModel({}, FittedTerms(), {}, len(y), 0)
    model = LogisticRegression(C=strength, max_iter=2000, class_weight="balanced")
    model.fit(x, y)
    coef = dict(zip(names, (float(c) for c in model.coef_[0]), strict=True))
    weights: dict[str, float] = {}
    for signal in library.signals:
        value = coef.get(f"g|{signal.condition}|{LEVELS.index(signal.grade)}", 0.0)
        weights[signal.signal_id] = round(max(0.0, value) * scale / grade_points[signal.grade], 4)
    kept = {
        name[2:]: round(max(0.0, value) * scale, 4)
        for name, value in coef.items()
        if name.startswith("p|") and value > 0
    }
    terms = FittedTerms(kept, round(max(0.0, coef["pd"]) * scale, 4), reference, persistence_days)
    return FittedModel(weights, terms, coef, len(y), int(y.sum()))
