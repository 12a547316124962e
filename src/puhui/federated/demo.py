"""The joint-modelling demo: two node processes, PSI, federated training and scoring."""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from puhui.data.lake import Lake
from puhui.features.catalog import load_feature_catalog
from puhui.features.store import available_dates
from puhui.federated.data import split_synthetic
from puhui.federated.linear import TrainingParameters
from puhui.federated.node_process import control, running_pair
from puhui.federated.province import split_province
from puhui.models.datasets import month_dates

# The demo province's monthly snapshots (cli/demo.py builds them) and today's population.
DEMO_TRAINING_SNAPSHOTS = (date(2024, 7, 1), date(2025, 6, 1))
DEMO_TRAIN_BEFORE = date(2025, 1, 1)
DEMO_SCORE_AS_OF = date(2026, 7, 1)


def run_federated_demo(
    root: Path,
    console: Console,
    firms: int = 6000,
    iterations: int = 40,
    province: ProvinceInputs | None = None,
) -> dict:
    """Deal the province (or, without one, a synthetic population) into two folders, start both
    nodes, run PSI, training and scoring."""
    if root.exists():
        shutil.rmtree(root)
    bank_dir, platform_dir = root / "bank", root / "platform"
    parameters = TrainingParameters(iterations=iterations)
    if province is None:
        counts = split_synthetic(bank_dir, platform_dir, firms=firms)
        console.print(
            f"bank holds {counts['bank']:,} firms (labels + 20 columns), "
            f"platform {counts['platform']:,} "
            f"(20 tax/social/utility columns); {counts['both']:,} in both"
        )
    else:
        split = split_province(
            Lake(province.lake_dir).connect(),
            province.features_root,
            load_feature_catalog(),
            bank_dir,
            platform_dir,
            training_dates=province.training_dates,
            score_as_of=province.score_as_of,
        )
        parameters = TrainingParameters(
            iterations=iterations,
            train_before=province.train_before.isoformat(),
            score_from=province.score_as_of.isoformat(),
        )
        console.print(
            f"bank: {split.bank_labelled_rows:,} labelled firm-months "
            f"({province.training_dates[0]:%Y-%m} … {province.training_dates[-1]:%Y-%m}) and "
            f"{split.bank_rows - split.bank_labelled_rows:,} firms to score as of "
            f"{split.score_as_of}, {len(split.bank_columns)} columns (flows, loans, bureau); "
            f"platform: {split.platform_rows:,} firm-months, {len(split.platform_columns)} "
            f"columns (tax, social security, utilities). Trained on months before "
            f"{province.train_before:%Y-%m}, tested on the later ones"
        )
    started = time.perf_counter()
    with running_pair(bank_dir, platform_dir) as bank_url:
        psi = control(bank_dir, bank_url, "psi", {"reveal": "both", "batch_size": 5000})
        console.print(
            f"PSI {psi['job_id']}: intersection {psi['intersection']:,} in {psi['seconds']:.1f} s, "
            f"{psi['bytes_on_wire'] / 1e6:.1f} MB on the wire"
        )
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
    held_out = "held-out later months" if province is not None else "held-out intersection"
    table = Table(
        title=f"联合建模 joint model vs bank-only ({held_out}, {score['holdout_rows']:,} rows)"
    )
    table.add_column("model")
    table.add_column("AUC", justify="right")
    table.add_row("bank only (bank columns)", f"{score['auc_bank_only']:.3f}")
    table.add_row("joint (bank + platform, federated)", f"{score['auc_joint']:.3f}")
    table.add_row("lift", f"{score['auc_joint'] - score['auc_bank_only']:+.3f}")
    console.print(table)
    if score.get("score_only_rows"):
        console.print(
            f"joint PD for {score['score_only_rows']:,} of today's firms in {score['scores_file']} "
            "(the platform computed its share and never saw a score)"
        )
    console.print(
        f"joint jobs took {time.perf_counter() - started:.0f} s; audit trails in "
        f"{bank_dir / 'audit.jsonl'} and {platform_dir / 'audit.jsonl'}"
    )
    return {"psi": psi, "train": train, "score": score}


@dataclass(frozen=True)
class ProvinceInputs:
    """Where the province's data is and which months train, test and get scored."""

    lake_dir: Path
    features_root: Path
    training_dates: list[date]
    train_before: date
    score_as_of: date


def province_inputs(settings, score_as_of: date = DEMO_SCORE_AS_OF) -> ProvinceInputs | None:
    """The demo province's inputs when its snapshots are built, else None (synthetic demo)."""
    features_root = Path(settings.data_dir) / "features"
    built = set(available_dates(features_root))
    wanted = month_dates(*DEMO_TRAINING_SNAPSHOTS)
    if score_as_of not in built or not set(wanted) <= built:
        return None
    return ProvinceInputs(
        Path(settings.lake_dir), features_root, wanted, DEMO_TRAIN_BEFORE, score_as_of
    )


def demo_federated(settings, console: Console) -> dict:
    """Demo hook for ``puhui demo``: runs under ``<data_dir>/federated`` on the demo province
    (joint scores for today's firms land in ``federated/bank/scores``, where marketing and
    origination read them), or on a synthetic population when the province has no snapshots."""
    return run_federated_demo(
        Path(settings.data_dir) / "federated", console, province=province_inputs(settings)
    )
