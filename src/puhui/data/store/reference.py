"""Seeding the store's reference data (branches, staff, enterprise master) from the lake.

Three steps, so the middle one is testable without a lake or a database:
``read_reference_frames`` (Parquet → polars, here), ``build_reference_rows`` (frames →
validated rows, pure, in ``reference_rows``) and ``seed_reference`` (rows → batched upserts
plus one ``store.seed`` audit entry, here). Seeding is idempotent: a second run with the same
lake changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from puhui.data.store.audit import SYSTEM_ACTOR, append_audit
from puhui.data.store.engine import StoreError
from puhui.data.store.reference_rows import (
    BRANCH_COLUMNS,
    CUSTOMER_COLUMNS,
    ENTERPRISE_COLUMNS,
    ENTERPRISE_OPTIONAL_COLUMNS,
    ORDER_COLUMN,
    PARTITION_COLUMN,
    STAFF_COLUMNS,
    BranchRow,
    EnterpriseRow,
    ReferenceDataError,
    ReferenceFrames,
    ReferenceRows,
    StaffRow,
    build_reference_rows,
)
from puhui.data.store.tables import Branch, Enterprise, Staff, utc_now
from puhui.data.store.upsert import DEFAULT_BATCH_SIZE, upsert_rows

__all__ = [
    "SEED_ACTION",
    "BranchRow",
    "EnterpriseRow",
    "FileLister",
    "LakeTableMissingError",
    "ReferenceDataError",
    "ReferenceFrames",
    "ReferenceRows",
    "SeedResult",
    "StaffRow",
    "TableSeedCount",
    "build_reference_rows",
    "read_lake_table",
    "read_reference_frames",
    "seed_from_lake",
    "seed_reference",
]

SEED_ACTION = "store.seed"
_SOURCE_FILE_COLUMN = "_lake_file"


class LakeTableMissingError(StoreError):
    """A lake table the seed needs has no Parquet files."""


@dataclass(frozen=True)
class TableSeedCount:
    """What seeding did to one table: rows written and how many of them were new."""

    rows: int
    new: int


@dataclass(frozen=True)
class SeedResult:
    """The outcome of one seed run and the audit entry that records it."""

    tables: dict[str, TableSeedCount] = field(default_factory=dict)
    audit_event_id: int | None = None


ProgressCallback = Callable[[str, int, int], None]
"""Called with (store table, rows written so far, rows in total)."""

FileLister = Callable[[str], Sequence[Path]]
"""A lake table's committed Parquet files, oldest batch first."""

# ---------------------------------------------------------------------------------------------
# Lake → frames


def read_reference_frames(
    lake_dir: Path, *, list_files: FileLister | None = None
) -> ReferenceFrames:
    """Read the reference tables from the Parquet lake (flat or ``month=`` partitioned).

    ``list_files`` names a table's files in commit order (the lake's manifests know it);
    then rows of later batches win and uncommitted leftovers are never read. Without it
    every Parquet file under ``<lake>/<table>/`` is read and batch order is unknown.
    """

    def read(table: str, columns: Sequence[str], optional: Sequence[str] = ()) -> pl.DataFrame:
        files = None if list_files is None else list_files(table)
        return read_lake_table(lake_dir, table, columns, optional, files=files)

    return ReferenceFrames(
        branches=read("bank_branch", BRANCH_COLUMNS),
        staff=read("bank_staff", STAFF_COLUMNS),
        enterprises=read("reg_enterprise", ENTERPRISE_COLUMNS, ENTERPRISE_OPTIONAL_COLUMNS),
        customers=read("bank_customer", CUSTOMER_COLUMNS),
    )


