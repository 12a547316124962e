"""``puhui store``: the operational store (migrations, seeding, status)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, func, inspect, select

from puhui.cli.context import console, current_settings
from puhui.data.store.engine import make_engine, make_session_factory, mask_url
from puhui.data.store.migrate import (
    StoreNotMigratedError,
    migration_status,
    require_up_to_date,
    upgrade,
)
from puhui.data.store.tables import Base

app = typer.Typer(no_args_is_help=True)


@contextmanager
def _engine() -> Iterator[Engine]:
    """The engine for this invocation's store URL, disposed when the command ends."""
    engine = make_engine(current_settings().resolved_store_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _committed_files(lake_dir: Path) -> Callable[[str], Sequence[Path]] | None:
    """The lake's own list of committed files (oldest batch first) when it keeps manifests.

    A plain folder of Parquet files (no manifests) is read as it is.
    """
    from puhui.data.lake.core import Lake
    from puhui.data.lake.manifest import MANIFEST_DIR

    if not (lake_dir / MANIFEST_DIR).is_dir():
        return None
    return Lake(lake_dir).files


@app.command("upgrade")
def upgrade_command() -> None:
    """迁移 · Migrate the store's schema to the newest revision."""
    with _engine() as engine:
        before = migration_status(engine)
        if before.up_to_date:
            console.print(f"store {mask_url(engine.url)} is already at {before.head}")
            return
        after = upgrade(engine)
        console.print(
            f"store {mask_url(engine.url)} migrated from {before.current or 'empty'} "
            f"to {after.current} ({len(before.pending)} revision(s) applied)"
        )


@app.command("current")
def current_command(
    check: Annotated[
        bool,
        typer.Option("--check", help="Fail (exit 1) unless the store is at the newest revision."),
    ] = False,
) -> None:
    """版本 · Print the store's schema revision and whether it is up to date."""
    with _engine() as engine:
        status = migration_status(engine)
        state = (
            "up to date"
            if status.up_to_date
            else f"behind: {len(status.pending)} pending ({', '.join(status.pending)})"
        )
        console.print(
            f"revision {status.current or 'none'} (head {status.head}), {state}", highlight=False
        )
        if check and not status.up_to_date:
            raise StoreNotMigratedError(
                f"the store {mask_url(engine.url)} is not at {status.head}; "
                "run `puhui store upgrade`"
            )


@app.command("seed")
def seed_command(
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Rows per insert batch.")
    ] = 5000,
) -> None:
    """参考数据 · Load branches, staff and the enterprise master from the lake (idempotent)."""
    from puhui.data.store.reference import (
        build_reference_rows,
        read_reference_frames,
        seed_reference,
    )
    from puhui.data.store.tables import utc_now

    settings = current_settings()
    with _engine() as engine:
        require_up_to_date(engine)
        now = utc_now()
        with console.status(f"reading the lake at {settings.lake_dir}"):
            frames = read_reference_frames(
                settings.lake_dir, list_files=_committed_files(settings.lake_dir)
            )
            rows = build_reference_rows(frames, now=now)
        progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        tasks = {name: progress.add_task(name, total=size) for name, size in rows.sizes().items()}

        def on_progress(table: str, done: int, total: int) -> None:
            progress.update(tasks[table], completed=done, total=total)

        with progress, make_session_factory(engine).begin() as session:
            result = seed_reference(
                session,
                rows,
                source=str(settings.lake_dir),
                now=now,
                batch_size=batch_size,
                on_progress=on_progress,
            )
    summary = Table(title="store seed", title_justify="left")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    summary.add_column("new", justify="right")
    for name, count in result.tables.items():
        summary.add_row(name, f"{count.rows:,}", f"{count.new:,}")
    console.print(summary)
    console.print(f"recorded as audit entry {result.audit_event_id}", highlight=False)


@app.command("status")
def status_command() -> None:
    """概况 · Row counts per table and the schema revision."""
    with _engine() as engine:
        status = migration_status(engine)
        existing = set(inspect(engine).get_table_names())
        console.print(
            f"store {mask_url(engine.url)}, revision {status.current or 'none'}", highlight=False
        )
        summary = Table()
        summary.add_column("table")
        summary.add_column("rows", justify="right")
        with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                if table.name not in existing:
                    summary.add_row(table.name, "[dim]not created[/dim]")
                    continue
                count = connection.execute(select(func.count()).select_from(table)).scalar_one()
                summary.add_row(table.name, f"{count:,}")
        console.print(summary)
        if not status.up_to_date:
            console.print(f"{len(status.pending)} migration(s) pending: run `puhui store upgrade`")
