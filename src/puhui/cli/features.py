"""``puhui features``: build point-in-time feature snapshots and browse the catalog."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from puhui.cli.context import console, current_settings
from puhui.data.lake import Lake
from puhui.errors import PuhuiError
from puhui.features.catalog import load_feature_catalog
from puhui.features.engines import DuckDBEngine, FeatureEngine, SparkEngine
from puhui.features.store import available_dates, build_snapshots, load_stats
from puhui.features.timing import add_months
from puhui.operations.report import report_rows

app = typer.Typer(no_args_is_help=True)
PARTITIONS_HELP = (
    "分片 · build the firms in N hash slices to bound memory "
    "(duckdb; default one per 100,000 firms)"
)


class BadDateError(PuhuiError):
    """A date option could not be read."""


def parse_day(text: str, option: str) -> date:
    """``YYYY-MM-DD`` (or ``YYYY-MM`` for the first of the month)."""
    try:
        if len(text) == 7:
            return date.fromisoformat(text + "-01")
        return date.fromisoformat(text)
    except ValueError:
        raise BadDateError(f"{option}: {text!r} is not a date (YYYY-MM-DD or YYYY-MM)") from None


def make_engine(name: str) -> FeatureEngine:
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        return SparkEngine()
    raise BadDateError(f"--engine: {name!r} is not an engine (duckdb or spark)")


def monthly_dates(start: date, end: date) -> list[date]:
    """First days of each month from ``start`` to ``end``."""
    if end < start:
        raise BadDateError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    day, dates = start.replace(day=1), []
    while day <= end:
        dates.append(day)
        day = add_months(day, 1)
    return dates


def _build(dates: list[date], engine: str, force: bool, partitions: int | None) -> None:
    settings = current_settings()
    lake = Lake(settings.lake_dir)
    catalog = load_feature_catalog()
    with console.status(f"building {len(catalog.features)} features × {len(dates)} date(s)…"):
        results = build_snapshots(
            lake,
            catalog,
            dates,
            settings.data_dir / "features",
            make_engine(engine),
            force=force,
            partitions=partitions,
        )
    table = Table(title="特征快照 · feature snapshots")
    for column in ("as_of", "firms", "features", "engine", "seconds", "status"):
        table.add_column(column)
    for result in results:
        record = result.record
        table.add_row(
            result.as_of.isoformat(),
            f"{record.firms:,}",
            f"{record.features:,}",
            record.engine,
            f"{record.seconds:.1f}",
            "built" if result.built else "up to date",
        )
    console.print(table)
    firms = sum(result.record.firms for result in results)
    report_rows(rows_out=firms * len(catalog.features))  # feature values written


@app.command("build")
def build(
    as_of: Annotated[str, typer.Option("--as-of", help="时点 · as-of date YYYY-MM-DD")],
    engine: Annotated[str, typer.Option(help="计算引擎 · duckdb or spark")] = "duckdb",
    force: Annotated[bool, typer.Option(help="重算 · rebuild even if up to date")] = False,
    partitions: Annotated[int | None, typer.Option(help=PARTITIONS_HELP)] = None,
) -> None:
    """构建特征 · compute every feature as of one date into the feature store."""
    _build([parse_day(as_of, "--as-of")], engine, force, partitions)


@app.command("snapshots")
def snapshots(
    start: Annotated[str, typer.Option("--from", help="首个时点 · first month YYYY-MM")],
    end: Annotated[str, typer.Option("--to", help="末个时点 · last month YYYY-MM")],
    engine: Annotated[str, typer.Option(help="计算引擎 · duckdb or spark")] = "duckdb",
    force: Annotated[bool, typer.Option(help="重算 · rebuild even if up to date")] = False,
    partitions: Annotated[int | None, typer.Option(help=PARTITIONS_HELP)] = None,
) -> None:
    """月度快照 · features as of the first day of each month, for model training."""
    dates = monthly_dates(parse_day(start, "--from"), parse_day(end, "--to"))
    _build(dates, engine, force, partitions)


@app.command("list")
def list_snapshots() -> None:
    """已有快照 · as-of dates in the feature store."""
    root = current_settings().data_dir / "features"
    dates = available_dates(root)
    if not dates:
        console.print("no feature snapshots yet: run `puhui features build --as-of YYYY-MM-DD`")
        return
    for day in dates:
        console.print(day.isoformat())


@app.command("catalog")
def catalog(
    family: Annotated[str | None, typer.Option(help="只看一个族 · one family")] = None,
    search: Annotated[
        str | None, typer.Option(help="名称或描述包含 · name or text contains")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="附带该快照的统计 · with a snapshot's statistics")
    ] = None,
    limit: Annotated[int, typer.Option(help="最多显示 · rows to show")] = 50,
) -> None:
    """特征目录 · the feature catalog (families, descriptions, fill rates)."""
    features = load_feature_catalog().features
    stats = {}
    if as_of is not None:
        root = current_settings().data_dir / "features"
        stats = {s.name: s for s in load_stats(root, parse_day(as_of, "--as-of"))}
    chosen = [
        f
        for f in features
        if (family is None or f.family == family)
        and (search is None or search in f.name or search in f.zh or search in f.en)
    ]
    table = Table(title=f"特征目录 · {len(chosen):,} of {len(features):,} features")
    for column in ("name", "说明", "source", "window", "fill", "p50"):
        table.add_column(column)
    for feature in chosen[:limit]:
        stat = stats.get(feature.name)
        table.add_row(
            feature.name,
            feature.zh,
            feature.source,
            "" if feature.window is None else f"{feature.window}m",
            "" if stat is None else f"{stat.fill_rate:.0%}",
            "" if stat is None or stat.p50 is None else f"{stat.p50:,.4g}",
        )
    console.print(table)
