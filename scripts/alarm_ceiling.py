"""The ceiling of 90-day early warning on a province: how many defaulters does anything the bank
can observe set apart from good borrowers ≥ 90 days ahead, at a given workload?

Rows: every hold-out borrower at each month start (as in ``scripts/alarm_eval_history.py``),
with every point-in-time feature of the month's snapshot (1,320 features: the lake with its
reporting lags, so nothing the bank could not see) and, optionally, the alarm's condition grades
and their persistence over the previous 90 days. A gradient-boosted model is fitted *inside the
hold-out itself* (5 folds grouped by firm, so each firm is scored by a model that never saw it
but did see the same months): more than any real policy can know, hence a ceiling. Label: the
first default falls 90–365 days after the row's date. Rows 0–89 days before a default are left
out (they cannot count as ≥ 90 days ahead).

For each workload (distinct firms flagged per 1,000 borrowers per month, as ``evaluate``
counts orange + red) it prints the share of the hold-out defaulters flagged at some row ≥ 90
days before their default.

    .venv/bin/python scripts/alarm_ceiling.py --data-dir /tmp/alarm-eval20k/A
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from puhui.features.store import load_features

LEAD = 90
HORIZON = 365


def monthly_rows(folder: Path, start: date, end: date, part: str = "holdout") -> pl.DataFrame:
    """Borrowers at the first scan of each month, dated to that month's start."""
    borrowers = pl.read_parquet(folder / f"{part}_borrowers.parquet")
    firsts = (
        borrowers.select("scan_date")
        .unique()
        .with_columns(pl.col("scan_date").dt.month_start().alias("month"))
        .group_by("month")
        .agg(pl.col("scan_date").min())
    )
    rows = borrowers.join(firsts, on="scan_date").select("uscc", "month")
    return rows.filter(pl.col("month").is_between(start, end))


def condition_features(folder: Path, rows: pl.DataFrame) -> pl.DataFrame:
    """Per row: worst grade rank per condition at the month's first scan and the share of
    scans in the previous 91 days where the condition fired (its persistence)."""
    from puhui.decisions.alarm.spec import LEVELS, load_signal_library

    library = load_signal_library()
    meta = pl.DataFrame(
        {
            "signal_id": [s.signal_id for s in library.signals],
            "condition": [s.condition for s in library.signals],
            "rank": [LEVELS.index(s.grade) + 1 for s in library.signals],
        }
    )
    parts = [p for p in ("train", "holdout") if (folder / f"{p}_fired.parquet").exists()]
    fired = pl.concat([pl.read_parquet(folder / f"{p}_fired.parquet") for p in parts]).join(
        meta, on="signal_id"
    )
    per_scan = fired.group_by("uscc", "scan_date", "condition").agg(pl.col("rank").max())
    scans = pl.concat([pl.read_parquet(folder / f"{p}_borrowers.parquet") for p in parts])
    keys = rows.join(scans, on="uscc").filter(
        (pl.col("scan_date") <= pl.col("month") + pl.duration(days=7))
        & (pl.col("scan_date") > pl.col("month") - pl.duration(days=91))
    )
    seen = keys.group_by("uscc", "month").agg(pl.len().alias("scans"))
    hits = keys.join(per_scan, on=["uscc", "scan_date"])
    persistence = (
        hits.group_by("uscc", "month", "condition")
        .agg(pl.len().alias("n"))
        .join(seen, on=["uscc", "month"])
        .with_columns((pl.col("n") / pl.col("scans")).alias("v"))
        .pivot(on="condition", index=["uscc", "month"], values="v")
    )
    persistence = persistence.rename({c: f"p_{c}" for c in persistence.columns[2:]})
    latest = (
        hits.sort("scan_date")
        .group_by("uscc", "month", "condition")
        .agg(pl.col("rank").last())
        .pivot(on="condition", index=["uscc", "month"], values="rank")
    )
    latest = latest.rename({c: f"g_{c}" for c in latest.columns[2:]})
    return rows.join(persistence, on=["uscc", "month"], how="left").join(
        latest, on=["uscc", "month"], how="left"
    )


def labelled(frame: pl.DataFrame, defaults: pl.DataFrame) -> pl.DataFrame:
    data = frame.join(defaults, on="uscc", how="left").with_columns(
        (pl.col("default_date") - pl.col("month")).dt.total_days().alias("days_to_default")
    )
    return data.filter(
        pl.col("days_to_default").is_null() | (pl.col("days_to_default") >= LEAD)
    ).with_columns(
        (pl.col("days_to_default").is_not_null() & (pl.col("days_to_default") <= HORIZON)).alias(
            "y"
        )
    )


def model():
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=40,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.3,
        reg_lambda=1.0,
        verbose=-1,
        n_jobs=1,
    )


