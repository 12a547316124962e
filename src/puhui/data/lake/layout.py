"""Where a batch's rows go on disk: one folder per table, one Hive partition per month.

    <lake>/<table>/month=YYYY-MM-01/part-<batch_id>.parquet   monthly and event tables
    <lake>/<table>/part-<batch_id>.parquet                      entity tables
    <lake>/_manifests/<batch_id>.json                           one commit record per batch
    <lake>/_staging/<batch_id>/...                              files being written

The partition value is the first day of the month of the table's partition field (in UTC for
timestamps). It is written as a full date rather than ``YYYY-MM`` on purpose: monthly tables
partition on their own ``month`` field, and DuckDB, Polars and Spark all let the directory value
override the file's column of the same name. ``YYYY-MM`` would turn that date column into a string
(or fail to parse); ``YYYY-MM-01`` is read back as the very same date by all three.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import PurePosixPath

import polars as pl

from puhui.data.lake.errors import LakeLayoutError
from puhui.data.schema import TableSpec

PARTITION_COLUMN = "month"
STAGING_DIR = "_staging"
LOCK_FILE = "_lock"
_BATCH_ID = re.compile(r"^[0-9A-Za-z_-]{1,128}$")
_PART_FILE = re.compile(r"^part-([0-9A-Za-z_-]{1,128})\.parquet$")


def check_batch_id(batch_id: str) -> str:
    """Batch ids become file names, so only letters, digits, ``-`` and ``_`` are allowed."""
    if not _BATCH_ID.match(batch_id):
        raise LakeLayoutError(
            f"batch id {batch_id!r} must be 1-128 letters, digits, '-' or '_' (it names files)"
        )
    return batch_id


def part_file_name(batch_id: str) -> str:
    return f"part-{batch_id}.parquet"


def batch_id_of(file_name: str) -> str | None:
    """The batch a Parquet file belongs to, from its name; None for files the lake did not write."""
    match = _PART_FILE.match(file_name)
    return match.group(1) if match else None


def partition_dir(month: date) -> str:
    """The Hive directory of one month, e.g. ``month=2024-03-01``."""
    return f"{PARTITION_COLUMN}={month.replace(day=1).isoformat()}"


def relative_file(spec: TableSpec, batch_id: str, month: date | None) -> PurePosixPath:
    """Path of one batch's file for one partition, relative to the lake root."""
    base = PurePosixPath(spec.name)
    if month is not None:
        base = base / partition_dir(month)
    return base / part_file_name(batch_id)


def is_partitioned(spec: TableSpec) -> bool:
    return spec.partition is not None


def check_partition_column(spec: TableSpec) -> None:
    """A field called ``month`` that is not the partition field would clash with the directory."""
    if spec.partition is None:
        return
    names = spec.field_names
    if PARTITION_COLUMN in names and spec.partition != PARTITION_COLUMN:
        raise LakeLayoutError(
            f"table {spec.name}: field {PARTITION_COLUMN!r} clashes with the Hive partition "
            f"directory; the partition field is {spec.partition!r}"
        )


def partition_month(spec: TableSpec) -> pl.Expr:
    """First day of the partition field's month (UTC for timestamps), as a Date expression."""
    if spec.partition is None:
        raise LakeLayoutError(f"table {spec.name} is an entity table and has no partitions")
    column = pl.col(spec.partition)
    kind = spec.field(spec.partition).type
    if kind == "timestamp":
        column = column.dt.convert_time_zone("UTC").dt.date()
    return column.dt.truncate("1mo").alias(PARTITION_COLUMN)
