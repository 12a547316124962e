"""Benchmark vertically federated LR between two node processes: time and bytes per iteration.

A synthetic population is dealt into a bank folder (labels + 20 columns) and a platform folder
(20 columns) with every firm on both sides; PSI runs first (timed separately), then training
on the intersection (70% of it; ``--rows`` is the intersection size).

    .venv/bin/python benchmarks/bench_federated_lr.py                  # 100k rows, 5 iterations
    .venv/bin/python benchmarks/bench_federated_lr.py --iterations 40       # a full training run
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from puhui.federated.data import write_party
from puhui.federated.linear import TrainingParameters
from puhui.federated.node_process import control, running_pair


def _population(bank_dir: Path, platform_dir: Path, rows: int, seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(rows, 40))
    labels = rng.random(rows) < 1 / (1 + np.exp(-(latent @ (0.25 * rng.normal(size=40)) - 2.5)))
    ids = [f"91330{index:013d}" for index in range(rows)]
    write_party(bank_dir, ids, {f"bank_{j:02d}": latent[:, j] for j in range(20)}, labels)
    write_party(platform_dir, ids, {f"tax_{j:02d}": latent[:, 20 + j] for j in range(20)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="firms on both sides")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--train-fraction", type=float, default=1.0)
    arguments = parser.parse_args()
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        bank_dir, platform_dir = Path(folder) / "bank", Path(folder) / "platform"
        _population(bank_dir, platform_dir, arguments.rows)
        with running_pair(bank_dir, platform_dir) as bank_url:
            psi = control(bank_dir, bank_url, "psi", {"reveal": "both", "batch_size": 50_000})
            parameters = TrainingParameters(
                iterations=arguments.iterations, train_fraction=arguments.train_fraction
            )
            train = control(
                bank_dir,
                bank_url,
                "train",
                {"psi_job": psi["job_id"], "parameters": asdict(parameters)},
            )
            score = control(
                bank_dir,
                bank_url,
                "score",
                {"model_job": train["job_id"], "psi_job": psi["job_id"]},
            )
    print(f"PSI {arguments.rows:,} × {arguments.rows:,}: {psi['seconds']:.1f} s")
    print(
        f"federated LR {train['rows']:,} rows × ({train['bank_features']} + "
        f"{train['platform_features']}): {train['iterations']} iterations in "
        f"{train['seconds']:.1f} s (setup included); "
        f"{train['seconds_per_iteration']:.2f} s per iteration; "
        f"{train['bytes_per_iteration'] / 1e6:.1f} MB per iteration; "
        f"{train['bytes_on_wire'] / 1e6:.1f} MB in all"
    )
    print(f"joint AUC {score['auc_joint']:.4f} (bank only {score['auc_bank_only']:.4f})")


if __name__ == "__main__":
    main()
