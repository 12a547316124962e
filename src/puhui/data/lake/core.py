"""The analytical lake: immutable, manifest-committed batches of Parquet, one folder per table.

A batch becomes visible when its manifest is written, after all its files are in place (see
:mod:`puhui.data.lake.writer`). Readers list files from manifests, so a half-moved batch is
invisible to DuckDB and Polars, and ``recover()`` deletes what an interrupted write left behind.
One writer at a time is enforced with an advisory lock file (``<lake>/_lock``).

Commits are ordered by a lake-wide sequence number, and ``created_at`` never goes backwards, so
"the lake as of an instant" is a prefix of the commit order. Entity tables are snapshots: readers
see per key the row of the latest batch (:mod:`puhui.data.lake.snapshots`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

import duckdb
import polars as pl
import pyarrow as pa

from puhui import __version__
from puhui.data.lake import recovery, snapshots, writer
from puhui.data.lake.durable import replace_text
from puhui.data.lake.errors import BatchExistsError, LakeLayoutError, TableNotInLakeError
from puhui.data.lake.layout import (
    LOCK_FILE,
    PARTITION_COLUMN,
    STAGING_DIR,
    check_batch_id,
    check_partition_column,
)
from puhui.data.lake.manifest import MANIFEST_DIR, BatchManifest, SourceFile, read_manifest
from puhui.data.lake.recovery import RecoveryReport
from puhui.data.lake.writer import StagedBatch, Stager
from puhui.data.schema import Catalog, TableSpec, UnknownTableError, load_catalog

try:  # POSIX advisory locks; on platforms without fcntl the lock is a no-op.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# DuckDB type of each data-model field type (typed nulls for absent columns, empty selects).
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "enum": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "money": "DECIMAL(18,2)",
    "bool": "BOOLEAN",
    "date": "DATE",
    "month": "DATE",
    "timestamp": "TIMESTAMPTZ",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Lake:
    """A folder of Parquet batches with manifests, readable by DuckDB, Polars and Spark."""

    def __init__(
        self,
        root: Path | str,
        *,
        catalog: Catalog | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.root = Path(root).absolute()
        if "=" in str(self.root):
            # Hive readers would take an ``x=y`` folder above the lake for a partition column.
            raise LakeLayoutError(f"lake folder {self.root} must not contain '='")
        self._catalog = catalog
        self._clock = clock
        self._lock_depth = 0

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the lake's writer lock (re-entrant within this ``Lake`` object)."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # --- what is committed ---------------------------------------------------------------------

    def _manifest_path(self, batch_id: str) -> Path:
        return self.root / MANIFEST_DIR / f"{check_batch_id(batch_id)}.json"

    def has_batch(self, batch_id: str) -> bool:
        """Whether a batch with this id is committed."""
        return self._manifest_path(batch_id).is_file()

    def batch(self, batch_id: str) -> BatchManifest:
        """The manifest of one committed batch."""
        path = self._manifest_path(batch_id)
        if not path.is_file():
            raise TableNotInLakeError(f"no committed batch {batch_id} in the lake at {self.root}")
        return read_manifest(path)

    def batches(
        self, table: str | None = None, *, as_of: datetime | None = None
    ) -> list[BatchManifest]:
        """Committed batches in commit order (oldest first), optionally of one table, optionally
        only those committed at or before ``as_of``."""
        folder = self.root / MANIFEST_DIR
        if not folder.is_dir():
            return []
        manifests = [read_manifest(p) for p in folder.glob("*.json")]
        if table is not None:
            manifests = [m for m in manifests if m.table == table]
        if as_of is not None:
            manifests = [m for m in manifests if m.created_at <= as_of]
        return sorted(manifests, key=lambda m: m.commit_order)

    def tables(self, *, as_of: datetime | None = None) -> list[str]:
        """Tables with at least one committed batch."""
        return sorted({m.table for m in self.batches(as_of=as_of)})

    def row_count(self, table: str, *, as_of: datetime | None = None) -> int:
        """Rows a reader sees in a table.

        From the manifests alone, except for an entity table with several snapshots: there the
        distinct keys are counted, reading the key columns only.
        """
        manifests = self.batches(table, as_of=as_of)
        spec = self._spec(table)
        if spec is not None and snapshots.is_snapshot_table(spec) and len(manifests) > 1:
            files = [self.root / f for m in manifests for f in m.files]
            return snapshots.distinct_keys(spec.key, files) if files else 0
        return sum(m.rows for m in manifests)

    def partitions(self, table: str, *, as_of: datetime | None = None) -> dict[str, int]:
        """Rows per partition month (``YYYY-MM-01``) over all batches of a table."""
        totals: dict[str, int] = {}
        for manifest in self.batches(table, as_of=as_of):
            for month, rows in manifest.partitions.items():
                totals[month] = totals.get(month, 0) + rows
        return dict(sorted(totals.items()))

    def files(
        self, table: str, months: Iterable[date] | None = None, *, as_of: datetime | None = None
    ) -> list[Path]:
        """Committed Parquet files of a table in commit order (oldest batch first), optionally
        only those of some partition months or committed by ``as_of``.

        For entity tables this lists every snapshot; a reader that wants the current state keeps
        per key the row of the last file holding it (as ``scan`` and ``connect`` do).
        """
        wanted = None if months is None else {m.replace(day=1).isoformat() for m in months}
        paths = []
        for manifest in self.batches(table, as_of=as_of):
            for relative in manifest.files:
                if wanted is not None:
                    folder = PurePosixPath(relative).parent.name
                    if folder.removeprefix(f"{PARTITION_COLUMN}=") not in wanted:
                        continue
                paths.append(self.root / relative)
        return paths

    # --- writing and recovery ------------------------------------------------------------------

    def write_batch(
        self,
        spec: TableSpec,
        data: pa.Table | pl.DataFrame,
        batch_id: str,
        *,
        source_files: Sequence[SourceFile] = (),
    ) -> BatchManifest:
        """Write one batch atomically and return its manifest.

        Either every file of the batch and its manifest are in place, or (after a failure, or
        after ``recover()`` following a crash) the lake is exactly as it was before.
        """
        frame = writer.conform(spec, data)
        with self.open_batch(spec, batch_id, source_files=source_files) as batch:
            batch.write(frame)
            return batch.commit()

    @contextmanager
    def open_batch(
        self, spec: TableSpec, batch_id: str, *, source_files: Sequence[SourceFile] = ()
    ) -> Generator[StagedBatch]:
        """Stage a batch chunk by chunk under the writer lock; ``commit()`` makes it visible.

        If the block ends without a commit (a rejected batch, an error) the staged files are
        deleted and the lake is unchanged.
        """
        check_batch_id(batch_id)
        check_partition_column(spec)
        with self.lock():
            if self.has_batch(batch_id):
                raise BatchExistsError(f"batch {batch_id} of {spec.name} is already in the lake")
            staging = self.root / STAGING_DIR / batch_id
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            batch = StagedBatch(Stager(spec, batch_id, staging), source_files, self._publish)
            try:
                yield batch
            finally:
                batch.discard()
                shutil.rmtree(staging, ignore_errors=True)
                with suppress(OSError):
                    staging.parent.rmdir()

    def _publish(self, stager: Stager, source_files: Sequence[SourceFile]) -> BatchManifest:
        spec, batch_id = stager.spec, stager.batch_id
        staged, partitions = stager.finish()
        sequence, created_at = self._next_commit()
        manifest = BatchManifest(
            batch_id=batch_id,
            table=spec.name,
            rows=stager.rows,
            partitions=partitions,
            files=tuple(str(relative) for relative in staged),
            source_files=tuple(source_files),
            created_at=created_at,
            puhui_version=__version__,
            sequence=sequence,
        )
        writer.publish(
            self.root,
            stager.staging,
            staged,
            commit=lambda: self._commit(manifest),
            what=f"batch {batch_id} of {spec.name}",
        )
        return manifest

    def _next_commit(self) -> tuple[int, datetime]:
        """The next sequence number, and a commit time no earlier than the last commit's."""
        committed = self.batches()
        moment = self._clock()
        if not committed:
            return 1, moment
        sequence = max((m.sequence or 0) for m in committed) + 1
        return sequence, max(moment, max(m.created_at for m in committed))

    def _commit(self, manifest: BatchManifest) -> None:
        """The commit point: the manifest appears, atomically, once all files are in place."""
        path = self._manifest_path(manifest.batch_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_text(path, manifest.to_json())

    def recover(self) -> RecoveryReport:
        """Delete staged leftovers and Parquet files that no manifest commits.

        Call it before writing (ingest does): after a crash mid-write it returns the lake to its
        last committed state. Files the lake did not name ``part-<batch>.parquet`` are left alone.
        """
        with self.lock():
            committed = {file for m in self.batches() for file in m.files}
            return recovery.recover(self.root, committed)

    # --- reading -------------------------------------------------------------------------------

    def connect(self, *, as_of: datetime | None = None) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per lake table (committed files only).

        Entity tables show per key the row of the latest batch. With ``as_of``, the views show
        the lake as it was at that instant: only batches committed by then.
        """
        connection = duckdb.connect()
        by_table: dict[str, list[Path]] = {}
        batch_counts: dict[str, int] = {}
        for manifest in self.batches(as_of=as_of):  # every manifest read once, not per table
            files = by_table.setdefault(manifest.table, [])
            files.extend(self.root / relative for relative in manifest.files)
            batch_counts[manifest.table] = batch_counts.get(manifest.table, 0) + 1
        for table, files in sorted(by_table.items()):
            spec = self._spec(table)
            if files:
                options = "hive_partitioning=true, union_by_name=true"
                if self._partitioned(table):
                    options += f", hive_types={{'{PARTITION_COLUMN}': 'DATE'}}"
                versions = spec is not None and snapshots.is_snapshot_table(spec)
                if versions and spec is not None and batch_counts[table] > 1:
                    select = snapshots.latest_rows_sql(spec.key, files, options)
                else:
                    listing = "[" + ", ".join(_sql_string(str(f)) for f in files) + "]"
                    select = f"select * from read_parquet({listing}, {options})"
                connection.execute(f'create view "{table}" as {select}')
            elif spec is not None:
                connection.execute(f'create view "{table}" as {self.empty_select(table)}')
        return connection

    def scan(self, table: str, *, as_of: datetime | None = None) -> pl.LazyFrame:
        """A lazy Polars frame over a table's committed files (with the ``month`` partition).

        Entity tables give per key the row of the latest batch; ``as_of`` reads the table as it
        was at that instant.
        """
        spec = self.catalog.table(table)
        manifests = self.batches(table, as_of=as_of)
        if not manifests:
            when = "" if as_of is None else f" committed by {as_of.isoformat()}"
            raise TableNotInLakeError(
                f"table {table} has no batches{when} in the lake at {self.root} "
                "(run `puhui ingest`)"
            )
        files = [self.root / relative for m in manifests for relative in m.files]
        if not files:
            return pl.LazyFrame(schema=_lake_schema(spec))
        partitioned = spec.partition is not None
        versions = snapshots.is_snapshot_table(spec) and len(manifests) > 1
        frame = pl.scan_parquet(
            files,
            hive_partitioning=partitioned,
            hive_schema={PARTITION_COLUMN: pl.Date()} if partitioned else None,
            schema=spec.polars_schema,
            missing_columns="insert",
            extra_columns="ignore",
            include_file_paths=snapshots.FILE_COLUMN if versions else None,
        )
        return snapshots.latest_rows(frame, spec.key, files) if versions else frame

    def _spec(self, table: str) -> TableSpec | None:
        try:
            return self.catalog.table(table)
        except UnknownTableError:  # a table since dropped from the data model
            return None

    def _partitioned(self, table: str) -> bool:
        try:
            return self.catalog.table(table).partition is not None
        except UnknownTableError:  # a table since dropped from the data model: trust the batches
            return any(m.partitions for m in self.batches(table))

    def empty_select(self, table: str) -> str:
        """A DuckDB ``select`` with the table's typed columns and no rows (for absent tables)."""
        spec = self.catalog.table(table)
        columns = [f"cast(null as {DUCKDB_TYPES[f.type]}) as {f.name}" for f in spec.fields]
        if spec.partition is not None and PARTITION_COLUMN not in spec.field_names:
            columns.append(f"cast(null as DATE) as {PARTITION_COLUMN}")
        return f"select {', '.join(columns)} where false"


def _lake_schema(spec: TableSpec) -> dict[str, pl.DataType]:
    schema = dict(spec.polars_schema)
    if spec.partition is not None and PARTITION_COLUMN not in schema:
        schema[PARTITION_COLUMN] = pl.Date()
    return schema
