"""Benchmark ``simulate_province``: wall time and peak memory of a whole synthetic province.

Each run happens in a fresh child process, which reports its own peak RSS, so runs do not
inherit each other's memory. The province is written to a temporary folder and removed.

    .venv/bin/python benchmarks/bench_simulate.py                      # 100k firms × 36 months
    .venv/bin/python benchmarks/bench_simulate.py --runs 3
    .venv/bin/python benchmarks/bench_simulate.py --enterprises 1000000 --runs 1
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _one_run(enterprises: int, months: int, seed: int, queue: multiprocessing.Queue) -> None:
    """Build one province in this (child) process and report time, memory and rows."""
    from puhui.data.simulate import SimulationConfig, simulate_province

    out = Path(tempfile.mkdtemp(prefix="puhui-bench-simulate-"))
    try:
        started = time.perf_counter()
        report = simulate_province(
            SimulationConfig(enterprises=enterprises, months=months, seed=seed), out
        )
        wall = time.perf_counter() - started
        size = sum(p.stat().st_size for p in out.glob("*.parquet"))
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        queue.put(
            {
                "wall": wall,
                "peak_mib": peak_kib / 1024,
                "rows": sum(report.row_counts.values()),
                "bytes": size,
                "stages": report.seconds,
                "auc": report.realism.model_auc,
            }
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--runs", type=int, default=1, help="runs; the median is reported")
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("spawn")
    results = []
    for run in range(1, args.runs + 1):
        queue: multiprocessing.Queue = context.Queue()
        child = context.Process(
            target=_one_run, args=(args.enterprises, args.months, args.seed, queue)
        )
        child.start()
        result = queue.get()
        child.join()
        results.append(result)
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in result["stages"].items())
        print(
            f"run {run}: {result['wall']:.1f} s wall, peak RSS {result['peak_mib']:,.0f} MiB, "
            f"{result['rows']:,} rows, {result['bytes'] / 2**20:,.0f} MiB Parquet ({stages})"
        )
    wall = statistics.median(r["wall"] for r in results)
    peak = statistics.median(r["peak_mib"] for r in results)
    print(
        f"simulate {args.enterprises:,} enterprises × {args.months} months: "
        f"median wall {wall:.1f} s, median peak RSS {peak:,.0f} MiB over {args.runs} run(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
