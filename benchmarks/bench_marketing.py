"""Benchmark scoring a marketing universe of millions of firms on the embedded engine.

The simulator cannot make 3 million firms on this machine in reasonable time, so the universe
is built honestly from a simulated province: its feature rows as of the date (only the columns
marketing reads) are replicated with new ids until there are ``--firms`` rows, written as a
feature snapshot on disk with the firms' locations, and then the real code runs on it: load
the snapshot, themes and prospects, the admission pre-screen, both champion models
(``application_pd`` and ``propensity`` from the registry), the best product with limit and
rate, expected value, ranking, the response deciles and the run summary.

Needs a data folder with a feature snapshot as of ``--as-of``, a migrated store with both
champions (``puhui demo`` then ``puhui marketing train-propensity`` make one).

    .venv/bin/python benchmarks/bench_marketing.py --data-dir puhui-data --firms 3000000
    .venv/bin/python benchmarks/bench_marketing.py --data-dir puhui-data --firms 300000 --runs 3
"""

from __future__ import annotations

import argparse
import gc
import resource
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl

from puhui.actions.marketing.build import needed_columns, score_universe, summarize
from puhui.actions.marketing.service import MarketingService
from puhui.actions.marketing.universe import branch_network, firm_locations, load_universe
from puhui.data.store import make_engine, make_session_factory
from puhui.features.store import FEATURES_FILE, load_features, snapshot_dir
from puhui.settings import Settings


def replicate(frame: pl.DataFrame, firms: int) -> pl.DataFrame:
    """``frame`` repeated with new ids (``<uscc>.<copy>``) until it has ``firms`` rows."""
    copies = -(-firms // frame.height)
    parts = [frame.with_columns((pl.col("uscc") + f".{k}").alias("uscc")) for k in range(copies)]
    return pl.concat(parts).head(firms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--as-of", default="2026-07-01")
    parser.add_argument("--firms", type=int, default=3_000_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir)
    as_of = date.fromisoformat(args.as_of)
    engine = make_engine(settings.resolved_store_url)
    service = MarketingService(make_session_factory(engine), settings.data_dir, settings.lake_dir)
    pd_model, takeup = service.models()
    columns = needed_columns(service.config, service.catalog, pd_model, takeup)
    source = load_features(settings.data_dir / "features", as_of)
    available = [c for c in columns if c in source.columns]
    source = source.select(["uscc", "as_of", *available])
    locations = firm_locations(service.lake, branch_network(service.lake))

    work = Path(tempfile.mkdtemp(prefix="puhui-bench-marketing-"))
    try:
        started = time.perf_counter()
        universe = replicate(source, args.firms)
        folder = snapshot_dir(work / "features", as_of)
        folder.mkdir(parents=True)
        universe.write_parquet(folder / FEATURES_FILE)
        (folder / "build.json").write_text("{}", encoding="utf-8")
        located = replicate(locations, args.firms)
        del universe
        gc.collect()
        print(
            f"universe: {args.firms:,} firms replicated from {source.height:,} simulated ones "
            f"({len(available)} feature columns), written in {time.perf_counter() - started:.1f} s"
        )
        timings: dict[str, list[float]] = {"load": [], "score": [], "summary": [], "total": []}
        for _ in range(args.runs):
            t0 = time.perf_counter()
            frame = load_universe(work / "features", as_of, columns, located)
            t1 = time.perf_counter()
            scored = score_universe(frame, service.config, service.catalog, as_of, pd_model, takeup)
            t2 = time.perf_counter()
            summary = summarize(scored, service.config)
            t3 = time.perf_counter()
            for key, value in (
                ("load", t1 - t0),
                ("score", t2 - t1),
                ("summary", t3 - t2),
                ("total", t3 - t0),
            ):
                timings[key].append(value)
            del frame, scored
            gc.collect()
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
        print(
            f"prospects {summary.prospects:,}, excluded {summary.excluded:,}, "
            f"no offer {summary.no_offer:,}, listed {summary.listed:,}; "
            f"models {pd_model.name} v{pd_model.version} ({type(pd_model.model).__name__}), "
            f"{takeup.name} v{takeup.version} ({type(takeup.model).__name__})"
        )
        for key, values in timings.items():
            print(
                f"{key:>8}: median {statistics.median(values):7.1f} s  "
                f"(runs: {', '.join(f'{v:.1f}' for v in values)})"
            )
        total = statistics.median(timings["total"])
        print(
            f"throughput {args.firms / total:,.0f} firms/s; peak RSS {peak_gib:.1f} GiB; "
            f"target 3,000,000 firms in 600 s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        engine.dispose()


if __name__ == "__main__":
    main()
