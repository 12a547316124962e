"""Benchmark the daily scan's EW-PD step (预警PD) at 200k borrowers: read the month's snapshot for
every borrower and score the three champions, as ``AlarmScanner`` does once per scan.

``benchmarks/bench_alarm.py`` times the signal scan without an EW-PD. The shipped EW-PD is a
LightGBM on about 1,100 features per horizon, so this step reads some 1,200 columns for every
borrower; this script measures it on its own.

Input: a data folder where ``puhui alarm learn`` (or ``scripts/alarm_eval_history.py``)
registered the champions ``ew_pd_{3,6,12}m`` (or ``--prefix``) and built the snapshot of
``--month``. That snapshot's rows are replicated with new identifiers to ``--borrowers`` rows
in a temporary feature store (the replicas carry the source's real distributions); each run
scores all of them in a fresh child process that reports its own wall time and peak RSS.

    .venv/bin/python benchmarks/bench_ewpd.py --source /tmp/alarm-eval20k/A --prefix ew_pd_ceil
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl


def replicate(source: Path, month: date, borrowers: int, out_root: Path) -> list[str]:
    """The month's snapshot, its rows repeated with new USCCs to ``borrowers`` rows."""
    from puhui.features.store import BUILD_FILE, FEATURES_FILE, snapshot_dir

    frame = pl.read_parquet(snapshot_dir(source / "features", month) / FEATURES_FILE)
    copies = -(-borrowers // frame.height)
    parts = [
        frame.with_columns((pl.col("uscc") + pl.lit(f"R{i:03d}")).alias("uscc"))
        for i in range(copies)
    ]
    frame = pl.concat(parts).head(borrowers)
    folder = snapshot_dir(out_root, month)
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / FEATURES_FILE)
    (folder / BUILD_FILE).write_text("{}", encoding="utf-8")
    return frame["uscc"].to_list()


def score_once(source: Path, prefix: str, root: Path, month: date, queue) -> None:
    """Child process: load the champions, score every borrower, report time and peak RSS."""
    from puhui.actions.alarm.ewpd import EarlyWarningPD
    from puhui.cli.model import open_registry
    from puhui.settings import Settings

    usccs = pl.read_parquet(next(root.rglob("features.parquet")), columns=["uscc"])["uscc"]
    with open_registry(Settings(data_dir=source)) as registry:
        started = time.perf_counter()
        ew_pd = EarlyWarningPD(registry, root, name_prefix=prefix)
        loaded = time.perf_counter()
        scored, missing = ew_pd.score(month, usccs.to_list())
        done = time.perf_counter()
    features = len({f for _, meta in ew_pd.models.values() for f in meta.features})
    queue.put(
        {
            "models_load_s": loaded - started,
            "score_s": done - loaded,
            "total_s": done - started,
            "rows": scored.height,
            "scored_pd": int(scored["pd_6m"].is_not_null().sum()),
            "features_read": features,
            "missing": missing,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, type=Path)
    parser.add_argument("--prefix", default="ew_pd")
    parser.add_argument("--month", default="2026-06-01")
    parser.add_argument("--borrowers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    month = date.fromisoformat(args.month)
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-ewpd-") as folder:
        root = Path(folder) / "features"
        started = time.perf_counter()
        replicate(args.source, month, args.borrowers, root)
        print(
            f"replicated to {args.borrowers:,} borrowers in {time.perf_counter() - started:.1f} s"
        )
        runs = []
        for run in range(args.runs):
            queue = context.Queue()
            child = context.Process(
                target=score_once, args=(args.source, args.prefix, root, month, queue)
            )
            child.start()
            result = queue.get()
            child.join()
            runs.append(result)
            print(
                f"run {run + 1}: total {result['total_s']:.1f} s "
                f"(models {result['models_load_s']:.1f} s, "
                f"read + score {result['score_s']:.1f} s), {result['rows']:,} rows, "
                f"{result['features_read']:,} features, peak RSS {result['peak_rss_gib']:.2f} GiB",
                flush=True,
            )
    print(
        f"median of {len(runs)}: total {statistics.median(r['total_s'] for r in runs):.1f} s, "
        f"read + score {statistics.median(r['score_s'] for r in runs):.1f} s, peak RSS "
        f"{statistics.median(r['peak_rss_gib'] for r in runs):.2f} GiB; "
        f"missing: {runs[-1]['missing'] or 'nothing'}"
    )


if __name__ == "__main__":
    main()
