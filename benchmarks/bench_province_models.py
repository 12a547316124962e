"""Credit models on a synthetic province: out-of-time AUC/KS of the scorecard, EBM and LightGBM.

    .venv/bin/python benchmarks/bench_province_models.py --data-dir /tmp/bench-models \
        --enterprises 10000 --months 36 --seed 3

Simulates the province (unless ``<data-dir>/lake`` exists), ingests it, builds monthly feature
snapshots from the first month with 12 months of history to the last one whose outcomes can
mature, then for application PD and behaviour PD (12 months) builds the point-in-time dataset,
selects features on development rows and trains each algorithm on the same time-ordered split.
It also reports, from the simulator's ground truth (allowed in benchmarks only), how well the
observable labels track what really happened. Prints a Markdown table for docs/BENCHMARKS.md
and writes ``<data-dir>/bench_province_models.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import polars as pl

from puhui.data.ingest import ingest_directory
from puhui.data.lake import Lake
from puhui.data.simulate import build_config, simulate_province
from puhui.features.catalog import load_feature_catalog
from puhui.features.engines import DuckDBEngine
from puhui.features.store import build_snapshots
from puhui.features.timing import add_months
from puhui.models import workflow
from puhui.models.datasets import build_dataset, lake_last_month, month_dates
from puhui.models.labels import application_labels, first_payment_default_labels
from puhui.models.training import DEVELOPMENT, OUT_OF_TIME, VALIDATION

TARGETS = ("application_pd", "behaviour_pd_12m")
ALGORITHMS = ("scorecard", "ebm", "lightgbm")


def _province(data_dir: Path, enterprises: int, months: int, seed: int, end: str) -> Lake:
    lake_root = data_dir / "lake"
    if Lake(lake_root).batches():
        print(f"using the existing lake {lake_root}", flush=True)
        return Lake(lake_root)
    started = time.perf_counter()
    incoming = data_dir / "incoming" / "province"
    config = build_config(enterprises=enterprises, months=months, seed=seed, end_month=end)
    simulate_province(config, incoming)
    lake = Lake(lake_root)
    result = ingest_directory(lake, incoming, rejections_dir=data_dir / "rejections")
    if not result.ok:
        raise SystemExit(f"ingest rejected {[r.table for r in result.rejected]}")
    print(f"simulated and ingested in {time.perf_counter() - started:,.0f} s", flush=True)
    return lake


def _label_quality(connection) -> dict[str, float]:
    """How the observable labels compare with the simulator's truth (booked, matured rows)."""
    truth = pl.from_arrow(
        connection.sql(
            "select application_id, is_fraud, defaulted_within_12m from truth_application"
        ).to_arrow_table()
    )
    booked = application_labels(connection).filter(pl.col("matured"))
    booked = booked.join(truth, on="application_id")
    bad = booked["bad_12m"] == 1
    real = booked["defaulted_within_12m"]
    fpd = first_payment_default_labels(connection).filter(pl.col("fpd_6m").is_not_null())
    fpd = fpd.join(truth, on="application_id")
    flagged = fpd["fpd_6m"] == 1
    return {
        "application_bad_precision": float(real.filter(bad).mean() or 0.0),
        "application_bad_recall": float(bad.filter(real).mean() or 0.0),
        "fpd_precision_for_fraud": float(fpd["is_fraud"].filter(flagged).mean() or 0.0),
        "fpd_recall_of_fraud": float(flagged.filter(fpd["is_fraud"]).mean() or 0.0),
        "fraud_rate_booked": float(fpd["is_fraud"].mean() or 0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bench-models"))
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--end-month", default="2026-06")
    parser.add_argument(
        "--history-months",
        type=int,
        default=12,
        help="months of lake history before the first as-of date (12: full 12-month windows)",
    )
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    lake = _province(args.data_dir, args.enterprises, args.months, args.seed, args.end_month)
    connection = lake.connect()
    last = lake_last_month(connection)
    first_month = connection.sql("select min(month) from bank_loan_monthly").fetchall()[0][0]
    # From the first date with --history-months of history (earlier snapshots have truncated
    # 12-month windows, whose meaning shifts as history grows) to the last as-of date whose
    # 12-month behaviour window can mature.
    dates = month_dates(add_months(first_month, args.history_months), add_months(last, -11))
    started = time.perf_counter()
    catalog = load_feature_catalog()
    build_snapshots(lake, catalog, dates, args.data_dir / "features", DuckDBEngine())
    snapshot_seconds = time.perf_counter() - started
    print(f"{len(dates)} snapshots ready in {snapshot_seconds:,.0f} s", flush=True)

    results: dict[str, object] = {
        "province": {
            "enterprises": args.enterprises,
            "months": args.months,
            "seed": args.seed,
            "history_months": args.history_months,
            "snapshots": [dates[0].isoformat(), dates[-1].isoformat(), len(dates)],
            "snapshot_seconds": round(snapshot_seconds, 1),
        },
        "labels": _label_quality(connection),
        "models": [],
    }
    rows = []
    for target in TARGETS:
        started = time.perf_counter()
        dataset = build_dataset(connection, args.data_dir / "features", target, dates=dates)
        prepared = workflow.prepare(dataset)
        prepare_seconds = time.perf_counter() - started
        for algorithm in ALGORITHMS:
            started = time.perf_counter()
            result = workflow.fit(prepared, algorithm, catalog)
            seconds = time.perf_counter() - started
            m = result.metrics
            row = {
                "target": target,
                "algorithm": algorithm,
                "features": len(result.features),
                **{
                    f"{split}_{key}": m.get(split, {}).get(key)
                    for split in (DEVELOPMENT, VALIDATION, OUT_OF_TIME)
                    for key in ("count", "bad_rate", "auc", "ks")
                },
                "split": [str(prepared.split.development_end), str(prepared.split.validation_end)],
                "prepare_seconds": round(prepare_seconds, 1),
                "fit_seconds": round(seconds, 1),
            }
            rows.append(row)
            print(json.dumps(row, default=str), flush=True)
    results["models"] = rows
    out = args.data_dir / "bench_province_models.json"
    out.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")

    print("\n| target | model | OOT rows (bads) | OOT AUC | OOT KS | validation AUC | dev AUC |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        oot_bads = round((r["out_of_time_count"] or 0) * (r["out_of_time_bad_rate"] or 0))
        print(
            f"| {r['target']} | {r['algorithm']} | {int(r['out_of_time_count'] or 0):,} "
            f"({oot_bads}) | {r['out_of_time_auc']:.3f} | {r['out_of_time_ks']:.3f} | "
            f"{r['validation_auc']:.3f} | {r['development_auc']:.3f} |"
        )
    print("\nlabels vs truth:", json.dumps(results["labels"], indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
