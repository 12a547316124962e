"""``puhui model``: train, list, promote, roll back, report, monitor, and the public benchmark."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from puhui.cli.context import console, current_settings
from puhui.models.errors import ModelError

app = typer.Typer(no_args_is_help=True)


class ModelCommandError(ModelError):
    """A ``puhui model`` command was given something it cannot use."""


@contextmanager
def _registry() -> Iterator[object]:
    from puhui.data.store.engine import make_engine, make_session_factory
    from puhui.data.store.migrate import require_up_to_date
    from puhui.models.registry import ModelRegistry

    settings = current_settings()
    engine = make_engine(settings.resolved_store_url)
    try:
        require_up_to_date(engine)
        yield ModelRegistry(make_session_factory(engine), Path(settings.data_dir) / "models")
    finally:
        engine.dispose()


def _read_frame(path: Path):
    import pandas as pd

    if not path.is_file():
        raise ModelCommandError(f"frame file {path} does not exist")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


@app.command("train")
def train_command(
    name: Annotated[str, typer.Argument(help="模型名 · model name, e.g. ew_pd_6m")],
    frame: Annotated[
        Path, typer.Option("--frame", help="特征+标签 Parquet/CSV · features joined to the target")
    ],
    target: Annotated[str, typer.Option("--target", help="目标列 · 0/1 target column")],
    time_column: Annotated[
        str, typer.Option("--time-column", help="时间列 · e.g. as_of")
    ] = "as_of",
    kind: Annotated[str, typer.Option("--kind", help="scorecard, lightgbm or ebm")] = "scorecard",
    trained_by: Annotated[
        str, typer.Option("--by", help="训练人工号 · staff id of the developer")
    ] = "system",
    select: Annotated[
        bool, typer.Option("--select/--no-select", help="IV/相关性/PSI 特征筛选")
    ] = True,
) -> None:
    """训练 · Train on a time-ordered split and register a new candidate version."""
    from puhui.models.artifacts import ModelMetadata
    from puhui.models.training import DEVELOPMENT, train_model

    data = _read_frame(frame)
    result = train_model(data, target, time_column, kind=kind, select=select)
    metadata = ModelMetadata(
        name=name,
        version="",
        kind=kind,
        features=result.features,
        target=target,
        trained_by=trained_by,
        trained_at=datetime.now(UTC),
        time_column=time_column,
        data_window_start=result.data_window[0],
        data_window_end=result.data_window[1],
        metrics=result.metrics,
    )
    with _registry() as registry:
        entry = registry.register(result.model, metadata, result.evaluation)  # type: ignore[attr-defined]
    development = result.metrics.get(DEVELOPMENT, {})
    console.print(
        f"registered {name} version {entry.version} ({kind}, {len(result.features)} features, "
        f"dev AUC {development.get('auc', float('nan')):.3f})"
    )


@app.command("list")
def list_command(
    name: Annotated[str | None, typer.Argument(help="模型名 · one model, or all")] = None,
) -> None:
    """列表 · Versions in the registry with their status."""
    with _registry() as registry:
        rows = registry.versions(name)  # type: ignore[attr-defined]
    table = Table(
        "name", "version", "kind", "status", "trained by", "trained at", "AUC (oot/val/dev)"
    )
    for row in rows:
        auc = next(
            (
                row.metrics[s]["auc"]
                for s in ("out_of_time", "validation", "development")
                if s in row.metrics and row.metrics[s].get("auc") is not None
            ),
            None,
        )
        table.add_row(
            row.name,
            row.version,
            row.kind,
            row.status,
            row.trained_by,
            row.trained_at.isoformat(timespec="seconds"),
            "–" if auc is None else f"{auc:.3f}",
        )
    console.print(table)


@app.command("promote")
def promote_command(
    name: Annotated[str, typer.Argument(help="模型名 · model name")],
    version: Annotated[str, typer.Argument(help="版本 · version to make champion")],
    by: Annotated[str, typer.Option("--by", help="操作人工号 · staff id approving the change")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="原因 · why (kept in the audit log)")
    ] = None,
) -> None:
    """晋升 · Make a version the champion (the previous champion is retired)."""
    with _registry() as registry:
        entry = registry.promote(name, version, actor=by, reason=reason)  # type: ignore[attr-defined]
    console.print(f"{name} version {entry.version} is now the champion")


@app.command("rollback")
def rollback_command(
    name: Annotated[str, typer.Argument(help="模型名 · model name")],
    by: Annotated[str, typer.Option("--by", help="操作人工号 · staff id approving the change")],
    reason: Annotated[str | None, typer.Option("--reason", help="原因 · why")] = None,
) -> None:
    """回滚 · Reinstate the champion the current champion replaced."""
    with _registry() as registry:
        entry = registry.rollback(name, actor=by, reason=reason)  # type: ignore[attr-defined]
    console.print(f"{name} rolled back: version {entry.version} is the champion again")


@app.command("report")
def report_command(
    name: Annotated[str, typer.Argument(help="模型名 · model name")],
    version: Annotated[
        str | None, typer.Option("--version", help="版本 · default: the champion")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="HTML 路径 · default <data_dir>/reports/models/")
    ] = None,
) -> None:
    """验证报告 · Write the self-contained HTML validation report and its JSON numbers."""
    from puhui.models.artifacts import load_evaluation
    from puhui.models.report import validation_numbers
    from puhui.models.report_html import render_report

    with _registry() as registry:
        entry = registry.champion(name) if version is None else registry.get(name, version)  # type: ignore[attr-defined]
        model, metadata = registry.load(name, entry.version)  # type: ignore[attr-defined]
    numbers = validation_numbers(model, metadata, load_evaluation(entry.artifact_dir))
    html_path = (
        output
        or Path(current_settings().data_dir)
        / "reports"
        / "models"
        / f"{name}-v{entry.version}.html"
    )
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(render_report(numbers), encoding="utf-8")
    json_path = html_path.with_suffix(".json")
    json_path.write_text(
        json.dumps(numbers, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    console.print(f"report for {name} version {entry.version}: {html_path} (numbers: {json_path})")


@app.command("monitor")
def monitor_command(
    name: Annotated[str, typer.Argument(help="模型名 · model name")],
    frame: Annotated[
        Path,
        typer.Option(
            "--frame", help="近期特征 Parquet/CSV · recent features (and matured targets)"
        ),
    ],
    month_column: Annotated[str, typer.Option("--month-column")] = "as_of",
    target_column: Annotated[
        str | None,
        typer.Option("--target-column", help="已到期标签列 · matured outcome, may be null"),
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="版本 · default: the champion")
    ] = None,
    score_psi: Annotated[float, typer.Option("--score-psi", help="分数PSI阈值")] = 0.25,
    feature_psi: Annotated[float, typer.Option("--feature-psi", help="特征PSI阈值")] = 0.25,
    min_auc: Annotated[float, typer.Option("--min-auc", help="最低实际AUC")] = 0.65,
) -> None:
    """监控 · Monthly score and feature PSI, realised AUC, drift flags."""
    import pandas as pd

    from puhui.models.artifacts import load_evaluation
    from puhui.models.monitor import DriftThresholds, monitor
    from puhui.models.training import DEVELOPMENT, PD_COLUMN, SPLIT_COLUMN

    with _registry() as registry:
        entry = registry.champion(name) if version is None else registry.get(name, version)  # type: ignore[attr-defined]
        model, metadata = registry.load(name, entry.version)  # type: ignore[attr-defined]
    evaluation = load_evaluation(entry.artifact_dir)
    baseline = evaluation[evaluation[SPLIT_COLUMN] == DEVELOPMENT]
    recent = _read_frame(frame)
    if month_column not in recent.columns:
        raise ModelCommandError(f"{frame} has no month column {month_column!r}")
    recent = recent.assign(_score=model.predict_proba(recent[metadata.features])[:, 1])
    development_auc = (metadata.metrics.get(DEVELOPMENT) or {}).get("auc")
    reports = monitor(
        baseline[PD_COLUMN],
        baseline,
        recent.assign(**{month_column: pd.to_datetime(recent[month_column])}),
        month_column=month_column,
        score_column="_score",
        target_column=target_column,
        features=metadata.features,
        development_auc=development_auc,
        thresholds=DriftThresholds(score_psi=score_psi, feature_psi=feature_psi, min_auc=min_auc),
    )
    table = Table(
        "month", "rows", "score PSI", "max feature PSI", "matured", "realised AUC", "flags"
    )
    for month in reports:
        worst = max(month.feature_psi.values(), default=float("nan"))
        auc = "–" if month.realised_auc is None else f"{month.realised_auc:.3f}"
        table.add_row(
            month.month,
            str(month.count),
            f"{month.score_psi:.3f}",
            f"{worst:.3f}",
            str(month.matured),
            auc,
            "; ".join(month.flags) or "ok",
        )
    console.print(table)


@app.command("bench-public")
def bench_public_command(
    folds: Annotated[int, typer.Option("--folds", help="交叉验证折数 · CV folds")] = 5,
    data_root: Annotated[
        Path | None, typer.Option("--data-root", help="公开数据目录 · public data folder")
    ] = None,
    models: Annotated[
        str, typer.Option("--models", help="comma-separated: scorecard,lightgbm,ebm")
    ] = "scorecard,lightgbm,ebm",
) -> None:
    """公开数据基准 · German credit and Polish bankruptcy AUCs next to published results."""
    from puhui.models.bench import format_table, run_public_benchmark
    from puhui.models.public_data import DEFAULT_DATA_ROOT

    rows = run_public_benchmark(
        data_root or DEFAULT_DATA_ROOT,
        folds=folds,
        models=models.split(","),
        progress=lambda line: console.print(line, highlight=False),
    )
    console.print(format_table(rows), highlight=False, markup=False)
