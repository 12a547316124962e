"""The ingest use cases: one table's files as one batch, or a whole folder of tables.

A batch is all-or-nothing. Its id is a SHA-256 over the table name and the content hashes of its
files, so delivering the same files again is recognised and changes nothing. A batch with any
value at fault writes nothing to the lake and leaves a rejection report instead.

Files are read, checked and staged chunk by chunk (``chunk_rows`` rows at a time), so memory
follows the chunk size rather than the batch size. Entity tables are snapshots: a new delivery
may repeat keys the lake holds; monthly and event tables refuse them.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow.parquet as pq

from puhui.data.ingest.encoding import RequestedEncoding
from puhui.data.ingest.errors import DirectoryLayoutError, IngestError, SourceFileError
from puhui.data.ingest.readers import EXTENSIONS, FileFormat, SourceReader
from puhui.data.ingest.rejections import DEFAULT_REPORT_LIMIT
from puhui.data.ingest.report import RejectionSummary, write_report
from puhui.data.ingest.validate import BATCH_COLUMN, BatchCheck, LakeKeys
from puhui.data.lake import BatchManifest, Lake, SourceFile
from puhui.data.lake.layout import batch_id_of
from puhui.data.lake.snapshots import is_snapshot_table
from puhui.data.schema import Catalog, TableSpec, load_catalog

Status = Literal["accepted", "rejected", "already"]
STEPS = ("hashing", "reading", "validating", "writing")
Progress = Callable[[str], None]
"""Told the name of each step (one of ``STEPS``) as it starts."""
TableProgress = Callable[[str, str], None]
"""Told the table and the step, for folders of tables."""

_HASH_CHUNK = 1 << 22
DEFAULT_CHUNK_ROWS = 1_000_000
"""Rows read, checked and staged at a time; memory grows with it, not with the batch."""
_LAKE_KEY_ROWS = 1 << 20


@dataclass(frozen=True)
class IngestResult:
    """What happened to one batch."""

    table: str
    batch_id: str
    status: Status
    rows: int
    partitions: int
    files: tuple[str, ...]
    rejected_rows: int = 0
    report: Path | None = None
    summary: RejectionSummary | None = None
    reason: str | None = None
    manifest: BatchManifest | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class DirectoryResult:
    """One result per table file of a folder, in the order they were loaded."""

    directory: Path
    results: tuple[IngestResult, ...]

    @property
    def rejected(self) -> tuple[IngestResult, ...]:
        return tuple(r for r in self.results if r.status == "rejected")

    @property
    def ok(self) -> bool:
        return not self.rejected


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def batch_id_for(table: str, content_hashes: Sequence[str]) -> str:
    """The batch id: SHA-256 over the table name and the files' hashes (in any order)."""
    digest = hashlib.sha256(f"puhui-batch\n{table}\n".encode())
    for content in sorted(content_hashes):
        digest.update(f"{content}\n".encode())
    return digest.hexdigest()


def _lake_keys(lake: Lake, spec: TableSpec) -> LakeKeys:
    """The lake's keys that could clash with a batch, streamed from the key columns only."""

    def existing(months: set[date] | None) -> Iterator[pl.DataFrame]:
        # When the key pins the partition, only the partitions the batch touches can clash.
        for path in lake.files(spec.name, months):
            batch = batch_id_of(path.name) or path.name
            for record in pq.ParquetFile(path).iter_batches(
                batch_size=_LAKE_KEY_ROWS, columns=list(spec.key)
            ):
                keys = pl.from_arrow(record)
                assert isinstance(keys, pl.DataFrame)
                yield keys.with_columns(pl.lit(batch).alias(BATCH_COLUMN))

    return existing


def _sources(paths: Sequence[Path]) -> list[SourceFile]:
    sources = []
    for path in paths:
        if not path.is_file():
            raise SourceFileError(f"{path}: no such file")
        sources.append(
            SourceFile(path=str(path), sha256=file_sha256(path), bytes=path.stat().st_size)
        )
    return sources


