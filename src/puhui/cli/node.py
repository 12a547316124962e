"""``puhui node``: a joint-modelling node (联合建模节点) and the jobs the bank runs through it.

``serve`` runs one party's node; ``psi``, ``train`` and ``score`` ask the bank node (signed with
the bank's key from its folder) to run a job against the platform; ``demo`` does it all.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from puhui.cli.context import console, current_settings

app = typer.Typer(
    no_args_is_help=True, help="联合建模 · joint-modelling nodes: PSI, training, scoring."
)

DataDir = Annotated[Path, typer.Option("--data-dir", help="this node's own data folder")]
NodeUrl = Annotated[
    str, typer.Option("--node-url", help="the bank node's address, e.g. http://127.0.0.1:8701")
]


@app.command("serve")
def serve(
    role: Annotated[str, typer.Option("--role", help="bank | platform")],
    data_dir: DataDir,
    port: Annotated[int, typer.Option("--port", help="loopback port to listen on")] = 8701,
    host: Annotated[str, typer.Option("--host", help="address to bind")] = "127.0.0.1",
    peer_url: Annotated[
        str | None, typer.Option("--peer-url", help="the platform node's address (bank only)")
    ] = None,
    peer_key: Annotated[
        str | None, typer.Option("--peer-key", help="peer's public key hex (else peer.pub)")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="processes for PSI arithmetic")] = 2,
) -> None:
    """运行节点 · run this party's node (keys in the data folder are created on first use)."""
    import uvicorn

    from puhui.federated.auth import load_or_create_identity, load_peer_key
    from puhui.federated.server import NodeConfig, create_app

    identity = load_or_create_identity(data_dir, role)
    config = NodeConfig(
        role=role,
        data_dir=data_dir,
        identity=identity,
        peer_key=load_peer_key(data_dir, peer_key),
        peer_url=peer_url,
        workers=workers,
    )
    application = create_app(config)
    console.print(f"{role} node on http://{host}:{port}, public key {identity.public_key_hex}")
    uvicorn.run(application, host=host, port=port, log_level="warning")


@app.command("keygen")
def keygen(
    role: Annotated[str, typer.Option("--role", help="bank | platform")], data_dir: DataDir
) -> None:
    """密钥 · create (or show) this node's key; give the printed public key to the peer."""
    from puhui.federated.auth import load_or_create_identity

    console.print(load_or_create_identity(data_dir, role).public_key_hex)


@app.command("split-demo-data")
def split_demo_data(
    bank_dir: Annotated[Path, typer.Option("--bank-dir")],
    platform_dir: Annotated[Path, typer.Option("--platform-dir")],
    firms: Annotated[int, typer.Option("--firms")] = 6000,
    seed: Annotated[int, typer.Option("--seed")] = 20260601,
) -> None:
    """演示数据 · deal a synthetic population into a bank folder and a platform folder."""
    from puhui.federated.data import split_synthetic

    console.print(split_synthetic(bank_dir, platform_dir, firms=firms, seed=seed))


@app.command("split-province")
def split_province_command(
    bank_dir: Annotated[Path, typer.Option("--bank-dir")],
    platform_dir: Annotated[Path, typer.Option("--platform-dir")],
    first: Annotated[str, typer.Option("--from", help="first training snapshot YYYY-MM")],
    last: Annotated[str, typer.Option("--to", help="last training snapshot YYYY-MM")],
    score_as_of: Annotated[
        str, typer.Option("--score-as-of", help="YYYY-MM-DD: today's population to score")
    ],
    columns: Annotated[int, typer.Option("--columns", help="columns per side")] = 20,
) -> None:
    """省份数据 · deal this province's feature store into a bank folder and a platform folder."""
    from datetime import date

    from puhui.data.lake import Lake
    from puhui.features.catalog import load_feature_catalog
    from puhui.federated.province import split_province
    from puhui.models.datasets import month_dates

    settings = current_settings()
    split = split_province(
        Lake(settings.lake_dir).connect(),
        settings.data_dir / "features",
        load_feature_catalog(),
        bank_dir,
        platform_dir,
        training_dates=month_dates(
            date.fromisoformat(f"{first}-01"), date.fromisoformat(f"{last}-01")
        ),
        score_as_of=date.fromisoformat(score_as_of),
        columns_per_side=columns,
    )
    console.print_json(json.dumps(asdict(split), default=str))


@app.command("psi")
def psi(
    data_dir: DataDir,
    node_url: NodeUrl,
    reveal: Annotated[str, typer.Option("--reveal", help="both | bank")] = "both",
    batch_size: Annotated[int, typer.Option("--batch-size")] = 50_000,
    job_id: Annotated[str | None, typer.Option("--job-id")] = None,
) -> None:
    """隐私求交 · private set intersection between the bank and the platform."""
    from puhui.federated.node_process import control

    payload = {"reveal": reveal, "batch_size": batch_size, "job_id": job_id}
    console.print_json(json.dumps(control(data_dir, node_url, "psi", payload)))


@app.command("train")
def train(
    data_dir: DataDir,
    node_url: NodeUrl,
    psi_job: Annotated[str, typer.Option("--psi-job", help="a PSI job run with reveal=both")],
    iterations: Annotated[int, typer.Option("--iterations")] = 40,
    learning_rate: Annotated[float, typer.Option("--learning-rate")] = 0.1,
    train_before: Annotated[
        str | None,
        typer.Option(
            "--train-before", help="YYYY-MM-DD: split by the date in each id (<key>@<date>)"
        ),
    ] = None,
    score_from: Annotated[
        str | None,
        typer.Option("--score-from", help="YYYY-MM-DD: rows from this date are scored only"),
    ] = None,
    job_id: Annotated[str | None, typer.Option("--job-id")] = None,
) -> None:
    """联合训练 · vertically federated logistic regression on the intersection."""
    from puhui.federated.linear import TrainingParameters
    from puhui.federated.node_process import control

    parameters = TrainingParameters(
        iterations=iterations,
        learning_rate=learning_rate,
        train_before=train_before,
        score_from=score_from,
    )
    payload = {"psi_job": psi_job, "parameters": asdict(parameters), "job_id": job_id}
    console.print_json(json.dumps(control(data_dir, node_url, "train", payload)))


@app.command("score")
def score(
    data_dir: DataDir,
    node_url: NodeUrl,
    model_job: Annotated[str, typer.Option("--model-job")],
    psi_job: Annotated[str, typer.Option("--psi-job")],
) -> None:
    """联合评分 · joint scores for the intersection; only the bank sees them."""
    from puhui.federated.node_process import control

    payload = {"model_job": model_job, "psi_job": psi_job}
    console.print_json(json.dumps(control(data_dir, node_url, "score", payload)))


@app.command("demo")
def demo() -> None:
    """演示 · two nodes as processes: PSI, training and scoring on a small population."""
    from puhui.federated.demo import demo_federated

    demo_federated(current_settings(), console)


if __name__ == "__main__":  # how node processes are started: python -m puhui.cli.node serve …
    import sys

    from puhui.cli.context import err_console
    from puhui.errors import PuhuiError

    try:
        app(prog_name="puhui node")
    except PuhuiError as error:
        err_console.print(f"error: {error}", highlight=False, markup=False)
        sys.exit(1)
