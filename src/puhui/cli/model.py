"""``puhui model``: train, list, promote, roll back, report, monitor, and the public benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from puhui.cli.context import console, current_settings
from puhui.models.errors import ModelError
from puhui.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from puhui.models.registry import ModelRegistry

app = typer.Typer(no_args_is_help=True)
PROPENSITY_ROWS_PER_DATE = 3000  # the prospect panel is most of the province: sample per date


class ModelCommandError(ModelError):
    """A ``puhui model`` command was given something it cannot use."""


@contextmanager
def _registry() -> Iterator[object]:
    with open_registry(current_settings()) as registry:
        yield registry


@contextmanager
def open_registry(settings: Settings) -> Iterator[ModelRegistry]:
    """The model registry of ``settings``' store (migrated) and ``<data_dir>/models``."""
    from puhui.data.store.engine import make_engine, make_session_factory
    from puhui.data.store.migrate import require_up_to_date
    from puhui.models.registry import ModelRegistry

    engine = make_engine(settings.resolved_store_url)
    try:
        require_up_to_date(engine)
        yield ModelRegistry(make_session_factory(engine), Path(settings.data_dir) / "models")
    finally:
        engine.dispose()


def _reports_dir() -> Path:
    return Path(current_settings().data_dir) / "reports" / "models"


def _read_frame(path: Path):
    import pandas as pd

    if not path.is_file():
        raise ModelCommandError(f"frame file {path} does not exist")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


@app.command("train")
def train_command(
    name: Annotated[
        str | None,
        typer.Argument(help="模型名 · model name, e.g. application_pd (default: the target)"),
    ] = None,
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="目标 · with --frame: its 0/1 column; without: application_pd, "
            "behaviour_pd_3m|6m|12m, propensity or fraud_fpd, built from the feature store",
        ),
    ] = "application_pd",
    frame: Annotated[
        Path | None,
        typer.Option("--frame", help="特征+标签 Parquet/CSV · features joined to the target"),
    ] = None,
    time_column: Annotated[
        str, typer.Option("--time-column", help="时间列 · e.g. as_of")
    ] = "as_of",
    kind: Annotated[
        str, typer.Option("--algorithm", "--kind", help="scorecard, lightgbm or ebm")
    ] = "scorecard",
    trained_by: Annotated[
        str, typer.Option("--by", help="训练人工号 · staff id of the developer")
    ] = "system",
    select: Annotated[
        bool, typer.Option("--select/--no-select", help="IV/相关性/PSI 特征筛选")
    ] = True,
    max_features: Annotated[
        int, typer.Option("--max-features", help="最多特征数 · features kept after selection")
    ] = 30,
    first: Annotated[
        str | None, typer.Option("--from", help="首个快照 · first snapshot month YYYY-MM")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="末个快照 · last snapshot month YYYY-MM")
    ] = None,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="写验证报告 · write the report")
    ] = True,
) -> None:
    """训练 · Train on a time-ordered split and register a new candidate version.

    Without ``--frame`` the rows come from the lake and the monthly feature snapshots
    (``puhui features snapshots``): outcomes of ``--target`` joined point in time.
    """
    if frame is None:
        _train_from_store(
            name or target, target, kind, trained_by, max_features, first, last, report
        )
        return
    from puhui.models.artifacts import ModelMetadata
    from puhui.models.training import DEVELOPMENT, train_model

    if name is None:
        raise ModelCommandError("a model name is needed with --frame, e.g. `model train ew_pd_6m`")
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


def _snapshot_dates(first: str | None, last: str | None) -> list[date] | None:
    from puhui.cli.features import monthly_dates, parse_day

    if first is None and last is None:
        return None
    start = parse_day(first, "--from") if first else date(1900, 1, 1)
    end = parse_day(last, "--to") if last else date(2999, 12, 1)
    return monthly_dates(start, end)


def _train_from_store(
    name: str,
    target: str,
    algorithm: str,
    trained_by: str,
    max_features: int,
    first: str | None,
    last: str | None,
    report: bool,
) -> None:
    from puhui.data.lake import Lake
    from puhui.features.catalog import load_feature_catalog
    from puhui.models import workflow
    from puhui.models.datasets import build_dataset
    from puhui.models.datasets import target as find_target

    settings = current_settings()
    find_target(target)
    if algorithm not in workflow.ALGORITHMS:
        raise ModelCommandError(
            f"--algorithm {algorithm!r} is not one of {', '.join(workflow.ALGORITHMS)}"
        )
    catalog = load_feature_catalog()
    with open_registry(settings) as registry:  # a store not migrated fails before the work
        with console.status(f"building the {target} dataset from the feature store…"):
            dataset = build_dataset(
                Lake(settings.lake_dir).connect(),
                settings.data_dir / "features",
                target,
                dates=_snapshot_dates(first, last),
                max_rows_per_date=PROPENSITY_ROWS_PER_DATE if target == "propensity" else None,
            )
            prepared = workflow.prepare(dataset, max_features=max_features)
        summary = dataset.summary()
        console.print(
            f"{target}: {summary['count']:,} rows, {summary['events']:,} events, as of "
            f"{summary['as_of_first']} … {summary['as_of_last']}; {len(prepared.features)} of "
            f"{len(dataset.features):,} features selected"
        )
        with console.status(f"training {algorithm}…"):
            result = workflow.fit(prepared, algorithm, catalog)
        entry = workflow.register(registry, name, prepared, result, catalog, trained_by=trained_by)
        console.print(_metrics_table(f"{name} v{entry.version} ({algorithm})", result.metrics))
        if report:
            html, _ = workflow.write_report(
                registry,
                name,
                entry.version,
                workflow.report_path(_reports_dir(), name, entry.version),
            )
            console.print(f"report: {html}")
    console.print(f"registered {name} version {entry.version} as a candidate")


