"""The atomic write protocol: stage, fsync, rename into place, commit with the manifest.

Every file of a batch is written (in chunks, by :class:`Stager`) and fsynced under
``_staging/<batch_id>/`` (inside the lake, so
on the same file system and each rename is atomic), then renamed into its Hive folder. The
manifest is written last and is the commit point. If anything fails before the commit, the files
already moved are removed again; if the process dies, ``recover()`` removes them later, because
no manifest names them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import date
from pathlib import Path, PurePosixPath

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from puhui.data.lake.durable import fsync_dir, fsync_file, make_parents
from puhui.data.lake.errors import BatchExistsError, LakeSchemaError, LakeWriteError
from puhui.data.lake.layout import partition_month, relative_file
from puhui.data.lake.manifest import BatchManifest, SourceFile
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


class Stager:
    """Writes one batch's rows, chunk after chunk, into one staged file per partition.

    Each partition's file stays open across chunks (a chunk's piece becomes a row group), so a
    batch far larger than memory is written with one chunk in memory at a time. Partitions of a
    chunk are compressed in parallel threads: pyarrow releases the GIL while encoding.
    """

    def __init__(self, spec: TableSpec, batch_id: str, staging: Path) -> None:
        self.spec = spec
        self.batch_id = batch_id
        self.staging = staging
        self.rows = 0
        self._schema = spec.arrow_schema
        self._writers: dict[date | None, pq.ParquetWriter] = {}
        self._files: dict[date | None, PurePosixPath] = {}
        self._counts: dict[date | None, int] = {}
        self._pool = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))

    def write(self, data: pa.Table | pl.DataFrame) -> None:
        """Append rows (canonical columns and types, checked by :func:`conform`)."""
        frame = conform(self.spec, data)
        pieces = split_by_month(self.spec, frame)
        for month, _ in pieces:
            if month not in self._writers:
                relative = relative_file(self.spec, self.batch_id, month)
                target = self.staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                self._files[month] = relative
                self._counts[month] = 0
                self._writers[month] = pq.ParquetWriter(
                    target,
                    self._schema,
                    compression="zstd",
                    store_decimal_as_integer=True,  # INT64 decimals: smaller, and what Spark writes
                )
        writes = [
            self._pool.submit(self._writers[month].write_table, piece.to_arrow().cast(self._schema))
            for month, piece in pieces
        ]
        for done in writes:
            done.result()
        for month, piece in pieces:
            self._counts[month] += piece.height
        self.rows += frame.height

    def finish(self) -> tuple[list[PurePosixPath], dict[str, int]]:
        """Close and fsync every file; the staged paths (month order) and rows per partition."""
        self._close()
        months = sorted(self._files, key=lambda m: (m is not None, m))
        staged = [self._files[m] for m in months]
        for relative in staged:
            fsync_file(self.staging / relative)
        partitions = {m.isoformat(): self._counts[m] for m in months if m is not None}
        return staged, partitions

    def discard(self) -> None:
        """Close the files without keeping them (the caller removes the staging folder)."""
        with suppress(Exception):
            self._close()

    def _close(self) -> None:
        try:
            closes = [self._pool.submit(writer.close) for writer in self._writers.values()]
            for done in closes:
                done.result()
        finally:
            self._writers.clear()
            self._pool.shutdown(wait=True)


class StagedBatch:
    """A batch being written: ``write`` chunks of rows, then ``commit`` (or leave it uncommitted).

    Obtained from :meth:`Lake.open_batch`, which holds the writer lock and discards the staged
    files if the block ends without a commit.
    """

    def __init__(
        self,
        stager: Stager,
        source_files: Sequence[SourceFile],
        publish: Callable[[Stager, Sequence[SourceFile]], BatchManifest],
    ) -> None:
        self._publish = publish
        self._stager = stager
        self._source_files = tuple(source_files)
        self.manifest: BatchManifest | None = None

    @property
    def rows(self) -> int:
        return self._stager.rows

    def write(self, data: pa.Table | pl.DataFrame) -> None:
        """Append rows in the table's canonical columns and types."""
        if self.manifest is not None:
            raise BatchExistsError(f"batch {self._stager.batch_id} is already committed")
        self._stager.write(data)

    def commit(self, source_files: Sequence[SourceFile] | None = None) -> BatchManifest:
        """Move the staged files into place and write the manifest: the batch becomes visible."""
        if self.manifest is not None:
            return self.manifest
        if source_files is not None:
            self._source_files = tuple(source_files)
        self.manifest = self._publish(self._stager, self._source_files)
        return self.manifest

    def discard(self) -> None:
        self._stager.discard()


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
