"""Scan a province's past once and keep the result, for honest offline evaluation of the alarm.

``puhui alarm learn`` scans the history, learns and grades in one go; tuning the policy that
way re-scans everything for every variant. This script runs the same steps once (feature
snapshots, EW-PD trained on outcomes up to ``--train-end``, signal scans of the training
history every ``--step-days`` and of the hold-out every 7 days, exactly as ``learn`` does) and
writes the frames to ``<data>/alarm/eval/`` for ``scripts/alarm_eval.py``.

    .venv/bin/python scripts/alarm_eval_history.py --data-dir /tmp/alarm-eval20k/A

``--stage pd --pd-tag lgbm --algorithm lightgbm --max-features 120`` trains and scores an EW-PD
variant beside the shipped one (``ew_pd_lgbm_{h}m``, ``<part>_pds.lgbm.parquet``), so
``scripts/alarm_eval.py --pds lgbm`` can grade the alarm with it.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from puhui.actions.alarm.ewpd import EarlyWarningPD, train_ew_pd
from puhui.actions.alarm.history import default_dates, scan_dates, scan_history
from puhui.actions.alarm.learning_service import ensure_snapshots, months_between
from puhui.actions.alarm.runner import DuckDBScanEngine
from puhui.actions.alarm.wiring import alarm_dir, feature_lags
from puhui.cli.model import open_registry
from puhui.data.lake import Lake
from puhui.decisions.alarm.policy import EarlyWarningPDPolicy, load_policy
from puhui.decisions.alarm.spec import load_signal_library
from puhui.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--train-end", default="2025-06-30")
    parser.add_argument("--history-from", default="2023-10-01")
    parser.add_argument("--holdout-end", default="2026-06-30")
    parser.add_argument("--snapshots-from", default="2024-01-01")
    parser.add_argument("--step-days", type=int, default=14)
    parser.add_argument(
        "--snapshot-months",
        default="",
        help="comma-separated YYYY-MM to build (default: every month from --snapshots-from)",
    )
    parser.add_argument(
        "--models-from",
        type=Path,
        default=None,
        help="score the EW-PD with the champions of this data folder and scan only the hold-out",
    )
    parser.add_argument(
        "--stage",
        choices=["all", "scans", "models", "pd"],
        default="all",
        help="scans: signal scans only; models: snapshots and EW-PD training only (writes "
        "models[.<tag>].json with the out-of-time AUCs); pd: score the scans with the EW-PD "
        "(trains it first unless models[.<tag>].json exists); all: everything",
    )
    parser.add_argument(
        "--pd-tag",
        default="",
        help="train and score an EW-PD variant side by side: models ew_pd_<tag>_{h}m, files "
        "<part>_pds.<tag>.parquet and meta.<tag>.json (default: the champions ew_pd_{h}m)",
    )
    parser.add_argument("--algorithm", default=None, help="override policy.yaml ew_pd.algorithm")
    parser.add_argument("--max-features", type=int, default=None, help="override ew_pd budget")
    parser.add_argument("--screen-top", type=int, default=None, help="override ew_pd.screen_top")
    parser.add_argument("--selection", default=None, help="override ew_pd.selection")
    parser.add_argument("--lead-days", type=int, default=None, help="override ew_pd.lead_days")
    parser.add_argument(
        "--params", default=None, help="override ew_pd.params, JSON, e.g. '{\"num_leaves\": 15}'"
    )
    parser.add_argument("--refit", action="store_true", default=None, help="ew_pd.refit: true")
    parser.add_argument(
        "--no-monotone",
        dest="monotone",
        action="store_false",
        default=None,
        help="ew_pd.monotone: false",
    )
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir)
    train_end = date.fromisoformat(args.train_end)
    holdout_end = date.fromisoformat(args.holdout_end)
    history_from = date.fromisoformat(args.history_from)
    out = alarm_dir(settings) / "eval"
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    lake = Lake(settings.lake_dir)
    library, lags = load_signal_library(), feature_lags()
    features_root = Path(settings.data_dir) / "features"
    engine = DuckDBScanEngine()
    parts = {
        "train": scan_dates(history_from, train_end, args.step_days),
        "holdout": scan_dates(train_end + timedelta(days=1), holdout_end, 7),
    }
    if args.models_from:  # a province graded with what was learned on another one
        del parts["train"]
    default_dates(lake.connect()).write_parquet(out / "defaults.parquet")
    for name, dates in parts.items() if args.stage in ("all", "scans") else ():
        started = time.perf_counter()
        history = scan_history(lake, library, lags, dates, engine, alarm_dir(settings) / "cache")
        history.fired.write_parquet(out / f"{name}_fired.parquet")
        history.borrowers.write_parquet(out / f"{name}_borrowers.parquet")
        timings[f"{name}_scans_s"] = time.perf_counter() - started
        timings[f"{name}_scans"] = len(dates)
        print(name, "scanned", timings, flush=True)
    engine.close()
    if args.stage == "scans":
        return
    started = time.perf_counter()
    months = (
        [date.fromisoformat(m + "-01") for m in args.snapshot_months.split(",")]
        if args.snapshot_months
        else months_between(date.fromisoformat(args.snapshots_from), holdout_end)
    )
    ensure_snapshots(settings, months)
    timings["snapshots_s"] = time.perf_counter() - started
    suffix = f".{args.pd_tag}" if args.pd_tag else ""
    prefix = f"ew_pd_{args.pd_tag}" if args.pd_tag else "ew_pd"
    overrides = {
        key: value
        for key, value in (
            ("algorithm", args.algorithm),
            ("max_features", args.max_features),
            ("screen_top", args.screen_top),
            ("selection", args.selection),
            ("lead_days", args.lead_days),
            ("params", json.loads(args.params) if args.params else None),
            ("refit", args.refit),
            ("monotone", args.monotone),
        )
        if value is not None
    }
    config = EarlyWarningPDPolicy.model_validate(load_policy().ew_pd.model_dump() | overrides)
    source = Settings(data_dir=args.models_from) if args.models_from else settings
    while args.models_from and not (alarm_dir(source) / "eval" / f"meta{suffix}.json").exists():
        time.sleep(30)  # the other province's EW-PD is still being trained
    models_file = out / f"models{suffix}.json"
    with open_registry(source) as registry:
        started = time.perf_counter()
        trained: list[dict] = []
        if args.models_from:
            pass
        elif models_file.exists() and args.stage != "models":  # trained by --stage models
            trained = json.loads(models_file.read_text(encoding="utf-8"))["ew_pd"]
        else:
            trained = [
                t.as_dict()
                for t in train_ew_pd(
                    lake.connect(),
                    features_root,
                    registry,
                    train_end=train_end,
                    config=config,
                    name_prefix=prefix,
                )
            ]
            timings["ew_pd_s"] = time.perf_counter() - started
            models_file.write_text(
                json.dumps(
                    {
                        "train_end": train_end.isoformat(),
                        "ew_pd_config": config.model_dump(),
                        "ew_pd": trained,
                        "timings": {k: round(v, 1) for k, v in timings.items()},
                    },
                    indent=1,
                ),
                encoding="utf-8",
            )
            print(models_file.read_text(encoding="utf-8"), flush=True)
        if args.stage == "models":
            return
        ew_pd = EarlyWarningPD(registry, features_root, name_prefix=prefix)
        for name in parts:
            borrowers = pl.read_parquet(out / f"{name}_borrowers.parquet")
            scored = []
            for (day,), group in borrowers.group_by(["scan_date"], maintain_order=True):
                frame, _ = ew_pd.score(day, group["uscc"].to_list())
                scored.append(frame.with_columns(pl.lit(day, dtype=pl.Date).alias("scan_date")))
            pl.concat(scored).write_parquet(out / f"{name}_pds{suffix}.parquet")
    meta = {
        "train_end": train_end.isoformat(),
        "holdout_end": holdout_end.isoformat(),
        "history_from": history_from.isoformat(),
        "step_days": args.step_days,
        "models_from": str(args.models_from) if args.models_from else None,
        "ew_pd_config": config.model_dump(),
        "ew_pd": trained,
        "timings": {k: round(v, 1) for k, v in timings.items()},
    }
    (out / f"meta{suffix}.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
