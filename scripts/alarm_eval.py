"""Grade alarm policies offline on a scanned history (``scripts/alarm_eval_history.py``).

Each variant learns only from the training scans (outcomes up to ``train_end``) and is graded on
the hold-out scans against the defaults that followed, with the same ``evaluate`` as
``puhui alarm learn``. Next to the share warned ≥ 90 days ahead it prints the workload (distinct
firms reaching orange or red per 1,000 borrowers per month): recall at a fixed workload is the
honest comparison.

    .venv/bin/python scripts/alarm_eval.py --data-dir /tmp/alarm-eval20k/A --variant shipped

``--pds lgbm`` grades with an EW-PD variant scored by ``alarm_eval_history.py --pd-tag lgbm``;
``--pd-sweep 0.01,0.02`` learns the EW-PD's cut-offs from those orange shares of training
borrower-days (``ew_pd.levels: learned``), crossed with every ``--sweep`` share of the score.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from puhui.actions.alarm.history import (
    History,
    evaluate,
    learn_pd_cutoffs,
    learn_weights,
    levels_over_time,
)
from puhui.decisions.alarm.combine import Weights
from puhui.decisions.alarm.fitting import fit
from puhui.decisions.alarm.learning import calibrate_cutoffs
from puhui.decisions.alarm.policy import LevelPolicy, load_policy, with_cutoffs
from puhui.decisions.alarm.spec import LEVELS, load_signal_library


def load(folder: Path, part: str, pd_tag: str = "") -> History:
    pds = folder / f"{part}_pds{'.' + pd_tag if pd_tag else ''}.parquet"
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
    pd_tag: str = "",
    pd_sweep: list[float] | None = None,
) -> dict:
    tagged = folder / f"meta.{pd_tag}.json"
    meta_file = tagged if pd_tag and tagged.exists() else folder / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    train_end = date.fromisoformat(meta.get("train_end", "2025-06-30"))
    holdout_end = date.fromisoformat(meta.get("holdout_end", "2026-06-30"))
    library = load_signal_library()
    defaults = pl.read_parquet(folder / "defaults.parquet")
    source = learn_from or folder
    train, holdout = load(source, "train", pd_tag), load(folder, "holdout", pd_tag)
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
        weights = replace(
            weights,
            cutoffs=calibrate_cutoffs(every, policy.target_shares),
            pd_cutoffs=learn_pd_cutoffs(train.pds, policy),
        )
    else:
        raise SystemExit(f"unknown variant {variant}")
    start = train_end + timedelta(days=1)
    if not sweep:
        levels = levels_over_time(holdout, library, policy, weights)
        return grade(levels, holdout, defaults, start, holdout_end) | {
            "variant": variant,
            "pd": pd_tag or "shipped",
            "cutoffs": dict(weights.cutoffs or {}),
            "pd_cutoffs": dict(weights.pd_cutoffs or {}),
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
    pd_column = f"pd_{policy.pd_horizon_months}m"
    train_pds = train.pds[pd_column].drop_nulls() if pd_column in train.pds.columns else None
    pd_grid: list[float | None] = list(pd_sweep) if pd_sweep else [None]
    if pd_sweep:  # PD cut-offs learned from shares of training borrower-days with a PD
        policy = policy.model_copy(
            update={"ew_pd": policy.ew_pd.model_copy(update={"levels": "learned"})}
        )
        if train_pds is None or train_pds.is_empty():
            raise SystemExit(f"--pd-sweep needs training PDs ({pd_column}); none were scored")
    out = []
    for share in sweep:
        for pd_share in pd_grid:
            pd_cut = (
                calibrate_cutoffs(train_pds, stepped(policy.ew_pd.target_shares, pd_share))
                if pd_share is not None and train_pds is not None
                else weights.pd_cutoffs
            )
            cut = with_cutoffs(
                policy,
                calibrate_cutoffs(train_scores, stepped(SCORE_SWEEP_BASE, share)),
                pd_cut,
            )
            levels = relevel(every, cut)
            out.append(
                grade(levels, holdout, defaults, start, holdout_end)
                | {"orange_share": share, "pd_orange_share": pd_share}
                | ({"pd_cutoffs": {k: round(v, 5) for k, v in pd_cut.items()}} if pd_cut else {})
            )
    return {"variant": variant, "pd": pd_tag or "shipped", "sweep": out}


# The score's shares the sweeps step from (policy.yaml's until session 7), fixed so that the
# documented grids reproduce whatever the shipped shares are now.
SCORE_SWEEP_BASE = {"blue": 0.15, "yellow": 0.09, "orange": 0.05, "red": 0.015}


def stepped(shares: dict[str, float] | None, orange: float) -> dict[str, float]:
    """Shares with orange moved and the others following (red at most half of orange)."""
    base = dict(shares or {"blue": 0.15, "yellow": 0.09, "orange": 0.05, "red": 0.015})
    return base | {
        "orange": orange,
        "red": min(base["red"], orange / 2),
        "yellow": max(base["yellow"], orange * 1.5),
        "blue": max(base["blue"], orange * 2.5),
    }


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
    parser.add_argument(
        "--pds", default="", help="EW-PD variant: read <part>_pds.<tag>.parquet (default: shipped)"
    )
    parser.add_argument(
        "--pd-sweep",
        default="",
        help="orange shares of training borrower-days for the EW-PD's learned cut-offs; each is "
        "combined with every --sweep share",
    )
    args = parser.parse_args()
    policy = load_policy()
    if args.policy_json:
        raw = policy.model_dump()
        overrides = json.loads(args.policy_json)
        if "ew_pd" in overrides:  # a partial ew_pd block updates the shipped one
            overrides["ew_pd"] = raw["ew_pd"] | overrides["ew_pd"]
        policy = LevelPolicy.model_validate(raw | overrides)
    learn_from = args.learn_from / "alarm" / "eval" if args.learn_from else None
    sweep = [float(v) for v in args.sweep.split(",")] if args.sweep else None
    pd_sweep = [float(v) for v in args.pd_sweep.split(",")] if args.pd_sweep else None
    if pd_sweep and not sweep:
        sweep = [policy.target_shares["orange"]]
    out = run(
        args.data_dir / "alarm" / "eval",
        policy,
        args.variant,
        learn_from,
        sweep,
        args.pds,
        pd_sweep,
    )
    print(json.dumps(out, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