def read_lake_table(
    lake_dir: Path,
    table: str,
    columns: Sequence[str],
    optional: Sequence[str] = (),
    *,
    files: Sequence[Path] | None = None,
) -> pl.DataFrame:
    """``columns`` (and any present ``optional`` ones) of one lake table, plus ``month``.

    With ``files`` (oldest batch first) each row also gets its file's position in
    ``_lake_order``, so later batches can win over earlier ones.
    """
    folder = Path(lake_dir) / table
    if files is None:
        found = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    else:
        found = [Path(path) for path in files]
    if not found:
        raise LakeTableMissingError(
            f"lake table {table!r} is missing: no Parquet files under {folder}"
        )
    try:
        scan = pl.scan_parquet(
            found, hive_partitioning=True, include_file_paths=_SOURCE_FILE_COLUMN
        )
        schema = scan.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as error:
        raise ReferenceDataError(
            f"cannot read lake table {table!r} at {folder}: {error}"
        ) from error
    absent = [name for name in columns if name not in schema]
    if absent:
        raise ReferenceDataError(
            f"lake table {table!r} at {folder} lacks column(s) {', '.join(absent)}"
        )
    wanted = [*columns, *(name for name in optional if name in schema)]
    if PARTITION_COLUMN in schema and PARTITION_COLUMN not in wanted:
        wanted.append(PARTITION_COLUMN)
    if files is not None:
        position = {str(path): index for index, path in enumerate(found)}
        wanted.append(_SOURCE_FILE_COLUMN)
    try:
        frame = scan.select(wanted).collect()
    except (pl.exceptions.PolarsError, OSError) as error:
        raise ReferenceDataError(
            f"cannot read lake table {table!r} at {folder}: {error}"
        ) from error
    if files is None:
        return frame
    return frame.with_columns(
        pl.col(_SOURCE_FILE_COLUMN)
        .replace_strict(position, return_dtype=pl.Int64)
        .alias(ORDER_COLUMN)
    ).drop(_SOURCE_FILE_COLUMN)


# ---------------------------------------------------------------------------------------------
# Rows → store


def seed_reference(
    session: Session,
    rows: ReferenceRows,
    *,
    source: str,
    now: datetime | None = None,
    actor: str = SYSTEM_ACTOR,
    actor_role: str = SYSTEM_ACTOR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
) -> SeedResult:
    """Upsert ``rows`` in the caller's transaction and record one ``store.seed`` audit entry.

    ``source`` says where the rows came from (the lake folder) and goes into the audit entry.
    Staff ``active`` flags and creation times set in the store are kept on re-seeding.
    """
    connection = session.connection()
    plan: list[tuple[Table, Sequence[Any], tuple[str, ...], str | None]] = [
        (Branch.__table__, rows.branches, ("created_at",), None),
        (Staff.__table__, rows.staff, ("created_at", "active"), None),
        (Enterprise.__table__, rows.enterprises, (), "updated_at"),
    ]
    counts: dict[str, TableSeedCount] = {}
    for table, table_rows, insert_only, touch in plan:
        before = _count(session, table)
        total = len(table_rows)

        def report(done: int, name: str = table.name, total: int = total) -> None:
            if on_progress is not None:
                on_progress(name, done, total)

        report(0)
        upsert_rows(
            connection,
            table,
            table_rows,
            insert_only=insert_only,
            touch=touch,
            batch_size=batch_size,
            on_batch=report,
        )
        counts[table.name] = TableSeedCount(rows=total, new=_count(session, table) - before)
    event = append_audit(
        session,
        actor=actor,
        actor_role=actor_role,
        action=SEED_ACTION,
        subject_type="reference_data",
        subject_id="lake",
        purpose="load reference data (branches, staff, enterprise master) from the lake",
        detail={
            "source": source,
            "tables": {name: {"rows": c.rows, "new": c.new} for name, c in counts.items()},
        },
        occurred_at=now or utc_now(),
    )
    return SeedResult(tables=counts, audit_event_id=event.id)


def seed_from_lake(
    session: Session,
    lake_dir: Path,
    *,
    now: datetime | None = None,
    list_files: FileLister | None = None,
    on_progress: ProgressCallback | None = None,
) -> SeedResult:
    """Read, validate and upsert the lake's reference data in one go."""
    moment = now or utc_now()
    frames = read_reference_frames(lake_dir, list_files=list_files)
    rows = build_reference_rows(frames, now=moment)
    return seed_reference(session, rows, source=str(lake_dir), now=moment, on_progress=on_progress)


def _count(session: Session, table: Table) -> int:
    return int(session.execute(select(func.count()).select_from(table)).scalar_one())
