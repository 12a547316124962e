"""Grade alarm policies offline on a scanned history (``scripts/alarm_eval_history.py``).

Each variant learns only from the training scans (outcomes up to ``train_end``) and is graded on
the hold-out scans against the defaults that followed, with the same ``evaluate`` as
``puhui alarm learn``. Next to the share warned ≥ 90 days ahead it prints the workload (distinct
firms reaching orange or red per 1,000 borrowers per month): recall at a fixed workload is the
honest comparison.

    .venv/bin/python scripts/alarm_eval.py --data-dir /tmp/alarm-eval20k/A --variant shipped
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from puhui.actions.alarm.history import History, evaluate, learn_weights, levels_over_time
from puhui.decisions.alarm.combine import Weights
from puhui.decisions.alarm.fitting import fit
from puhui.decisions.alarm.learning import calibrate_cutoffs
from puhui.decisions.alarm.policy import LevelPolicy, load_policy, with_cutoffs
from puhui.decisions.alarm.spec import LEVELS, load_signal_library


def load(folder: Path, part: str) -> History:
    pds = folder / f"{part}_pds.parquet"
    empty = {"uscc": pl.String, "pd_3m": pl.Float64, "pd_6m": pl.Float64, "pd_12m": pl.Float64}
    return History(
        pl.read_parquet(folder / f"{part}_fired.parquet"),
        pl.read_parquet(folder / f"{part}_borrowers.parquet"),
        pl.read_parquet(pds)
        if pds.exists()
        else pl.DataFrame(schema=empty | {"scan_date": pl.Date}),
    )


def severe_workload(levels: pl.DataFrame, borrowers: pl.DataFrame, defaults, start, end) -> float:
    """Distinct firms reaching orange or red per 1,000 borrowers per month (as ``evaluate``)."""
    alive = (
        borrowers.filter(pl.col("scan_date").is_between(start, end))
        .join(defaults, on="uscc", how="left")
        .filter(pl.col("default_date").is_null() | (pl.col("default_date") > pl.col("scan_date")))
    )
    graded = levels.filter(pl.col("scan_date").is_between(start, end)).join(
        alive.select("uscc", "scan_date"), on=["uscc", "scan_date"], how="semi"
    )
    months = max((end - start).days / 30.4, 1.0)
    firms = alive.select("uscc").unique().height
    hit = graded.filter(pl.col("level").is_in(["orange", "red"])).select("uscc").unique().height
    return round(1000 * hit / (firms * months), 2) if firms else 0.0


def run(
    folder: Path,
    policy: LevelPolicy,
    variant: str,
    learn_from: Path | None = None,
    sweep: list[float] | None = None,
) -> dict:
    meta_file = folder / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    train_end = date.fromisoformat(meta.get("train_end", "2025-06-30"))
    holdout_end = date.fromisoformat(meta.get("holdout_end", "2026-06-30"))
    library = load_signal_library()
    defaults = pl.read_parquet(folder / "defaults.parquet")
    source = learn_from or folder
    train, holdout = load(source, "train"), load(folder, "holdout")
    train_defaults = pl.read_parquet(source / "defaults.parquet")
    if variant == "shipped":
        _, weights = learn_weights(train, train_defaults, library, policy, outcome_end=train_end)
    elif variant == "no_pd":
        _, weights = learn_weights(
            replace(train, pds=train.pds.clear()),
            train_defaults,
            library,
            policy,
            outcome_end=train_end,
        )
        holdout = replace(holdout, pds=holdout.pds.clear())
    elif variant.startswith("fitted"):
        # fitted[:nopersist][:nopd][:C=0.05][:lead=60]
        options = dict(o.split("=") if "=" in o else (o, "1") for o in variant.split(":")[1:])
        model = fit(
            train.fired,
            train.borrowers,
            train.pds,
            train_defaults,
            library,
            policy.grade_points,
            outcome_end=train_end,
            pd_column=f"pd_{policy.pd_horizon_months}m",
            min_lead_days=int(options.get("lead", 60)),
            use_persistence="nopersist" not in options,
            use_pd="nopd" not in options,
            strength=float(options.get("C", 0.05)),
        )
        weights = Weights(model.signal_weights, (), None, model.terms)
        scored = levels_over_time(train, library, policy, weights, keep_all=True)
        calibration = train.borrowers
        with_pd = train.pds.filter(pl.col(f"pd_{policy.pd_horizon_months}m").is_not_null())
        if with_pd.height and "nopd" not in options:
            # only some training months have a snapshot here: calibrate on those (PD points)
            calibration = calibration.join(with_pd, on=["uscc", "scan_date"], how="semi")
        every = calibration.join(
            scored.select("uscc", "scan_date", "score"), on=["uscc", "scan_date"], how="left"
        )["score"].fill_null(0.0)
        weights = replace(weights, cutoffs=calibrate_cutoffs(every, policy.target_shares))
    else:
        raise SystemExit(f"unknown variant {variant}")
    start = train_end + timedelta(days=1)
    if not sweep:
        levels = levels_over_time(holdout, library, policy, weights)
        return grade(levels, holdout, defaults, start, holdout_end) | {
            "variant": variant,
            "cutoffs": dict(weights.cutoffs or {}),
        }
    # recall at several workloads: the orange share of training borrower-days moves, the
    # learned weights stay; hold-out scores are computed once and re-levelled
    train_scores = train.borrowers.join(
        levels_over_time(train, library, policy, weights, keep_all=True).select(
            "uscc", "scan_date", "score"
        ),
        on=["uscc", "scan_date"],
        how="left",
    )["score"].fill_null(0.0)
    every = levels_over_time(holdout, library, policy, weights, keep_all=True)
    out = []
    for share in sweep:
        shares = dict(policy.target_shares) | {
            "orange": share,
            "red": min(policy.target_shares["red"], share / 2),
            "yellow": max(policy.target_shares["yellow"], share * 1.5),
            "blue": max(policy.target_shares["blue"], share * 2.5),
        }
        cut = with_cutoffs(policy, calibrate_cutoffs(train_scores, shares))
        levels = relevel(every, cut)
        out.append(grade(levels, holdout, defaults, start, holdout_end) | {"orange_share": share})
    return {"variant": variant, "sweep": out}


def relevel(every: pl.DataFrame, policy: LevelPolicy) -> pl.DataFrame:
    """Levels of scored rows under other cut-offs (as ``combine.assess``: score, PD, veto)."""

    def rank(column: str, cutoffs: dict[str, float]) -> pl.Expr:
        expr = pl.lit(-1)
        for i, level in enumerate(LEVELS):
            expr = pl.when(pl.col(column) >= cutoffs[level]).then(pl.lit(i)).otherwise(expr)
        return expr

    ranked = every.with_columns(
        pl.when(pl.col("veto"))
        .then(len(LEVELS) - 1)
        .otherwise(
            pl.max_horizontal(
                rank("score", dict(policy.score_levels)),
                rank("pd", dict(policy.pd_levels)).fill_null(-1),
            )
        )
        .alias("rank")
    ).filter(pl.col("rank") >= 0)
    names = dict(enumerate(LEVELS))
    return ranked.with_columns(
        pl.col("rank").replace_strict(names, return_dtype=pl.String).alias("level")
    ).select("uscc", "scan_date", "level", "score", "veto", "pd")


def grade(levels: pl.DataFrame, holdout: History, defaults, start: date, end: date) -> dict:
    result = evaluate(levels, holdout.borrowers, defaults, start=start, end=end).as_dict()
    result["orange_red_per_1000_month"] = severe_workload(
        levels, holdout.borrowers, defaults, start, end
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--variant", default="shipped")
    parser.add_argument(
        "--learn-from",
        type=Path,
        default=None,
        help="learn from this province's training scans, grade --data-dir's hold-out",
    )
    parser.add_argument("--sweep", default="", help="orange shares, e.g. 0.02,0.05,0.1")
    parser.add_argument("--policy-json", default="", help="overrides of policy.yaml, as JSON")
    args = parser.parse_args()
    policy = load_policy()
    if args.policy_json:
        policy = LevelPolicy.model_validate(policy.model_dump() | json.loads(args.policy_json))
    learn_from = args.learn_from / "alarm" / "eval" if args.learn_from else None
    sweep = [float(v) for v in args.sweep.split(",")] if args.sweep else None
    out = run(args.data_dir / "alarm" / "eval", policy, args.variant, learn_from, sweep)
    print(json.dumps(out, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
