"""Learning from bad borrowers (不良客户风险特征图谱), pure over Polars frames.

From scans of past dates (which signals fired for whom, when) and the observed defaults
(first 90+ days overdue at the bank), compute for every signal:

* lift: P(default within the horizon | fired) / P(default), smoothed towards 1 for rare
  signals, and the weight it earns: log2 of the lift, between 0 and ``max_weight`` (a signal
  that did not precede defaults more often than chance weighs nothing in the score, but is still
  shown as evidence);
* lead times (提前期): for each defaulter, the days between the signal's first firing in the
  year before the default and the default;
* combinations (风险组合): pairs of conditions firing together whose lift exceeds either alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import polars as pl

LEAD_WINDOW_DAYS = 365


@dataclass(frozen=True)
class LearnedSignals:
    lift: pl.DataFrame  # signal_id, condition, fired, bads, lift, weight
    lead_times: pl.DataFrame  # condition, defaulters, median_days, p25_days, p75_days, share
    combinations: pl.DataFrame  # a, b, fired, bads, lift
    base_rate: float
    observations: int
    defaults: int

    def weights(self) -> dict[str, float]:
        return {r["signal_id"]: r["weight"] for r in self.lift.iter_rows(named=True)}

    def pairs(self, min_lift: float) -> list[tuple[str, str]]:
        kept = self.combinations.filter(pl.col("lift") >= min_lift)
        return [(r["a"], r["b"]) for r in kept.iter_rows(named=True)]


def outcomes(borrowers: pl.DataFrame, defaults: pl.DataFrame, horizon_days: int) -> pl.DataFrame:
    """(uscc, scan_date, bad): bad when the first default falls in (scan, scan + horizon];
    borrowers already in default at the scan are left out."""
    joined = borrowers.select("uscc", "scan_date").join(defaults, on="uscc", how="left")
    return (
        joined.filter(
            pl.col("default_date").is_null() | (pl.col("default_date") > pl.col("scan_date"))
        )
        .with_columns(
            (
                pl.col("default_date").is_not_null()
                & (pl.col("default_date") <= pl.col("scan_date") + pl.duration(days=horizon_days))
            ).alias("bad")
        )
        .select("uscc", "scan_date", "bad")
    )


def lift_table(
    fired: pl.DataFrame,
    observed: pl.DataFrame,
    conditions: pl.DataFrame,
    *,
    prior: float = 30.0,
    max_weight: float = 3.0,
) -> tuple[pl.DataFrame, float]:
    """Lift and weight per signal. ``fired``: uscc, scan_date, signal_id; ``observed``: the
    outcome rows; ``conditions``: signal_id, condition."""
    base = float(observed["bad"].mean() or 0.0)
    hits = fired.join(observed, on=["uscc", "scan_date"], how="inner")
    table = hits.group_by("signal_id").agg(
        pl.len().alias("fired"), pl.col("bad").sum().cast(pl.Int64).alias("bads")
    )
    table = conditions.join(table, on="signal_id", how="left").with_columns(
        pl.col("fired").fill_null(0), pl.col("bads").fill_null(0)
    )
    if base <= 0:
        return table.with_columns(pl.lit(1.0).alias("lift"), pl.lit(0.0).alias("weight")), base
    smoothed = (pl.col("bads") + prior * base) / (pl.col("fired") + prior)
    table = table.with_columns((smoothed / base).alias("lift")).with_columns(
        pl.col("lift")
        .map_elements(lambda v: max(0.0, min(max_weight, math.log2(v))), return_dtype=pl.Float64)
        .alias("weight")
    )
    return table.sort("lift", descending=True), base


def lead_times(
    fired: pl.DataFrame, defaults: pl.DataFrame, conditions: pl.DataFrame, *, key: str
) -> pl.DataFrame:
    """Days from the first firing (in the year before the default) to the default, per
    ``key`` (``condition`` or ``table``), over the defaulters it preceded."""
    before = (
        fired.join(defaults, on="uscc", how="inner")
        .filter(
            (pl.col("scan_date") <= pl.col("default_date"))
            & (pl.col("scan_date") > pl.col("default_date") - pl.duration(days=LEAD_WINDOW_DAYS))
        )
        .join(conditions, on="signal_id", how="inner")
    )
    first = before.group_by(["uscc", key]).agg(
        (pl.col("default_date") - pl.col("scan_date")).dt.total_days().max().alias("lead")
    )
    total = max(defaults.height, 1)
    return (
        first.group_by(key)
        .agg(
            pl.len().alias("defaulters"),
            pl.col("lead").median().alias("median_days"),
            pl.col("lead").quantile(0.25).alias("p25_days"),
            pl.col("lead").quantile(0.75).alias("p75_days"),
        )
        .with_columns((pl.col("defaulters") / total).alias("share"))
        .sort("defaulters", descending=True)
    )


def combination_table(
    fired: pl.DataFrame,
    observed: pl.DataFrame,
    conditions: pl.DataFrame,
    base_rate: float,
    *,
    top_conditions: int = 25,
    min_support: int = 15,
) -> pl.DataFrame:
    """Lift of condition pairs among the ``top_conditions`` with the most bads."""
    per_condition = (
        fired.join(conditions, on="signal_id")
        .select("uscc", "scan_date", "condition")
        .unique()
        .join(observed, on=["uscc", "scan_date"], how="inner")
    )
    top = (
        per_condition.group_by("condition")
        .agg(pl.col("bad").sum().alias("bads"))
        .sort("bads", descending=True)
        .head(top_conditions)["condition"]
    )
    kept = per_condition.filter(pl.col("condition").is_in(top.implode()))
    pairs = (
        kept.join(
            kept.select("uscc", "scan_date", pl.col("condition").alias("b")),
            on=["uscc", "scan_date"],
        )
        .filter(pl.col("condition") < pl.col("b"))
        .group_by(["condition", "b"])
        .agg(pl.len().alias("fired"), pl.col("bad").sum().cast(pl.Int64).alias("bads"))
        .filter(pl.col("fired") >= min_support)
        .rename({"condition": "a"})
    )
    if base_rate <= 0:
        return pairs.with_columns(pl.lit(1.0).alias("lift"))
    return pairs.with_columns(((pl.col("bads") / pl.col("fired")) / base_rate).alias("lift")).sort(
        "lift", descending=True
    )


def learn(
    fired: pl.DataFrame,
    borrowers: pl.DataFrame,
    defaults: pl.DataFrame,
    conditions: pl.DataFrame,
    *,
    horizon_days: int,
    outcome_end: date,
) -> LearnedSignals:
    """Everything above from one history. Outcome rows need their whole window by
    ``outcome_end`` (nothing after it was known when learning)."""
    known = defaults.filter(pl.col("default_date") <= outcome_end)
    observed = outcomes(
        borrowers.filter(
            pl.col("scan_date") + pl.duration(days=horizon_days) <= pl.lit(outcome_end)
        ),
        known,
        horizon_days,
    )
    lifts, base = lift_table(fired, observed, conditions)
    leads = lead_times(fired, known, conditions, key="condition")
    combos = combination_table(fired, observed, conditions, base)
    return LearnedSignals(
        lifts, leads, combos, base, observed.height, int(observed["bad"].sum() or 0)
    )


def calibrate_cutoffs(scores: pl.Series, shares: dict[str, float]) -> dict[str, float]:
    """Score cut-offs so that about ``shares[level]`` of the rows score at that level or
    worse; ``scores`` holds one value per borrower-day, zero for borrowers with no signal."""
    return {
        level: float(scores.quantile(1.0 - share, interpolation="higher") or 0.0) + 1e-9
        for level, share in shares.items()
    }
