"""Validating a batch against its table, vectorised and chunked so tens of millions of rows stay
cheap and fit in memory.

Each field gets one Polars ``when/then`` chain that yields the first reason its value is at fault
(type, required, enum, range, check code, month on the 1st, calendar range) or null; this runs
chunk by chunk. Then the batch as a whole is checked for keys repeated within it and keys the lake
already holds from another batch (:mod:`puhui.data.ingest.keys`). The result is the typed rows
and the faults, one line per (row, field) at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from puhui.data.ingest.casting import TYPE_REASONS, out_of_calendar, present, typed_value
from puhui.data.ingest.checks import problems
from puhui.data.ingest.keys import (
    BATCH_COLUMN,
    HASH_COLUMN,
    KeyLedger,
    duplicate_keys,
    key_hash,
    keys_in_lake,
)
from puhui.data.ingest.readers import ROW_COLUMN
from puhui.data.ingest.rejections import FILE_COLUMN, RejectionCollector
from puhui.data.ingest.report import RejectionSummary, mask_values
from puhui.data.lake.layout import partition_month
from puhui.data.schema import FieldSpec, TableSpec

__all__ = [
    "BATCH_COLUMN",
    "FILE_COLUMN",
    "BatchCheck",
    "CheckedBatch",
    "ValidatedBatch",
    "validate_batch",
    "validate_chunk",
]
REQUIRED_REASON = "required value is missing"
MONTH_REASON = "a month must be the first day of the month (e.g. 2024-03-01)"
CALENDAR_REASON = "date outside 1900-01-01 … 2100-12-31"

ExistingKeys = Callable[[TableSpec, pl.DataFrame], pl.LazyFrame | None]
"""Given the table and the batch's typed rows, the lake's keys that could clash (key + __batch)."""


@dataclass(frozen=True)
class ValidatedBatch:
    """The batch in canonical types, and every value at fault (empty if the batch is good)."""

    frame: pl.DataFrame
    rejections: pl.DataFrame

    @property
    def ok(self) -> bool:
        return self.rejections.is_empty()

    @property
    def rejected_rows(self) -> int:
        if self.ok:
            return 0
        return self.rejections.select(pl.struct("file", "row").n_unique()).item()


def _number(bound: float) -> str:
    return f"{bound:g}"


def _typed(name: str) -> str:
    return f"__typed_{name}"


def _reason_column(name: str) -> str:
    return f"__reason_{name}"


def _field_reason(
    field: FieldSpec, dtype: pl.DataType, bad: pl.DataFrame | None
) -> tuple[pl.Expr, dict[str, str]]:
    """The expression giving the first reason a value is at fault, and reason → rule names.

    ``bad`` holds the distinct values failing the field's check code, with their reasons.
    """
    value = pl.col(_typed(field.name))
    delivered = present(field.name, dtype)
    rules: dict[str, str] = {TYPE_REASONS[field.type]: "type"}
    chain = pl.when(delivered & value.is_null()).then(pl.lit(TYPE_REASONS[field.type]))
    if field.required:
        chain = chain.when(~delivered).then(pl.lit(REQUIRED_REASON))
        rules[REQUIRED_REASON] = "required"
    if field.values is not None:
        reason = f"not one of: {', '.join(field.values)}"
        chain = chain.when(~value.is_in(list(field.values))).then(pl.lit(reason))
        rules[reason] = "enum"
    if field.min is not None:
        reason = f"below the minimum {_number(field.min)}"
        chain = chain.when(value.cast(pl.Float64) < field.min).then(pl.lit(reason))
        rules[reason] = "range"
    if field.max is not None:
        reason = f"above the maximum {_number(field.max)}"
        chain = chain.when(value.cast(pl.Float64) > field.max).then(pl.lit(reason))
        rules[reason] = "range"
    if bad is not None and bad.height:
        chain = chain.when(value.is_in(bad.get_column("value").to_list())).then(
            value.replace_strict(bad.get_column("value"), bad.get_column("reason"), default=None)
        )
    if field.type == "month":
        chain = chain.when(value.dt.day() != 1).then(pl.lit(MONTH_REASON))
        rules[MONTH_REASON] = "month"
    outside = out_of_calendar(field, value)
    if outside is not None:
        chain = chain.when(outside).then(pl.lit(CALENDAR_REASON))
        rules[CALENDAR_REASON] = "calendar"
    return chain.otherwise(pl.lit(None, dtype=pl.String)).alias(_reason_column(field.name)), rules


def validate_chunk(
    spec: TableSpec, raw: pl.DataFrame, file_index: int
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Typed rows of one chunk of a file (with ``__file``/``__row``) and its per-field faults."""
    schema = raw.schema
    checked = [f for f in spec.fields if f.check is not None]
    check_values = raw.select(typed_value(f, schema[f.name]) for f in checked)
    bad = {f.name: problems(f.check, check_values.get_column(f.name)) for f in checked if f.check}
    reasons = [_field_reason(f, schema[f.name], bad.get(f.name)) for f in spec.fields]
    work = raw.with_columns(
        typed_value(f, schema[f.name]).alias(_typed(f.name)) for f in spec.fields
    ).with_columns(expr for expr, _ in reasons)
    nulls = work.select(pl.col(_reason_column(f.name)).null_count() for f in spec.fields).row(0)
    rejected: list[pl.DataFrame] = []
    for field, (_, rules), null_count in zip(spec.fields, reasons, nulls, strict=True):
        if null_count == work.height:
            continue
        reason = pl.col(_reason_column(field.name))
        faults = work.filter(reason.is_not_null())
        rejected.append(
            pl.DataFrame(
                {
                    FILE_COLUMN: pl.Series([file_index] * faults.height, dtype=pl.Int64),
                    "row": faults.get_column(ROW_COLUMN),
                    "field": [field.name] * faults.height,
                    "value": mask_values(field, faults.get_column(field.name)),
                    "rule": faults.get_column(_reason_column(field.name)).replace_strict(
                        rules, default="check", return_dtype=pl.String
                    ),
                    "reason": faults.get_column(_reason_column(field.name)),
                }
            )
        )
    typed = work.select(
        pl.lit(file_index, dtype=pl.Int64).alias(FILE_COLUMN),
        pl.col(ROW_COLUMN),
        *(pl.col(_typed(f.name)).alias(f.name) for f in spec.fields),
    )
    return typed, rejected


