"""Scan a province's past once and keep the result, for honest offline evaluation of the alarm.

``puhui alarm learn`` scans the history, learns and grades in one go; tuning the policy that
way re-scans everything for every variant. This script runs the same steps once (feature
snapshots, EW-PD trained on outcomes up to ``--train-end``, signal scans of the training
history every ``--step-days`` and of the hold-out every 7 days, exactly as ``learn`` does) and
writes the frames to ``<data>/alarm/eval/`` for ``scripts/alarm_eval.py``.

    .venv/bin/python scripts/alarm_eval_history.py --data-dir /tmp/alarm-eval20k/A
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
    parser.add_argument("--stage", choices=["all", "scans", "pd"], default="all")
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
    for name, dates in parts.items() if args.stage != "pd" else ():  # need no snapshot
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
    source = Settings(data_dir=args.models_from) if args.models_from else settings
    while args.models_from and not (alarm_dir(source) / "eval" / "meta.json").exists():
        time.sleep(30)  # the other province's EW-PD is still being trained
    with open_registry(source) as registry:
        started = time.perf_counter()
        trained = (
            []
            if args.models_from
            else train_ew_pd(lake.connect(), features_root, registry, train_end=train_end)
        )
        timings["ew_pd_s"] = time.perf_counter() - started
        ew_pd = EarlyWarningPD(registry, features_root)
        for name in parts:
            borrowers = pl.read_parquet(out / f"{name}_borrowers.parquet")
            scored = []
            for (day,), group in borrowers.group_by(["scan_date"], maintain_order=True):
                frame, _ = ew_pd.score(day, group["uscc"].to_list())
                scored.append(frame.with_columns(pl.lit(day, dtype=pl.Date).alias("scan_date")))
            pl.concat(scored).write_parquet(out / f"{name}_pds.parquet")
    meta = {
        "train_end": train_end.isoformat(),
        "holdout_end": holdout_end.isoformat(),
        "history_from": history_from.isoformat(),
        "step_days": args.step_days,
        "models_from": str(args.models_from) if args.models_from else None,
        "ew_pd": [
            {"name": t.name, "rows": t.rows, "events": t.events, "auc_oot": t.auc_out_of_time}
            for t in trained
        ],
        "timings": {k: round(v, 1) for k, v in timings.items()},
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
