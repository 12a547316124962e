"""``puhui ingest``: validate source deliveries and write them to the lake atomically."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from puhui.cli.context import console, current_settings
from puhui.data.ingest import (
    STEPS,
    BatchRejectedError,
    IngestResult,
    ingest_directory,
    ingest_files,
    plan_directory,
)
from puhui.data.lake import Lake
from puhui.operations.report import report_rows

_STATUS_STYLE = {"accepted": "green", "already": "cyan", "rejected": "bold red"}


def _lake() -> Lake:
    return Lake(current_settings().lake_dir)


def _rejections_dir() -> Path:
    return current_settings().data_dir / "rejections"


@contextmanager
def _progress() -> Iterator[Progress]:
    """A progress display that stays out of logs and pipes (it only draws on a terminal)."""
    progress = Progress(
        TextColumn("{task.fields[table]:<28}"),
        BarColumn(),
        TextColumn("{task.description:<10}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        yield progress


def _summary(results: Sequence[IngestResult]) -> Table:
    table = Table(title="接入结果 ingest summary")
    for column in ("table", "rows", "partitions", "status", "batch", "seconds"):
        table.add_column(column, justify="right" if column in {"rows", "partitions"} else "left")
    for result in results:
        style = _STATUS_STYLE[result.status]
        table.add_row(
            result.table,
            f"{result.rows:,}",
            str(result.partitions) if result.status != "rejected" else "",
            f"[{style}]{result.status}[/]",
            result.batch_id[:12],
            f"{result.seconds:.1f}",
        )
    return table


def _issues(result: IngestResult) -> Table | None:
    if result.summary is None or not result.summary.top:
        return None
    table = Table(title=f"{result.table}: most common faults")
    for column in ("field", "rule", "reason", "count", "first row"):
        table.add_column(column)
    for issue in result.summary.top:
        table.add_row(
            issue.field,
            issue.rule,
            issue.reason,
            f"{issue.count:,}",
            f"{Path(issue.first_file).name}:{issue.first_row}",
        )
    return table


def _one_line(result: IngestResult) -> str:
    if result.report is not None:
        return f"{result.table}: {result.rejected_rows:,} row(s) rejected, report {result.report}"
    return f"{result.table}: {result.reason}"


def ingest(
    table: Annotated[str, typer.Argument(help="Table the files belong to, e.g. tax_monthly.")],
    files: Annotated[
        list[Path], typer.Argument(help="One or more files of that table; they form one batch.")
    ],
    file_format: Annotated[
        Literal["csv", "parquet", "jsonl"] | None,
        typer.Option("--format", help="Read every file in this format instead of by extension."),
    ] = None,
    encoding: Annotated[
        Literal["auto", "utf-8", "gbk"],
        typer.Option("--encoding", help="Text encoding of CSV/JSONL files (auto: UTF-8 or GBK)."),
    ] = "auto",
) -> None:
    """接入 · ingest files of one table into the lake."""
    with _progress() as progress:
        task = progress.add_task("hashing", total=len(STEPS), table=table)

        def advance(step: str) -> None:
            progress.update(task, description=step, completed=STEPS.index(step))

        result = ingest_files(
            _lake(),
            table,
            files,
            file_format=file_format,
            encoding=encoding,
            rejections_dir=_rejections_dir(),
            progress=advance,
        )
    console.print(_summary([result]))
    if result.status == "already":
        console.print(f"{result.table}: {result.reason}; nothing written")
    if result.status == "rejected":
        issues = _issues(result)
        if issues is not None:
            console.print(issues)
        raise BatchRejectedError(f"batch rejected, nothing written: {_one_line(result)}")


def ingest_dir(
    directory: Annotated[
        Path, typer.Argument(help="Folder of <table>.<parquet|csv|jsonl> files, one per table.")
    ],
) -> None:
    """接入目录 · ingest every table file in a folder."""
    plan = plan_directory(directory)
    with _progress() as progress:
        tasks: dict[str, TaskID] = {
            spec.name: progress.add_task("queued", total=len(STEPS), table=spec.name)
            for spec, _ in plan
        }

        def advance(table: str, step: str) -> None:
            progress.update(tasks[table], description=step, completed=STEPS.index(step))

        outcome = ingest_directory(
            _lake(), directory, rejections_dir=_rejections_dir(), progress=advance
        )
    console.print(_summary(outcome.results))
    rows_in = sum(result.rows for result in outcome.results)
    report_rows(rows_in=rows_in, rows_out=rows_in - sum(r.rows for r in outcome.rejected))
    for result in outcome.rejected:
        issues = _issues(result)
        if issues is not None:
            console.print(issues)
    if outcome.rejected:
        first = outcome.rejected[0]
        more = len(outcome.rejected) - 1
        suffix = f" (and {more} more table(s), see the summary)" if more else ""
        raise BatchRejectedError(
            f"{len(outcome.rejected)} of {len(outcome.results)} table(s) rejected: "
            f"{_one_line(first)}{suffix}"
        )