def ingest_files(
    lake: Lake,
    table: str,
    paths: Sequence[Path | str],
    *,
    file_format: FileFormat | None = None,
    encoding: RequestedEncoding = "auto",
    rejections_dir: Path | None = None,
    catalog: Catalog | None = None,
    progress: Progress | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    report_limit: int = DEFAULT_REPORT_LIMIT,
) -> IngestResult:
    """Validate the files of one table as one batch and commit it to the lake, or reject it.

    Refusals of a whole file (unknown or missing columns, undecodable bytes) raise
    :class:`IngestError`; faults in values return a ``rejected`` result with a report written to
    ``rejections_dir`` (default: ``rejections/`` beside the lake), listing the first
    ``report_limit`` faults and counting the rest. Files are processed ``chunk_rows`` rows at a
    time.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    started = time.perf_counter()
    spec = (catalog or load_catalog()).table(table)
    files = [Path(p) for p in paths]
    if not files:
        raise IngestError(f"no files given for table {spec.name}")
    step = progress or (lambda _: None)
    report_dir = rejections_dir or lake.root.parent / "rejections"
    names = tuple(str(p) for p in files)

    step("hashing")
    sources = _sources(files)
    batch_id = batch_id_for(spec.name, [s.sha256 for s in sources])
    with lake.lock():
        lake.recover()
        if lake.has_batch(batch_id):
            manifest = lake.batch(batch_id)
            return IngestResult(
                table=spec.name,
                batch_id=batch_id,
                status="already",
                rows=manifest.rows,
                partitions=len(manifest.partitions),
                files=names,
                reason=f"already ingested on {manifest.created_at:%Y-%m-%d %H:%M} UTC",
                manifest=manifest,
                seconds=time.perf_counter() - started,
            )
        step("reading")
        with tempfile.TemporaryDirectory(prefix="puhui-ingest-") as workdir:
            readers = [
                SourceReader(
                    spec, p, workdir=Path(workdir), file_format=file_format, encoding=encoding
                )
                for p in files
            ]

            def chunks() -> Iterator[tuple[int, pl.DataFrame]]:
                for index, reader in enumerate(readers):
                    for chunk in reader.chunks(chunk_rows):
                        yield index, chunk

            step("validating")
            check = BatchCheck(spec, names, report_limit=report_limit)
            lake_keys = None if is_snapshot_table(spec) else _lake_keys(lake, spec)
            with lake.open_batch(spec, batch_id, source_files=sources) as batch:
                for index, raw in chunks():
                    typed = check.add(raw, index)
                    if check.ok:  # a faulty batch is not committed: stop staging its rows
                        batch.write(typed)
                verdict = check.finish(chunks, lake_keys)
                if not verdict.ok:
                    report = write_report(
                        verdict.rejections, report_dir / f"{batch_id}.csv", omitted=verdict.omitted
                    )
                    summary = verdict.summary
                    return IngestResult(
                        table=spec.name,
                        batch_id=batch_id,
                        status="rejected",
                        rows=verdict.rows,
                        partitions=0,
                        files=names,
                        rejected_rows=summary.rejected_rows,
                        report=report,
                        summary=summary,
                        reason=f"{summary.headline()}; report: {report}",
                        seconds=time.perf_counter() - started,
                    )
                step("writing")
                manifest = batch.commit()
    return IngestResult(
        table=spec.name,
        batch_id=batch_id,
        status="accepted",
        rows=manifest.rows,
        partitions=len(manifest.partitions),
        files=names,
        manifest=manifest,
        seconds=time.perf_counter() - started,
    )


def plan_directory(directory: Path, catalog: Catalog | None = None) -> list[tuple[TableSpec, Path]]:
    """The ``<table>.<csv|parquet|jsonl>`` files of a folder, in catalog order.

    Tables are independent of one another, so any order is valid; catalog order is deterministic.
    Files whose name is not a table, or two files for one table, are refused up front rather than
    skipped, since a typo would otherwise silently drop a delivery.
    """
    catalog = catalog or load_catalog()
    if not directory.is_dir():
        raise SourceFileError(f"{directory}: no such folder")
    candidates = sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in EXTENSIONS
    )
    known = set(catalog.table_names)
    unknown = [p.name for p in candidates if p.stem not in known]
    if unknown:
        raise DirectoryLayoutError(
            f"{directory}: file(s) {', '.join(unknown)} name no table; expected "
            "<table>.<csv|parquet|jsonl> (see `puhui schema list`)"
        )
    by_table: dict[str, list[Path]] = {}
    for path in candidates:
        by_table.setdefault(path.stem, []).append(path)
    doubled = {t: ps for t, ps in by_table.items() if len(ps) > 1}
    if doubled:
        clashes = "; ".join(", ".join(p.name for p in ps) for ps in doubled.values())
        raise DirectoryLayoutError(f"{directory}: more than one file for a table: {clashes}")
    if not by_table:
        raise DirectoryLayoutError(f"{directory}: no <table>.<csv|parquet|jsonl> files to ingest")
    return [(spec, by_table[spec.name][0]) for spec in catalog.tables if spec.name in by_table]


def ingest_directory(
    lake: Lake,
    directory: Path | str,
    *,
    rejections_dir: Path | None = None,
    catalog: Catalog | None = None,
    progress: TableProgress | None = None,
) -> DirectoryResult:
    """Ingest every table file of a folder, each as its own batch; one result per table.

    A table whose file is refused outright (bad header or encoding) is reported as rejected and the
    other tables still load; re-running the folder only loads what is not in the lake yet.
    """
    folder = Path(directory)
    catalog = catalog or load_catalog()
    results = []
    for spec, path in plan_directory(folder, catalog):
        table_step: Progress | None = None
        if progress is not None:
            table_step = _bind(progress, spec.name)
        started = time.perf_counter()
        try:
            result = ingest_files(
                lake,
                spec.name,
                [path],
                rejections_dir=rejections_dir,
                catalog=catalog,
                progress=table_step,
            )
        except IngestError as error:
            result = IngestResult(
                table=spec.name,
                batch_id=_batch_id_or_blank(spec.name, path),
                status="rejected",
                rows=0,
                partitions=0,
                files=(str(path),),
                reason=str(error),
                seconds=time.perf_counter() - started,
            )
        results.append(result)
    return DirectoryResult(directory=folder, results=tuple(results))


def _bind(progress: TableProgress, table: str) -> Progress:
    return lambda step: progress(table, step)


def _batch_id_or_blank(table: str, path: Path) -> str:
    try:
        return batch_id_for(table, [file_sha256(path)])
    except OSError:
        return ""


__all__ = [
    "STEPS",
    "DirectoryResult",
    "IngestResult",
    "batch_id_for",
    "file_sha256",
    "ingest_directory",
    "ingest_files",
    "plan_directory",
]