@dataclass(frozen=True)
class CheckedBatch:
    """The verdict on a whole batch: its row count and its faults (counted, first N listed)."""

    rows: int
    issues: int
    rejected_rows: int
    rejections: pl.DataFrame
    summary: RejectionSummary
    omitted: int = 0

    @property
    def ok(self) -> bool:
        return self.issues == 0


Chunks = Callable[[], Iterable[tuple[int, pl.DataFrame]]]
"""Re-iterable source of ``(file index, raw chunk)``: called once to check, again only to look
up the rows of suspect keys."""

LakeKeys = Callable[[set[date] | None], Iterable[pl.DataFrame] | None]
"""Given the partition months a batch touches, chunks of the lake's keys with ``__batch``."""


class BatchCheck:
    """Validate a batch chunk by chunk with bounded memory.

    Every chunk is checked field by field and handed on in canonical types (to be staged); the
    key of each row leaves only a hash behind (:class:`KeyLedger`) and faults are collected with
    at most ``report_limit`` detailed lines (:class:`RejectionCollector`). ``finish`` then checks
    keys across the whole batch and against the lake.
    """

    def __init__(
        self, spec: TableSpec, files: Sequence[str], report_limit: int | None = None
    ) -> None:
        self.spec = spec
        self.files = list(files)
        self.rows = 0
        self.months: set[date] = set()
        self._ledger = KeyLedger(spec)
        self._faults = RejectionCollector(spec, files, report_limit)
        self._key_present = pl.all_horizontal(pl.col(k).is_not_null() for k in spec.key)

    @property
    def ok(self) -> bool:
        """No fault found so far (key faults are only known after ``finish``)."""
        return self._faults.ok

    def add(self, raw: pl.DataFrame, file_index: int) -> pl.DataFrame:
        """Check one chunk read from ``files[file_index]``; its rows in canonical types."""
        typed, faults = validate_chunk(self.spec, raw, file_index)
        for part in faults:
            self._faults.add(part)
        self._ledger.add(typed.select(*self.spec.key).filter(self._key_present))
        if self.spec.partition is not None and self.spec.partition in self.spec.key:
            months = typed.select(partition_month(self.spec).drop_nulls().unique())
            self.months.update(months.to_series().to_list())
        self.rows += typed.height
        return typed.select(self.spec.field_names)

    def finish(self, chunks: Chunks, lake_keys: LakeKeys | None = None) -> CheckedBatch:
        """Check keys across the batch and against the lake; the verdict."""
        self._ledger.close()
        months = self.months if self.spec.partition in self.spec.key else None
        existing = lake_keys(months) if lake_keys is not None and self.rows else None
        in_lake = self._ledger.found_in(existing) if existing is not None else None
        suspects = self._ledger.repeated
        if in_lake is not None and in_lake.height:
            lake_hashes = in_lake.select(key_hash(self.spec)).to_series().to_numpy()
            suspects = np.union1d(suspects, lake_hashes)
        if suspects.size:
            keyed = self._rows_with_hashes(chunks, suspects)
            repeated = pl.col(HASH_COLUMN).is_in(pl.Series(self._ledger.repeated).implode())
            self._faults.add(duplicate_keys(self.spec, keyed.filter(repeated), self.files))
            if in_lake is not None:
                self._faults.add(keys_in_lake(self.spec, keyed, in_lake))
        return CheckedBatch(
            rows=self.rows,
            issues=self._faults.issues,
            rejected_rows=self._faults.rejected_rows,
            rejections=self._faults.report(),
            summary=self._faults.summary(),
            omitted=self._faults.omitted,
        )

    def _rows_with_hashes(self, chunks: Chunks, hashes: np.ndarray) -> pl.DataFrame:
        """``__file``, ``__row`` and typed key of the rows whose key hash is among ``hashes``."""
        wanted = pl.Series(hashes)
        key_fields = [self.spec.field(k) for k in self.spec.key]
        found = []
        for file_index, raw in chunks():
            keyed = (
                raw.select(
                    pl.lit(file_index, dtype=pl.Int64).alias(FILE_COLUMN),
                    pl.col(ROW_COLUMN),
                    *(typed_value(f, raw.schema[f.name]) for f in key_fields),
                )
                .filter(self._key_present)
                .with_columns(key_hash(self.spec))
                .filter(pl.col(HASH_COLUMN).is_in(wanted.implode()))
            )
            found.append(keyed)
        return pl.concat(found, how="vertical")


def validate_batch(
    spec: TableSpec,
    frames: Sequence[pl.DataFrame],
    files: Sequence[str],
    existing_keys: ExistingKeys | None = None,
) -> ValidatedBatch:
    """Check every value of a batch held in memory and its keys; ``frames[i]`` is ``files[i]``."""
    check = BatchCheck(spec, files)
    typed = [check.add(raw, index) for index, raw in enumerate(frames)]
    frame = pl.concat(typed, how="vertical") if typed else pl.DataFrame(schema=spec.polars_schema)
    lake_keys: LakeKeys | None = None
    if existing_keys is not None:
        found = existing_keys(spec, frame)
        lake_keys = None if found is None else (lambda months: [found.collect()])
    verdict = check.finish(lambda: enumerate(frames), lake_keys)
    return ValidatedBatch(frame, verdict.rejections)
