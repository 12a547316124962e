"""Scans of past dates without the store: the history that learning and evaluation read.

The signals of each date are computed exactly as the daily scan computes them (same plan, same
engine); the EW-PD comes from the month's feature snapshot when there is one. Defaults are the
bank's own observation: the first month end a loan of the firm is 90+ days overdue, dated back
to the day it crossed 90 days.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from puhui.actions.alarm.ewpd import PD_COLUMNS, EarlyWarningPD
from puhui.actions.alarm.runner import ScanEngine
from puhui.data.lake import Lake
from puhui.decisions.alarm.combine import Weights, assess
from puhui.decisions.alarm.compiler import compile_scan
from puhui.decisions.alarm.fitting import fit, persistence, worst_grades
from puhui.decisions.alarm.learning import LearnedSignals, calibrate_cutoffs, learn
from puhui.decisions.alarm.policy import LevelPolicy, score_shares, with_cutoffs
from puhui.decisions.alarm.spec import LEVELS, SignalLibrary


@dataclass
class History:
    fired: pl.DataFrame  # uscc, scan_date, signal_id
    borrowers: pl.DataFrame  # uscc, scan_date
    pds: pl.DataFrame  # uscc, scan_date, pd_3m, pd_6m, pd_12m


def default_dates(connection: Any, overdue_days: int = 90) -> pl.DataFrame:
    """(uscc, default_date): when the firm first crossed ``overdue_days`` at the bank."""
    sql = f"""
        select uscc,
               min(last_day(month) - cast(overdue_days - {int(overdue_days)} as integer))
                   as default_date
        from bank_loan_monthly
        where overdue_days >= {int(overdue_days)}
        group by uscc
    """
    frame = pl.from_arrow(connection.sql(sql).to_arrow_table())
    return frame.with_columns(pl.col("default_date").cast(pl.Date))  # type: ignore[union-attr]


def scan_dates(first: date, last: date, step_days: int) -> list[date]:
    out, day = [], first
    while day <= last:
        out.append(day)
        day += timedelta(days=step_days)
    return out


def scan_history(
    lake: Lake,
    library: SignalLibrary,
    lags: Mapping[str, int],
    dates: Sequence[date],
    engine: ScanEngine,
    cache_dir: Path,
    ew_pd: EarlyWarningPD | None = None,
) -> History:
    fired, borrowers, pds = [], [], []
    for day in dates:
        output = engine.run(compile_scan(library, day, lags), lake, cache_dir, False)
        stamp = pl.lit(day, dtype=pl.Date).alias("scan_date")
        fired.append(output.fired.select("uscc", stamp, "signal_id"))
        borrowers.append(output.population.select("uscc", stamp))
        if ew_pd is not None:
            scored, _ = ew_pd.score(day, output.population["uscc"].to_list())
            pds.append(scored.with_columns(stamp))
    pd_frame = (
        pl.concat(pds, how="vertical")
        if pds
        else pl.DataFrame(
            schema={
                "uscc": pl.String,
                **dict.fromkeys(PD_COLUMNS.values(), pl.Float64),
                "scan_date": pl.Date,
            }
        )
    )
    return History(pl.concat(fired), pl.concat(borrowers), pd_frame)


def condition_frame(library: SignalLibrary) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "signal_id": [s.signal_id for s in library.signals],
            "condition": [s.condition for s in library.signals],
            "table": [s.table for s in library.signals],
        }
    )


def learn_weights(
    history: History,
    defaults: pl.DataFrame,
    library: SignalLibrary,
    policy: LevelPolicy,
    *,
    outcome_end: date,
    horizon_days: int = 180,
) -> tuple[LearnedSignals, Weights]:
    learned = learn(
        history.fired,
        history.borrowers,
        defaults,
        condition_frame(library).select("signal_id", "condition"),
        horizon_days=horizon_days,
        outcome_end=outcome_end,
    )
    if policy.weighting == "fitted":
        model = fit(
            history.fired,
            history.borrowers,
            history.pds,
            defaults,
            library,
            policy.grade_points,
            outcome_end=outcome_end,
            pd_column=PD_COLUMNS[policy.pd_horizon_months],
            horizon_days=policy.fit_horizon_days,
            min_lead_days=policy.fit_min_lead_days,
            persistence_days=policy.persistence_days,
            strength=policy.fit_strength,
            scale=policy.fit_scale,
        )
        weights = Weights(model.signal_weights, (), None, model.terms)
    else:
        weights = Weights(learned.weights(), tuple(learned.pairs(policy.combination_min_lift)))
    scored = levels_over_time(history, library, policy, weights, keep_all=True)
    every = history.borrowers.join(
        scored.select("uscc", "scan_date", "score"), on=["uscc", "scan_date"], how="left"
    )["score"].fill_null(0.0)
    column = PD_COLUMNS[policy.pd_horizon_months]
    with_pd = column in history.pds.columns and history.pds[column].drop_nulls().len() > 0
    cutoffs = calibrate_cutoffs(every, score_shares(policy, with_pd))
    pd_cutoffs = learn_pd_cutoffs(history.pds, policy)
    return learned, Weights(
        weights.signal, weights.combinations, cutoffs, weights.terms, pd_cutoffs
    )


def learn_pd_cutoffs(pds: pl.DataFrame, policy: LevelPolicy) -> dict[str, float] | None:
    """EW-PD cut-offs so that about ``ew_pd.target_shares`` of the training borrower-days with
    a PD reach each level or worse (``ew_pd.levels: learned``); None otherwise or when no PD
    was scored (the fixed ``pd_levels`` apply). Borrower-days without a PD are left out:
    missing is not low risk."""
    config = policy.ew_pd
    column = PD_COLUMNS[policy.pd_horizon_months]
    if config.levels != "learned" or config.target_shares is None or column not in pds.columns:
        return None
    scored = pds[column].drop_nulls()
    if scored.is_empty():
        return None
    return calibrate_cutoffs(scored, config.target_shares)


def levels_over_time(
    history: History,
    library: SignalLibrary,
    policy: LevelPolicy,
    weights: Weights,
    *,
    keep_all: bool = False,
) -> pl.DataFrame:
    """(uscc, scan_date, level, score, veto, pd) for every borrower with a level."""
    policy = with_cutoffs(policy, weights.cutoffs, weights.pd_cutoffs)
    pd_column = PD_COLUMNS[policy.pd_horizon_months]
    terms = weights.terms
    shares = (
        persistence(worst_grades(history.fired, library), history.borrowers, terms.persistence_days)
        if terms is not None and terms.persistence
        else None
    )
    parts = []
    for (day,), fired in history.fired.group_by(["scan_date"], maintain_order=True):
        pds = history.pds.filter(pl.col("scan_date") == day)
        pd_frame = pds.select("uscc", pl.col(pd_column).alias("pd")) if pds.height else None
        lasting = (
            shares.filter(pl.col("scan_date") == day).drop("scan_date")
            if shares is not None
            else None
        )
        assessed = assess(
            fired, library, policy, weights, pd_frame, keep_all=keep_all, persistence=lasting
        )
        parts.append(assessed.with_columns(pl.lit(day, dtype=pl.Date).alias("scan_date")))
    return pl.concat(parts).select("uscc", "scan_date", "level", "score", "veto", "pd")


@dataclass(frozen=True)
class Evaluation:
    start: date
    end: date
    borrowers: int
    defaulters: int
    warned_90: int  # orange or red at least 90 days before the default
    median_lead_days: float | None
    red_firms: int
    red_defaulted: int
    warnings_per_1000_month: dict[str, float]

    @property
    def share_warned_90(self) -> float:
        return self.warned_90 / self.defaulters if self.defaulters else 0.0

    @property
    def red_precision(self) -> float:
        return self.red_defaulted / self.red_firms if self.red_firms else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "borrowers": self.borrowers,
            "defaulters": self.defaulters,
            "warned_orange_red_90d": self.warned_90,
            "share_warned_90d": round(self.share_warned_90, 4),
            "median_lead_days": self.median_lead_days,
            "red_firms": self.red_firms,
            "red_defaulted_within_180d": self.red_defaulted,
            "red_precision": round(self.red_precision, 4),
            "warnings_per_1000_borrowers_month": self.warnings_per_1000_month,
        }


def evaluate(
    levels: pl.DataFrame,
    borrowers: pl.DataFrame,
    defaults: pl.DataFrame,
    *,
    start: date,
    end: date,
    lead_days: int = 90,
    red_horizon: int = 180,
) -> Evaluation:
    """The hold-out figures. Defaulters: first default in [start + lead_days, end], borrowers
    at a scan at least ``lead_days`` before it. Red precision: firms first red in
    [start, end - red_horizon] that defaulted within ``red_horizon`` days of it (so every
    outcome window lies inside the hold-out)."""
    in_window = borrowers.filter(pl.col("scan_date").is_between(start, end))
    alive = in_window.join(defaults, on="uscc", how="left").filter(
        pl.col("default_date").is_null() | (pl.col("default_date") > pl.col("scan_date"))
    )
    graded = levels.filter(pl.col("scan_date").is_between(start, end)).join(
        alive.select("uscc", "scan_date"), on=["uscc", "scan_date"], how="semi"
    )
    targets = defaults.filter(
        pl.col("default_date").is_between(start + timedelta(days=lead_days), end)
    ).join(
        alive.join(defaults, on="uscc")
        .filter(pl.col("scan_date") <= pl.col("default_date") - pl.duration(days=lead_days))
        .select("uscc")
        .unique(),
        on="uscc",
        how="semi",
    )
    severe = (
        graded.filter(pl.col("level").is_in(["orange", "red"]))
        .join(targets, on="uscc", how="inner")
        .filter(
            (pl.col("scan_date") <= pl.col("default_date"))
            & (pl.col("scan_date") > pl.col("default_date") - pl.duration(days=365))
        )
    )
    first = severe.group_by("uscc").agg(
        (pl.col("default_date") - pl.col("scan_date")).dt.total_days().max().alias("lead")
    )
    warned = first.filter(pl.col("lead") >= lead_days).height
    median = float(first["lead"].median()) if first.height else None
    red_first = (
        graded.filter(pl.col("level") == "red")
        .group_by("uscc")
        .agg(pl.col("scan_date").min().alias("first_red"))
        .filter(pl.col("first_red") <= end - timedelta(days=red_horizon))
        .join(defaults, on="uscc", how="left")
    )
    red_bad = red_first.filter(
        pl.col("default_date").is_not_null()
        & (pl.col("default_date") <= pl.col("first_red") + pl.duration(days=red_horizon))
    ).height
    # workload: borrower-scans at each level per 1,000 borrower-scans, scaled to a month of
    # new warnings (a level first reached in an episode counts once)
    months = max((end - start).days / 30.4, 1.0)
    per_firm_months = alive.select("uscc").unique().height * months
    workload = {}
    for level in LEVELS:
        firms = graded.filter(pl.col("level") == level).select("uscc").unique().height
        workload[level] = round(1000 * firms / per_firm_months, 2) if per_firm_months else 0.0
    return Evaluation(
        start,
        end,
        alive.select("uscc").unique().height,
        targets.height,
        warned,
        median,
        red_first.height,
        red_bad,
        workload,
    )


def write_learning(folder: Path, learned: LearnedSignals, weights: Weights, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weights.json").write_text(
        json.dumps(
            {
                "signal": weights.signal,
                "combinations": [list(p) for p in weights.combinations],
                "score_cutoffs": dict(weights.cutoffs) if weights.cutoffs else None,
                "pd_cutoffs": dict(weights.pd_cutoffs) if weights.pd_cutoffs else None,
                "fitted": weights.terms.as_dict() if weights.terms else None,
                **meta,
            },
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    report = {
        **meta,
        "base_rate": learned.base_rate,
        "observations": learned.observations,
        "defaults": learned.defaults,
        "lift": learned.lift.head(60).to_dicts(),
        "lead_times": learned.lead_times.to_dicts(),
        "combinations": learned.combinations.head(30).to_dicts(),
    }
    (folder / "learning.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
