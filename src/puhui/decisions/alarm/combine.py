"""From fired signals and the early-warning PD to one assessment per borrower (pure, Polars).

1. Dedup (去重): signals of the same condition (family + measure: e.g. "court cases against
   the firm" over 30, 90 and 365 days at several thresholds) count once, with the worst one.
2. Score: Σ grade points × the signal's learned weight, plus points for learned combinations
   of conditions that preceded defaults together.
3. Level: the highest of the score's level, the PD's level, and red for any veto indicator
   (一票否决), which needs nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from puhui.decisions.alarm.fitting import FittedTerms, pd_excess
from puhui.decisions.alarm.policy import LevelPolicy
from puhui.decisions.alarm.spec import LEVELS, SignalLibrary

ASSESSMENT_SCHEMA = {
    "uscc": pl.String,
    "level": pl.String,
    "score": pl.Float64,
    "veto": pl.Boolean,
    "conditions": pl.List(pl.String),
    "signals": pl.List(pl.String),
    "pd": pl.Float64,
}


@dataclass(frozen=True)
class Weights:
    """Learned from bad borrowers: a weight per signal and lifted pairs of conditions."""

    signal: Mapping[str, float]
    combinations: Sequence[tuple[str, str]] = ()
    cutoffs: Mapping[str, float] | None = None  # learned score cut-offs per level
    terms: FittedTerms | None = None  # persistence and PD points of a fitted model
    pd_cutoffs: Mapping[str, float] | None = None  # learned EW-PD cut-offs (``levels: learned``)

    @classmethod
    def neutral(cls) -> Weights:
        return cls({}, ())


def signal_frame(library: SignalLibrary, weights: Weights) -> pl.DataFrame:
    """The library as a frame: signal_id, condition, grade rank, veto, table, weight."""
    rows = library.signals
    return pl.DataFrame(
        {
            "signal_id": [s.signal_id for s in rows],
            "condition": [s.condition for s in rows],
            "grade_rank": [LEVELS.index(s.grade) for s in rows],
            "veto": [s.veto for s in rows],
            "table": [s.table for s in rows],
            "threshold": [s.threshold for s in rows],
            "weight": [float(weights.signal.get(s.signal_id, 1.0)) for s in rows],
        },
        schema_overrides={"grade_rank": pl.Int8},
    )


def deduplicate(fired: pl.DataFrame, signals: pl.DataFrame) -> pl.DataFrame:
    """One row per (uscc, condition): its worst signal (veto, grade, weight, threshold)."""
    joined = fired.join(signals, on="signal_id", how="inner")
    return (
        joined.sort(
            ["uscc", "condition", "veto", "grade_rank", "weight", "threshold"],
            descending=[False, False, True, True, True, True],
        )
        .group_by(["uscc", "condition"], maintain_order=True)
        .first()
    )


def _level_expr(column: str, cutoffs: Mapping[str, float]) -> pl.Expr:
    expr = pl.lit(None, dtype=pl.String)
    for level in LEVELS:  # ascending: later (more severe) cut-offs win
        expr = pl.when(pl.col(column) >= cutoffs[level]).then(pl.lit(level)).otherwise(expr)
    return expr


def _rank(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .replace_strict({lvl: i for i, lvl in enumerate(LEVELS)}, default=-1, return_dtype=pl.Int8)
        .fill_null(-1)
    )


def assess(
    fired: pl.DataFrame,
    library: SignalLibrary,
    policy: LevelPolicy,
    weights: Weights,
    pd_by_firm: pl.DataFrame | None = None,
    *,
    keep_all: bool = False,
    deduplicated: pl.DataFrame | None = None,
    persistence: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per borrower with a signal or a PD level: level, score, veto, conditions.

    ``fired`` has uscc, signal_id (values and dates are evidence, not needed here);
    ``pd_by_firm`` has uscc and ``pd`` (the policy's horizon), missing PDs being null.
    Learned cut-offs in ``weights`` replace the policy's (score: never below them; PD: when
    the policy's ``ew_pd.levels`` is ``learned``); ``keep_all``
    keeps borrowers below every level too (with a null level), for calibration;
    ``deduplicated`` is ``deduplicate(fired, …)`` when the caller has it already;
    ``persistence`` (uscc, condition, share) feeds the fitted persistence points, if any.
    """
    from puhui.decisions.alarm.policy import with_cutoffs

    policy = with_cutoffs(policy, weights.cutoffs, weights.pd_cutoffs)
    points = {i: policy.grade_points[lvl] for i, lvl in enumerate(LEVELS)}
    kept = (
        deduplicated
        if deduplicated is not None
        else deduplicate(fired.select("uscc", "signal_id"), signal_frame(library, weights))
    )
    kept = kept.with_columns(
        (
            pl.col("grade_rank").replace_strict(points, return_dtype=pl.Float64) * pl.col("weight")
        ).alias("points")
    )
    per_firm = kept.group_by("uscc").agg(
        pl.col("points").sum().alias("score"),
        pl.col("veto").any().alias("veto"),
        pl.col("condition").sort().alias("conditions"),
        pl.col("signal_id").sort().alias("signals"),
    )
    if weights.combinations:
        bonus = pl.lit(0.0)
        for a, b in weights.combinations:
            hit = pl.col("conditions").list.contains(a) & pl.col("conditions").list.contains(b)
            bonus = bonus + pl.when(hit).then(policy.combination_points).otherwise(0.0)
        per_firm = per_firm.with_columns((pl.col("score") + bonus).alias("score"))
    terms = weights.terms
    if terms is not None and terms.persistence and persistence is not None:
        lasting = (
            persistence.join(kept.select("uscc", "condition"), on=["uscc", "condition"])
            .with_columns(
                pl.col("condition").replace_strict(
                    dict(terms.persistence), default=0.0, return_dtype=pl.Float64
                )
                * pl.col("share")
            )
            .group_by("uscc")
            .agg(pl.col("condition").sum().alias("lasting"))
        )
        per_firm = (
            per_firm.join(lasting, on="uscc", how="left")
            .with_columns((pl.col("score") + pl.col("lasting").fill_null(0.0)).alias("score"))
            .drop("lasting")
        )
    if pd_by_firm is not None and pd_by_firm.height:
        per_firm = per_firm.join(
            pd_by_firm.select("uscc", "pd"), on="uscc", how="full", coalesce=True
        )
    else:
        per_firm = per_firm.with_columns(pl.lit(None, dtype=pl.Float64).alias("pd"))
    if terms is not None and terms.pd_points > 0:
        per_firm = per_firm.with_columns(
            (
                pl.col("score").fill_null(0.0)
                + terms.pd_points * pd_excess("pd", terms.pd_reference)
            ).alias("score")
        )
    per_firm = per_firm.with_columns(
        pl.col("score").fill_null(0.0),
        pl.col("veto").fill_null(False),
        pl.col("conditions").fill_null([]),
        pl.col("signals").fill_null([]),
    )
    ranked = per_firm.with_columns(
        _level_expr("score", policy.score_levels).alias("by_score"),
        _level_expr("pd", policy.pd_levels).alias("by_pd"),
    ).with_columns(
        pl.when(pl.col("veto"))
        .then(len(LEVELS) - 1)
        .otherwise(pl.max_horizontal(_rank("by_score"), _rank("by_pd")))
        .alias("rank")
    )
    names = pl.col("rank").replace_strict(
        dict(enumerate(LEVELS)), default="blue", return_dtype=pl.String
    )
    out = (ranked if keep_all else ranked.filter(pl.col("rank") >= 0)).with_columns(
        pl.when(pl.col("rank") >= 0).then(names).otherwise(None).alias("level")
    )
    return out.select(list(ASSESSMENT_SCHEMA)).cast(ASSESSMENT_SCHEMA).sort("uscc")  # type: ignore[arg-type]