def ceiling(
    frame: pl.DataFrame,
    defaults: pl.DataFrame,
    start: date,
    end: date,
    folds: int,
    prior: pl.DataFrame | None = None,
):
    """``prior``: labelled rows of an earlier period (another province's past): one model
    fitted on them scores the hold-out (an honest figure) instead of the in-hold-out folds."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    data = labelled(frame, defaults)
    features = [
        c
        for c in data.columns
        if c not in {"uscc", "month", "as_of", "default_date", "days_to_default", "y"}
        and data[c].dtype.is_numeric()
        and (prior is None or c in prior.columns)
    ]
    x = data.select(features).to_numpy().astype(np.float32)
    y = data["y"].to_numpy().astype(int)
    groups = data["uscc"].to_numpy()
    score = np.zeros(len(y))
    if prior is not None:
        fitted = model()
        fitted.fit(
            prior.select(features).to_numpy().astype(np.float32),
            prior["y"].to_numpy().astype(int),
        )
        score = fitted.predict_proba(x)[:, 1]
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups) if prior is None else ():
        fitted = model()
        fitted.fit(x[train], y[train])
        score[test] = fitted.predict_proba(x[test])[:, 1]
    scored = data.select("uscc", "month", "default_date", "days_to_default", "y").with_columns(
        pl.Series("score", score)
    )
    # the evaluation's defaulters: first default in [start + 90, end], borrower ≥ 90 days before
    targets = (
        scored.filter(
            pl.col("default_date").is_between(start + timedelta(days=LEAD), end)
            & (pl.col("days_to_default") <= HORIZON)
        )
        .select("uscc")
        .unique()
    )
    months = max((end - start).days / 30.4, 1.0)
    firms = frame.select("uscc").unique().height
    best = scored.group_by("uscc").agg(pl.col("score").max())
    target_best = best.join(targets, on="uscc", how="semi")["score"].to_numpy()
    all_best = np.sort(best["score"].to_numpy())[::-1]
    curve = {}
    for workload in (10, 20, 30, 40, 60, 100):
        flagged = int(workload * firms * months / 1000)
        cut = all_best[min(flagged, len(all_best) - 1)]
        curve[workload] = round(float((target_best > cut).mean()), 3) if len(target_best) else None
    return {
        "rows": len(y),
        "positive_rows": int(y.sum()),
        "features": len(features),
        "borrowers": firms,
        "defaulters": len(target_best),
        "oof_auc_90_365d": round(float(roc_auc_score(y, score)), 3),
        "share_distinguishable_90d_by_workload": curve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--with-conditions", action="store_true")
    parser.add_argument("--without-features", action="store_true")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--train-from",
        type=Path,
        default=None,
        help="fit on this province's earlier months (features only) instead of inside the hold-out",
    )
    parser.add_argument("--train-months", default="2024-01,2024-02,2024-03")
    parser.add_argument(
        "--exclude",
        default=None,
        help="comma-separated features left out (default: policy.yaml ew_pd.exclude_features, "
        "the ones that are not point in time; '' keeps every feature)",
    )
    args = parser.parse_args()
    from puhui.decisions.alarm.policy import load_policy

    excluded = (
        list(load_policy().ew_pd.exclude_features)
        if args.exclude is None
        else [f for f in args.exclude.split(",") if f]
    )
    folder = args.data_dir / "alarm" / "eval"
    meta_file = folder / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    start = date.fromisoformat(meta.get("train_end", "2025-06-30")) + timedelta(days=1)
    end = date.fromisoformat(meta.get("holdout_end", "2026-06-30"))
    rows = monthly_rows(folder, start, end)
    frame = rows
    if not args.without_features:
        parts = []
        for (month,), group in rows.group_by(["month"]):
            feats = load_features(
                args.data_dir / "features", month, usccs=group["uscc"].to_list()
            ).drop("as_of")
            parts.append(feats.with_columns(pl.lit(month, dtype=pl.Date).alias("month")))
        frame = frame.join(pl.concat(parts, how="diagonal_relaxed"), on=["uscc", "month"])
        frame = frame.drop([c for c in excluded if c in frame.columns])
    if args.with_conditions:
        frame = frame.join(condition_features(folder, rows), on=["uscc", "month"], how="left")
    defaults = pl.read_parquet(folder / "defaults.parquet")
    prior = None
    if args.train_from:
        source = args.train_from / "alarm" / "eval"
        rows_before = monthly_rows(source, date(2000, 1, 1), start, part="train")
        months = {date.fromisoformat(m + "-01") for m in args.train_months.split(",")}
        rows_before = rows_before.filter(pl.col("month").is_in(list(months)))
        parts = []
        for (month,), group in rows_before.group_by(["month"]):
            feats = load_features(
                args.train_from / "features", month, usccs=group["uscc"].to_list()
            ).drop("as_of")
            parts.append(feats.with_columns(pl.lit(month, dtype=pl.Date).alias("month")))
        prior = labelled(
            pl.concat(parts, how="diagonal_relaxed"),
            pl.read_parquet(source / "defaults.parquet"),
        )
    out = ceiling(frame, defaults, start, end, args.folds, prior)
    out["excluded"] = excluded
    if prior is not None:
        out["trained_on"] = f"{args.train_from} {args.train_months} ({prior.height} rows)"
    out["inputs"] = ("features " if not args.without_features else "") + (
        "conditions" if args.with_conditions else ""
    )
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