def _metrics_table(title: str, measured: dict[str, dict[str, float]]) -> Table:
    table = Table("split", "rows", "events", "bad rate", "AUC", "KS", title=title)
    for split, values in measured.items():
        table.add_row(
            split,
            f"{int(values['count']):,}",
            f"{round(values['count'] * values['bad_rate']):,}",
            f"{values['bad_rate']:.2%}",
            f"{values['auc']:.3f}",
            f"{values['ks']:.3f}",
        )
    return table


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
    from puhui.models.workflow import report_path, write_report

    with _registry() as registry:
        entry = registry.champion(name) if version is None else registry.get(name, version)  # type: ignore[attr-defined]
        html_path, json_path = write_report(
            registry,  # type: ignore[arg-type]
            name,
            entry.version,
            output or report_path(_reports_dir(), name, entry.version),
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


DEMO_MODEL = "application_pd"


@dataclass(frozen=True)
class DemoModels:
    """What ``demo_models`` trained: versions, out-of-time numbers and the report."""

    champion_version: str
    challenger_version: str
    out_of_time: dict[str, dict[str, float]]
    report: Path
    application_id: str
    reasons: list[tuple[str, str, float]]


def demo_models(settings: Settings, console: Console) -> DemoModels:
    """演示 · Train the application scorecard and its LightGBM challenger from the feature
    snapshots, make the scorecard champion, write its report and show one application's reasons.

    Needs the lake and monthly snapshots (``puhui features snapshots``) under ``settings``.
    """
    from rich.rule import Rule

    console.print(Rule("模型 · application scorecard and LightGBM challenger"))
    with open_registry(settings) as registry:
        return _demo_models(settings, console, registry)


def _demo_models(settings: Settings, console: Console, registry: ModelRegistry) -> DemoModels:
    from puhui.data.lake import Lake
    from puhui.features.catalog import load_feature_catalog
    from puhui.models import workflow
    from puhui.models.datasets import build_dataset
    from puhui.models.training import OUT_OF_TIME, PD_COLUMN, SPLIT_COLUMN

    catalog = load_feature_catalog()
    dataset = build_dataset(
        Lake(settings.lake_dir).connect(), settings.data_dir / "features", DEMO_MODEL
    )
    prepared = workflow.prepare(dataset)
    summary = dataset.summary()
    console.print(
        f"{summary['count']:,} booked applications as of {summary['as_of_first']} … "
        f"{summary['as_of_last']} with matured 12-month outcomes, {summary['events']} bad; "
        f"{len(prepared.features)} of {len(dataset.features):,} features selected",
        highlight=False,
    )
    results = {kind: workflow.fit(prepared, kind, catalog) for kind in ("scorecard", "lightgbm")}
    entries = {
        kind: workflow.register(registry, DEMO_MODEL, prepared, result, catalog, trained_by="demo")
        for kind, result in results.items()
    }
    champion, challenger = entries["scorecard"], entries["lightgbm"]
    registry.promote(
        DEMO_MODEL, champion.version, actor="demo", reason="演示 demo: scorecard champion"
    )
    registry.set_challenger(
        DEMO_MODEL, challenger.version, actor="demo", reason="演示 demo: LightGBM challenger"
    )
    report, _ = workflow.write_report(
        registry,
        DEMO_MODEL,
        champion.version,
        workflow.report_path(
            settings.data_dir / "reports" / "models", DEMO_MODEL, champion.version
        ),
    )
    model, metadata = registry.load_champion(DEMO_MODEL)
    table = Table("model", "version", "status", "OOT rows", "OOT bad", "OOT AUC", "OOT KS")
    out_of_time = {}
    for kind, entry in entries.items():
        oot = results[kind].metrics.get(OUT_OF_TIME, {})
        out_of_time[kind] = oot
        table.add_row(
            kind,
            entry.version,
            "champion" if kind == "scorecard" else "challenger",
            f"{int(oot.get('count', 0)):,}",
            f"{round(oot.get('count', 0) * oot.get('bad_rate', 0)):,}",
            f"{oot.get('auc', float('nan')):.3f}",
            f"{oot.get('ks', float('nan')):.3f}",
        )
    console.print(table)
    evaluation = results["scorecard"].evaluation
    recent = evaluation.index[evaluation[SPLIT_COLUMN] == OUT_OF_TIME]
    riskiest = evaluation.loc[recent, PD_COLUMN].idxmax()
    row = prepared.data.loc[[riskiest]]
    reasons = model.reasons(row[metadata.features], metadata.descriptions, top=4)[0]
    probability = float(model.predict_proba(row[metadata.features])[0, 1])
    application_id = str(row["application_id"].iloc[0])
    console.print(
        f"application {application_id} ({row['uscc'].iloc[0]}, as of "
        f"{row['as_of'].iloc[0]:%Y-%m-%d}): champion PD {probability:.1%}; top reasons:",
        highlight=False,
    )
    for reason in reasons:
        console.print(
            f"  · {reason.zh} · {reason.en} (−{reason.impact:.0f} points)", highlight=False
        )
    console.print(f"report: {report}", highlight=False)
    return DemoModels(
        champion_version=champion.version,
        challenger_version=challenger.version,
        out_of_time=out_of_time,
        report=report,
        application_id=application_id,
        reasons=[(r.zh, r.en, r.impact) for r in reasons],
    )
