"""The atomic write protocol: stage, fsync, rename into place, commit with the manifest.

Every file of a batch is written and fsynced under ``_staging/<batch_id>/`` (inside the lake, so
on the same file system and each rename is atomic), then renamed into its Hive folder. The
manifest is written last and is the commit point. If anything fails before the commit, the files
already moved are removed again; if the process dies, ``recover()`` removes them later, because
no manifest names them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import date
from pathlib import Path, PurePosixPath

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from puhui.data.lake.durable import fsync_dir, fsync_file, make_parents
from puhui.data.lake.errors import LakeSchemaError, LakeWriteError
from puhui.data.lake.layout import partition_month, relative_file
from puhui.data.schema import TableSpec


def conform(spec: TableSpec, data: pa.Table | pl.DataFrame) -> pl.DataFrame:
    """The frame in canonical column order and types, or an error naming what does not fit."""
    frame = pl.from_arrow(data) if isinstance(data, pa.Table) else data
    if not isinstance(frame, pl.DataFrame):
        raise LakeSchemaError(f"table {spec.name}: expected a table, got {type(data).__name__}")
    names = spec.field_names
    missing = [n for n in names if n not in frame.columns]
    extra = [c for c in frame.columns if c not in names]
    if missing or extra:
        raise LakeSchemaError(
            f"table {spec.name}: frame does not match the schema"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else "")
        )
    try:
        frame = frame.select(pl.col(n).cast(spec.polars_schema[n], strict=True) for n in names)
    except (pl.exceptions.PolarsError, ValueError) as error:
        raise LakeSchemaError(f"table {spec.name}: cannot cast to the schema: {error}") from error
    required = [f.name for f in spec.fields if f.required]
    nulls = frame.select(pl.col(n).null_count() for n in required).row(0) if required else ()
    holes = [name for name, count in zip(required, nulls, strict=True) if count]
    if holes:
        raise LakeSchemaError(f"table {spec.name}: nulls in required field(s) {', '.join(holes)}")
    return frame


def split_by_month(spec: TableSpec, frame: pl.DataFrame) -> list[tuple[date | None, pl.DataFrame]]:
    """The frame per partition month, in month order; one unpartitioned piece for entities."""
    if spec.partition is None:
        return [(None, frame)] if frame.height else []
    keyed = frame.with_columns(partition_month(spec).alias("__partition"))
    groups = keyed.partition_by("__partition", as_dict=True, include_key=False)
    return sorted(((key[0], piece) for key, piece in groups.items()), key=lambda p: p[0])


def stage(
    spec: TableSpec, frame: pl.DataFrame, batch_id: str, staging: Path
) -> tuple[list[PurePosixPath], dict[str, int]]:
    """Write and fsync every partition's file under ``staging``; return paths and row counts."""
    pieces = split_by_month(spec, frame)
    schema = spec.arrow_schema
    staged = [relative_file(spec, batch_id, month) for month, _ in pieces]

    def write(piece: pl.DataFrame, relative: PurePosixPath) -> None:
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            piece.to_arrow().cast(schema),
            target,
            compression="zstd",
            store_decimal_as_integer=True,  # INT64 decimals: smaller, and what Spark writes
        )
        fsync_file(target)

    # pyarrow releases the GIL while encoding, so partitions compress in parallel.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        writes = [
            pool.submit(write, piece, relative)
            for (_, piece), relative in zip(pieces, staged, strict=True)
        ]
        for done in writes:
            done.result()
    partitions = {month.isoformat(): piece.height for month, piece in pieces if month is not None}
    return staged, partitions


def publish(
    root: Path,
    staging: Path,
    staged: list[PurePosixPath],
    commit: Callable[[], None],
    what: str,
) -> None:
    """Rename staged files into place, then ``commit`` (write the manifest).

    Before the commit succeeds, any failure removes the files moved so far and the folders
    created for them, and is raised as :class:`LakeWriteError` naming ``what`` was written.
    """
    moved: list[Path] = []
    created: list[Path] = []
    try:
        for relative in staged:
            target = root / relative
            created.extend(make_parents(target.parent, stop=root))
            os.replace(staging / relative, target)
            moved.append(target)
        for folder in {target.parent for target in moved}:
            fsync_dir(folder)
        commit()
    except BaseException as error:
        for target in moved:
            with suppress(OSError):
                target.unlink()
        for folder in reversed(created):
            with suppress(OSError):
                folder.rmdir()
        if not isinstance(error, Exception):
            raise
        raise LakeWriteError(
            f"writing {what} failed ({error}); rolled back {len(moved)} file(s), "
            "the lake is unchanged"
        ) from error
