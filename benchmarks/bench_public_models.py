"""Public-data proof of the credit models: German credit and Polish bankruptcy (years 1, 5).

Runs the platform's own estimators (``puhui.models``) through ``puhui.models.bench`` and prints
a Markdown table with 5-fold CV and hold-out AUCs next to the published figures.

    .venv/bin/python benchmarks/bench_public_models.py [--folds 5] [--models scorecard,lightgbm,ebm]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from puhui.models.bench import format_table, run_public_benchmark
from puhui.models.public_data import DEFAULT_DATA_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="scorecard,lightgbm,ebm")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run_public_benchmark(
        args.data_root,
        folds=args.folds,
        seed=args.seed,
        models=args.models.split(","),
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} "
        f"python {platform.python_version()}"
    )
    print(format_table(rows))
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
