"""``puhui lake``: look into the Parquet lake."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.table import Table

from puhui.cli.context import console, current_settings
from puhui.data.lake import BatchManifest, Lake, LakeError
from puhui.data.schema import load_catalog
from puhui.data.summary import LakeSummary, summarize_lake

app = typer.Typer(no_args_is_help=True)


class LakeQueryError(LakeError):
    """DuckDB refused a query over the lake; the message is DuckDB's first line."""


def _lake() -> Lake:
    return Lake(current_settings().lake_dir)


@app.command("tables")
def tables() -> None:
    """数据表 · tables in the lake with their rows, partitions and batches."""
    lake = _lake()
    by_table: dict[str, list[BatchManifest]] = {}
    for manifest in lake.batches():  # every manifest read once
        by_table.setdefault(manifest.table, []).append(manifest)
    if not by_table:
        console.print(f"the lake at {lake.root} is empty; load it with `puhui ingest-dir`")
        return
    table = Table(title=f"数据湖 lake {lake.root}")
    for column in ("table", "rows", "stored rows", "partitions", "batches"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, manifests in sorted(by_table.items()):
        months = {month for m in manifests for month in m.partitions}
        # Current rows (latest snapshot per key for entity tables) and everything kept on disk.
        table.add_row(
            name,
            f"{lake.row_count(name):,}",
            f"{sum(m.rows for m in manifests):,}",
            str(len(months)) if months else "-",
            str(len(manifests)),
        )
    console.print(table)


@app.command("batches")
def batches(
    table_name: Annotated[
        str | None, typer.Option("--table", help="Only the batches of this table.")
    ] = None,
) -> None:
    """批次 · committed batches, oldest first, with their source files."""
    lake = _lake()
    found = lake.batches(table_name)
    if not found:
        console.print("no batches" + (f" of {table_name}" if table_name else ""))
        return
    table = Table(title="批次 batches")
    for column in ("batch", "table", "rows", "partitions", "created (UTC)", "source files"):
        table.add_column(column, justify="right" if column in {"rows", "partitions"} else "left")
    for manifest in found:
        table.add_row(
            manifest.batch_id[:12],
            manifest.table,
            f"{manifest.rows:,}",
            str(len(manifest.partitions)),
            f"{manifest.created_at:%Y-%m-%d %H:%M:%S}",
            ", ".join(Path(s.path).name for s in manifest.source_files),
        )
    console.print(table)


@app.command("query")
def query(
    sql: Annotated[str, typer.Argument(help="DuckDB SQL over one view per lake table.")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows to print at most.")] = 50,
) -> None:
    """查询 · run SQL over the lake with DuckDB and print the result."""
    connection = _lake().connect()
    try:
        relation = connection.sql(sql)
        if relation is None:
            console.print("done")
            return
        columns = relation.columns
        rows = relation.limit(limit + 1).fetchall()
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise LakeQueryError(f"query failed: {first_line}") from error
    finally:
        connection.close()
    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows[:limit]:
        table.add_row(*("" if value is None else str(value) for value in row))
    console.print(table)
    shown = min(len(rows), limit)
    note = f" (first {limit}; use --limit for more)" if len(rows) > limit else ""
    console.print(f"{shown} row(s){note}")


def print_summary(summary: LakeSummary) -> None:
    """Per-source row counts, then the default and fraud rates a risk officer asks about first."""
    table = Table(title="数据湖概览 · what the lake holds")
    for column, justify in (
        ("source", "left"),
        ("来源", "left"),
        ("tables", "right"),
        ("rows", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for source in summary.sources:
        table.add_row(source.source, source.zh, str(source.tables), f"{source.rows:,}")
    console.print(table)
    rate = summary.annual_default_rate
    fraud = summary.application_fraud_rate
    console.print(f"enterprises 企业: {summary.enterprises:,}")
    console.print(
        f"borrowers 存量贷款户: {summary.borrowers:,}; defaults (90+ days) 违约: "
        f"{summary.borrower_defaults:,} in {summary.borrower_years:,} borrower-years"
        + (f" → annual default rate 年违约率 {rate:.2%}" if rate is not None else "")
    )
    console.print(
        f"applications 申请: {summary.applications:,}"
        + (f"; fraudulent 欺诈 {fraud:.2%} (ground truth)" if fraud is not None else "")
    )
    for note in summary.notes:
        console.print(f"note: {note}")


@app.command("summary")
def summary() -> None:
    """概览 · rows per source, borrowers' annual default rate, application fraud rate."""
    print_summary(summarize_lake(_lake().connect(), load_catalog()))
