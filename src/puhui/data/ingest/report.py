"""The rejection report: one line per value at fault, with personal data masked.

Columns: ``file, row, field, value, rule, reason``. ``row`` is the 1-based record number in the
source file, header excluded, so a clerk can open the delivery and find the line. Identity numbers
and phones are masked with :mod:`puhui.data.identifiers`; other personal fields keep their first
character only. The report is written under ``<data_dir>/rejections/<batch_id>.csv``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from puhui.data.identifiers import mask_id_number, mask_phone
from puhui.data.schema import FieldSpec

REPORT_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "row": pl.Int64(),
    "field": pl.String(),
    "value": pl.String(),
    "rule": pl.String(),
    "reason": pl.String(),
}


def empty_rejections() -> pl.DataFrame:
    return pl.DataFrame(schema=REPORT_SCHEMA)


def _mask_other(value: str) -> str:
    """Personal fields without a check: guess identity number or phone, else keep one character."""
    if len(value) == 18:
        return mask_id_number(value)
    if len(value) == 11 and value.isdigit():
        return mask_phone(value)
    return value[:1] + "*" * (len(value) - 1)


def _masker(field: FieldSpec) -> Callable[[str], str]:
    if field.check == "id_number":
        return mask_id_number
    if field.check == "phone":
        return mask_phone
    return _mask_other


def mask_values(field: FieldSpec, values: pl.Series) -> pl.Series:
    """``values`` as text, masked if the field holds personal data (pii)."""
    text = values.cast(pl.String)
    if not field.pii:
        return text
    masker = _masker(field)
    distinct = text.drop_nulls().unique().to_list()
    return text.replace_strict(
        distinct, [masker(v) for v in distinct], default=None, return_dtype=pl.String
    )


@dataclass(frozen=True)
class RuleCount:
    """How often one field broke one rule, with the first row where it happened."""

    field: str
    rule: str
    reason: str
    count: int
    first_file: str
    first_row: int


@dataclass(frozen=True)
class RejectionSummary:
    """The report at a glance: rows and values at fault, and the commonest faults."""

    rejected_rows: int
    issues: int
    top: tuple[RuleCount, ...]

    def headline(self) -> str:
        if not self.top:
            return "no rejections"
        first = self.top[0]
        return (
            f"{self.rejected_rows} row(s) rejected, {self.issues} issue(s); most common: "
            f"{first.field}: {first.reason} ({first.count}×, first at {first.first_file} "
            f"row {first.first_row})"
        )


def summarise(rejections: pl.DataFrame, limit: int = 10) -> RejectionSummary:
    """Counts of rejected rows and issues, and the ``limit`` most frequent (field, reason) pairs."""
    if rejections.is_empty():
        return RejectionSummary(rejected_rows=0, issues=0, top=())
    rows = rejections.select(pl.struct("file", "row").n_unique()).item()
    grouped = (
        rejections.group_by("field", "rule", "reason", maintain_order=True)
        .agg(
            pl.len().alias("count"),
            pl.col("file").first().alias("first_file"),
            pl.col("row").first().alias("first_row"),
        )
        .sort("count", descending=True, maintain_order=True)
        .head(limit)
    )
    top = tuple(RuleCount(**record) for record in grouped.iter_rows(named=True))
    return RejectionSummary(rejected_rows=rows, issues=rejections.height, top=top)


def write_report(rejections: pl.DataFrame, path: Path, *, omitted: int = 0) -> Path:
    """Write the report as UTF-8 CSV with a byte-order mark (so Excel shows the Chinese).

    ``omitted`` faults beyond the listed ones get one closing line (rule ``truncated``) that says
    how many there were, so a reader of the file knows it is not the whole story.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    lines = rejections.select(list(REPORT_SCHEMA))
    if omitted:
        trailer = {
            "file": None,
            "row": None,
            "field": None,
            "value": None,
            "rule": "truncated",
            "reason": f"{omitted:,} more issue(s) not listed; the first {lines.height:,} are above",
        }
        lines = pl.concat([lines, pl.DataFrame([trailer], schema=REPORT_SCHEMA)])
    lines.write_csv(temporary, include_bom=True)
    os.replace(temporary, path)
    return path
