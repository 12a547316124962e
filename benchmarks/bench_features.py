"""Benchmark the feature store: every feature as of one date, monthly snapshots, both engines.

A province is simulated and ingested once into ``--workdir`` (kept between invocations, so
repeated runs time only the feature build). Each timed build runs in a fresh child process that
reports its own peak RSS (DuckDB's memory is inside the process; Spark's JVM is a child of it
and counted through RUSAGE_CHILDREN).

    .venv/bin/python benchmarks/bench_features.py --enterprises 100000 --runs 3
    .venv/bin/python benchmarks/bench_features.py --enterprises 100000 --snapshots 36
    .venv/bin/python benchmarks/bench_features.py --enterprises 10000 --engine spark
    .venv/bin/python benchmarks/bench_features.py --enterprises 100000 --partitions 4
    .venv/bin/python benchmarks/bench_features.py --enterprises 1000000 --engine spark \
        --no-next-month --spark-driver-memory 10g

``--partitions`` builds the firms in that many hash slices (DuckDB; default: one per 100,000
firms); ``--no-next-month`` skips the incremental build that follows the timed one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def _prepare(workdir: Path, enterprises: int, months: int, seed: int) -> Path:
    """The lake of a province, simulated and ingested once per size."""
    from puhui.data.ingest import ingest_directory
    from puhui.data.lake import Lake
    from puhui.data.simulate import build_config, simulate_province

    folder = workdir / f"province-{enterprises}x{months}-{seed}"
    lake_root = folder / "lake"
    if (folder / "ready").exists():
        return lake_root
    shutil.rmtree(folder, ignore_errors=True)
    incoming = folder / "incoming"
    started = time.perf_counter()
    simulate_province(
        build_config(enterprises=enterprises, months=months, seed=seed, end_month="2026-06"),
        incoming,
    )
    result = ingest_directory(Lake(lake_root), incoming, rejections_dir=folder / "rejections")
    if not result.ok:
        raise SystemExit(f"ingest rejected {[r.table for r in result.rejected]}")
    shutil.rmtree(incoming)
    (folder / "ready").write_text("ok")
    print(
        f"prepared {enterprises:,} firms × {months} months in {time.perf_counter() - started:.0f} s"
    )
    return lake_root


def _one_build(
    lake_root: str,
    dates: list[date],
    engine: str,
    partitions: int | None,
    next_month: bool,
    queue: multiprocessing.Queue,
    spark_memory: str = "4g",
    spark_partitions: int = 8,
) -> None:
    from puhui.data.lake import Lake
    from puhui.features.catalog import load_feature_catalog
    from puhui.features.engines import DuckDBEngine, SparkEngine, spark_session
    from puhui.features.store import build_snapshots

    out = Path(tempfile.mkdtemp(prefix="puhui-bench-features-"))
    try:
        catalog = load_feature_catalog()
        if engine == "duckdb":
            chosen = DuckDBEngine()
        else:
            chosen = SparkEngine(spark_session("local[2]", spark_memory, spark_partitions))
        lake = Lake(Path(lake_root))
        started = time.perf_counter()
        results = build_snapshots(lake, catalog, dates, out, chosen, partitions=partitions)
        wall = time.perf_counter() - started
        # One more month on top of the history: what the monthly job pays once the past exists.
        incremental = float("nan")
        if next_month:
            started = time.perf_counter()
            more = [*dates, _next_month(dates[-1])]
            build_snapshots(lake, catalog, more, out, chosen, partitions=partitions)
            incremental = time.perf_counter() - started
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size = sum(p.stat().st_size for p in out.rglob("features.parquet"))
        queue.put(
            {
                "wall": wall,
                "incremental": incremental,
                "peak_mib": max(own, children),
                "firms": results[-1].record.firms,
                "features": results[-1].record.features,
                "bytes": size,
            }
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _next_month(day: date) -> date:
    from puhui.features.timing import add_months

    return add_months(day, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--as-of", default="2026-06-01", help="the (last) as-of date")
    parser.add_argument("--snapshots", type=int, default=1, help="monthly as-of dates up to it")
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    parser.add_argument("--runs", type=int, default=1, help="runs; the median is reported")
    parser.add_argument("--partitions", type=int, default=None, help="firm slices (duckdb)")
    parser.add_argument("--no-next-month", dest="next_month", action="store_false")
    parser.add_argument("--spark-driver-memory", default="4g", help="heap of local Spark")
    parser.add_argument("--spark-shuffle-partitions", type=int, default=8)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "puhui-bench")
    args = parser.parse_args(argv)

    from puhui.features.timing import add_months

    lake_root = _prepare(args.workdir, args.enterprises, args.months, args.seed)
    last = date.fromisoformat(args.as_of)
    dates = [add_months(last, -i) for i in reversed(range(args.snapshots))]
    context = multiprocessing.get_context("spawn")
    results = []
    for run in range(1, args.runs + 1):
        queue: multiprocessing.Queue = context.Queue()
        child = context.Process(
            target=_one_build,
            args=(
                str(lake_root),
                dates,
                args.engine,
                args.partitions,
                args.next_month,
                queue,
                args.spark_driver_memory,
                args.spark_shuffle_partitions,
            ),
        )
        load_before = os.getloadavg()[0]
        child.start()
        result = queue.get()
        child.join()
        result["load"] = (load_before, os.getloadavg()[0])
        results.append(result)
        print(
            f"run {run}: {result['wall']:.1f} s for {len(dates)} date(s), then "
            f"{result['incremental']:.1f} s for one more month; peak RSS "
            f"{result['peak_mib']:,.0f} MiB; {result['firms']:,} firms × "
            f"{result['features']:,} features; {result['bytes'] / 2**20:,.0f} MiB Parquet; "
            f"load average {result['load'][0]:.1f} before, {result['load'][1]:.1f} after"
        )
    wall = statistics.median(r["wall"] for r in results)
    more = statistics.median(r["incremental"] for r in results)
    peak = statistics.median(r["peak_mib"] for r in results)
    print(
        f"features {args.engine} {args.enterprises:,} firms × {len(dates)} as-of date(s), "
        f"partitions {args.partitions or 'auto'}: "
        f"median {wall:.1f} s ({wall / len(dates):.1f} s per date), next month {more:.1f} s, "
        f"peak RSS {peak:,.0f} MiB over {len(results)} run(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
