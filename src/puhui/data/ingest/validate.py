"""Validating a batch against its table, vectorised so tens of millions of rows stay cheap.

Each field gets one Polars ``when/then`` chain that yields the first reason its value is at fault
(type, required, enum, range, check code, month on the 1st, calendar range) or null. Then the batch
as a whole is checked for keys repeated within it and keys the lake already holds from another
batch. The result is the typed frame and the rejections, one line per (row, field) at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from puhui.data.ingest.casting import TYPE_REASONS, out_of_calendar, present, typed_value
from puhui.data.ingest.checks import problems
from puhui.data.ingest.readers import ROW_COLUMN
from puhui.data.ingest.report import REPORT_SCHEMA, empty_rejections, mask_values
from puhui.data.schema import FieldSpec, TableSpec

FILE_COLUMN = "__file"
BATCH_COLUMN = "__batch"
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


def _validate_file(
    spec: TableSpec, raw: pl.DataFrame, file_index: int
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Typed rows of one file (with ``__file``/``__row``) and its per-field rejections."""
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


def _key_values(spec: TableSpec, rows: pl.DataFrame) -> pl.Series:
    """The key of each row as ``a | b`` text, personal parts masked."""
    parts = [mask_values(spec.field(k), rows.get_column(k)) for k in spec.key]
    return pl.DataFrame(parts).select(pl.concat_str(pl.all(), separator=" | ")).to_series()


def _key_label(spec: TableSpec) -> str:
    return ", ".join(spec.key)


def _duplicate_keys(spec: TableSpec, keyed: pl.DataFrame, files: Sequence[str]) -> pl.DataFrame:
    """Rows repeating a key seen earlier in the batch, naming the first occurrence."""
    key = list(spec.key)
    # A 64-bit hash per key settles the usual case (no repeats) far faster than grouping;
    # only if hashes repeat are the keys themselves compared.
    if not keyed.select(pl.struct(key).hash(seed=0).is_duplicated().any()).item():
        return empty_rejections()
    repeated = keyed.group_by(key).agg(pl.len().alias("__count")).filter(pl.col("__count") > 1)
    if repeated.is_empty():
        return empty_rejections()
    rows = (
        keyed.join(repeated.select(key), on=key, how="semi")
        .sort(FILE_COLUMN, ROW_COLUMN)
        .with_columns(
            pl.col(FILE_COLUMN).first().over(key).alias("__first_file"),
            pl.col(ROW_COLUMN).first().over(key).alias("__first_row"),
            (pl.int_range(pl.len()).over(key) == 0).alias("__is_first"),
        )
        .filter(~pl.col("__is_first"))
    )
    first_files = [files[i] for i in rows.get_column("__first_file")]
    reasons = [
        f"duplicate key ({_key_label(spec)}): same as row {row} of {file}"
        for row, file in zip(rows.get_column("__first_row"), first_files, strict=True)
    ]
    return pl.DataFrame(
        {
            FILE_COLUMN: rows.get_column(FILE_COLUMN),
            "row": rows.get_column(ROW_COLUMN),
            "field": [_key_label(spec)] * rows.height,
            "value": _key_values(spec, rows),
            "rule": ["duplicate_key"] * rows.height,
            "reason": pl.Series(reasons, dtype=pl.String),
        }
    )


def _keys_in_lake(spec: TableSpec, keyed: pl.DataFrame, existing: pl.LazyFrame) -> pl.DataFrame:
    """Rows whose key another batch already wrote to the lake."""
    key = list(spec.key)
    hits = (
        keyed.lazy()
        .join(existing.select(*key, BATCH_COLUMN).unique(key), on=key, how="inner")
        .sort(FILE_COLUMN, ROW_COLUMN)
        .collect()
    )
    if hits.is_empty():
        return empty_rejections()
    return pl.DataFrame(
        {
            FILE_COLUMN: hits.get_column(FILE_COLUMN),
            "row": hits.get_column(ROW_COLUMN),
            "field": [_key_label(spec)] * hits.height,
            "value": _key_values(spec, hits),
            "rule": ["key_in_lake"] * hits.height,
            "reason": (
                "key already in the lake from batch "
                + hits.get_column(BATCH_COLUMN).str.slice(0, 12)
            ),
        }
    )


def validate_batch(
    spec: TableSpec,
    frames: Sequence[pl.DataFrame],
    files: Sequence[str],
    existing_keys: ExistingKeys | None = None,
) -> ValidatedBatch:
    """Check every value of a batch and its keys; ``frames[i]`` was read from ``files[i]``."""
    typed_parts: list[pl.DataFrame] = []
    rejected: list[pl.DataFrame] = []
    for index, raw in enumerate(frames):
        typed, faults = _validate_file(spec, raw, index)
        typed_parts.append(typed)
        rejected.extend(faults)
    if not typed_parts:
        return ValidatedBatch(pl.DataFrame(schema=spec.polars_schema), empty_rejections())
    typed = pl.concat(typed_parts, how="vertical")
    if typed.height:
        key_present = pl.all_horizontal(pl.col(k).is_not_null() for k in spec.key)
        keyed = typed.select(FILE_COLUMN, ROW_COLUMN, *spec.key).filter(key_present)
        rejected.append(_duplicate_keys(spec, keyed, files))
        existing = existing_keys(spec, typed) if existing_keys is not None else None
        if existing is not None:
            rejected.append(_keys_in_lake(spec, keyed, existing))
    return ValidatedBatch(typed.select(spec.field_names), _assemble(rejected, files, spec))


def _assemble(parts: list[pl.DataFrame], files: Sequence[str], spec: TableSpec) -> pl.DataFrame:
    """One report frame, in file, row and field order, with file names instead of indexes."""
    parts = [p for p in parts if p.height]
    if not parts:
        return empty_rejections()
    order = {name: i for i, name in enumerate(spec.field_names)}
    order.setdefault(_key_label(spec), len(order))
    combined = pl.concat(
        [p.with_columns(pl.col(FILE_COLUMN).cast(pl.Int64)) for p in parts], how="vertical"
    )
    names = pl.Series(list(files), dtype=pl.String)
    return (
        combined.with_columns(
            pl.col(FILE_COLUMN)
            .replace_strict(list(range(len(files))), names, return_dtype=pl.String)
            .alias("file"),
            pl.col("field").replace_strict(order, default=len(order)).alias("__order"),
        )
        .sort(FILE_COLUMN, "row", "__order")
        .select(list(REPORT_SCHEMA))
    )
