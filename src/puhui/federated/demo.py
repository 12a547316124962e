"""The joint-modelling demo: two node processes, PSI, federated training and scoring."""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from puhui.federated.data import split_synthetic
from puhui.federated.linear import TrainingParameters
from puhui.federated.node_process import control, running_pair


def run_federated_demo(
    root: Path, console: Console, firms: int = 6000, iterations: int = 40
) -> dict:
    """Split a synthetic population into two folders, start both nodes, run the three jobs."""
    if root.exists():
        shutil.rmtree(root)
    bank_dir, platform_dir = root / "bank", root / "platform"
    counts = split_synthetic(bank_dir, platform_dir, firms=firms)
    console.print(
        f"bank holds {counts['bank']:,} firms (labels + 20 columns), "
        f"platform {counts['platform']:,} "
        f"(20 tax/social/utility columns); {counts['both']:,} in both"
    )
    started = time.perf_counter()
    with running_pair(bank_dir, platform_dir) as bank_url:
        psi = control(bank_dir, bank_url, "psi", {"reveal": "both", "batch_size": 5000})
        console.print(
            f"PSI {psi['job_id']}: intersection {psi['intersection']:,} in {psi['seconds']:.1f} s, "
            f"{psi['bytes_on_wire'] / 1e6:.1f} MB on the wire"
        )
        parameters = TrainingParameters(iterations=iterations)
        train = control(
            bank_dir,
            bank_url,
            "train",
            {"psi_job": psi["job_id"], "parameters": asdict(parameters)},
        )
        console.print(
            f"training {train['job_id']}: {train['rows']:,} rows × ({train['bank_features']} + "
            f"{train['platform_features']}) columns, {train['iterations']} iterations, "
            f"{train['seconds_per_iteration']:.2f} s and "
            f"{train['bytes_per_iteration'] / 1e6:.1f} MB per iteration"
        )
        score = control(
            bank_dir, bank_url, "score", {"model_job": train["job_id"], "psi_job": psi["job_id"]}
        )
    table = Table(title="联合建模 joint model vs bank-only (held-out intersection)")
    table.add_column("model")
    table.add_column("AUC", justify="right")
    table.add_row("bank only (bank columns)", f"{score['auc_bank_only']:.3f}")
    table.add_row("joint (bank + platform, federated)", f"{score['auc_joint']:.3f}")
    table.add_row("lift", f"{score['auc_joint'] - score['auc_bank_only']:+.3f}")
    console.print(table)
    console.print(
        f"joint jobs took {time.perf_counter() - started:.0f} s; audit trails in "
        f"{bank_dir / 'audit.jsonl'} and {platform_dir / 'audit.jsonl'}"
    )
    return {"psi": psi, "train": train, "score": score}


def demo_federated(settings, console: Console) -> dict:
    """Demo hook for ``puhui demo``: runs under ``<data_dir>/federated-demo``."""
    return run_federated_demo(Path(settings.data_dir) / "federated-demo", console)
