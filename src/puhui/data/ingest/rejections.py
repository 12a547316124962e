"""Collecting a batch's faults with bounded memory: counts of all, details of the first N.

A batch of tens of millions of rows can have millions of faults (a whole column in the wrong
format). The collector keeps exact counts per (field, rule, reason) with the first row where each
happened, a bitmap of the rows at fault, and the detailed lines of only the first ``limit`` faults
in (file, row, field) order; the report lists those and says how many more there were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from puhui.data.ingest.report import REPORT_SCHEMA, RejectionSummary, RuleCount, empty_rejections
from puhui.data.schema import TableSpec

FILE_COLUMN = "__file"
DEFAULT_REPORT_LIMIT = 10_000
"""Detailed report lines kept per batch; faults beyond it are counted, not listed."""


def key_label(spec: TableSpec) -> str:
    return ", ".join(spec.key)


def _summary_reason() -> pl.Expr:
    """Duplicate-key reasons name the first row; counted together they read as one fault."""
    reason = pl.col("reason")
    return (
        pl.when(pl.col("rule") == "duplicate_key")
        .then(reason.str.split(":").list.first())
        .otherwise(reason)
    )


@dataclass
class _Tally:
    count: int
    first: tuple[int, int, int]  # (file index, row, field order)


class RejectionCollector:
    """Faults of one batch, fed in parts with columns ``__file`` (index), row, field, value,
    rule, reason."""

    def __init__(self, spec: TableSpec, files: Sequence[str], limit: int | None = None) -> None:
        self._files = list(files)
        self._limit = limit
        self._order = {name: i for i, name in enumerate(spec.field_names)}
        self._order.setdefault(key_label(spec), len(self._order))
        self._details: list[pl.DataFrame] = []
        self._kept = 0
        self._tallies: dict[tuple[str, str, str], _Tally] = {}
        self._rows_at_fault: dict[int, np.ndarray] = {}
        self.issues = 0

    @property
    def ok(self) -> bool:
        return self.issues == 0

    @property
    def omitted(self) -> int:
        """Faults counted but not listed in the report."""
        listed = self._kept if self._limit is None else min(self._kept, self._limit)
        return self.issues - listed

    def add(self, part: pl.DataFrame) -> None:
        if part.is_empty():
            return
        part = part.with_columns(
            pl.col(FILE_COLUMN).cast(pl.Int64),
            pl.col("field").replace_strict(self._order, default=len(self._order)).alias("__order"),
        )
        self.issues += part.height
        self._tally(part)
        self._mark_rows(part)
        self._details.append(part)
        self._kept += part.height
        if self._limit is not None and self._kept > 2 * self._limit:
            self._details = [self._first_details()]
            self._kept = self._details[0].height

    def _tally(self, part: pl.DataFrame) -> None:
        grouped = (
            part.sort(FILE_COLUMN, "row", "__order")
            .with_columns(_summary_reason().alias("__summary"))
            .group_by("field", "rule", "__summary", maintain_order=True)
            .agg(
                pl.len().alias("count"),
                pl.col(FILE_COLUMN).first(),
                pl.col("row").first(),
                pl.col("__order").first(),
            )
        )
        for field, rule, reason, count, file, row, order in grouped.iter_rows():
            tally = self._tallies.get((field, rule, reason))
            if tally is None:
                self._tallies[(field, rule, reason)] = _Tally(count, (file, row, order))
            else:
                tally.count += count
                tally.first = min(tally.first, (file, row, order))

    def _mark_rows(self, part: pl.DataFrame) -> None:
        for (file,), rows in (
            part.select(FILE_COLUMN, "row").partition_by(FILE_COLUMN, as_dict=True).items()
        ):
            numbers = rows.get_column("row").to_numpy()
            marks = self._rows_at_fault.get(int(file))
            needed = int(numbers.max()) + 1
            if marks is None or marks.size < needed:
                grown = np.zeros(max(needed, 2 * (0 if marks is None else marks.size)), dtype=bool)
                if marks is not None:
                    grown[: marks.size] = marks
                marks = self._rows_at_fault[int(file)] = grown
            marks[numbers] = True

    def _first_details(self) -> pl.DataFrame:
        if not self._details:
            return pl.DataFrame()
        combined = pl.concat(self._details, how="vertical").sort(FILE_COLUMN, "row", "__order")
        return combined if self._limit is None else combined.head(self._limit)

    @property
    def rejected_rows(self) -> int:
        """Distinct rows with at least one fault."""
        return int(sum(int(marks.sum()) for marks in self._rows_at_fault.values()))

    def report(self) -> pl.DataFrame:
        """The detailed lines (at most ``limit``), in file, row and field order, with file names."""
        if self.ok:
            return empty_rejections()
        details = self._first_details()
        names = pl.Series(self._files, dtype=pl.String)
        return details.with_columns(
            pl.col(FILE_COLUMN)
            .replace_strict(list(range(len(self._files))), names, return_dtype=pl.String)
            .alias("file")
        ).select(list(REPORT_SCHEMA))

    def summary(self, limit: int = 10) -> RejectionSummary:
        """Counts over every fault (listed or not) and the ``limit`` commonest ones."""
        ranked = sorted(self._tallies.items(), key=lambda item: (-item[1].count, item[1].first))
        top = tuple(
            RuleCount(
                field=field,
                rule=rule,
                reason=reason,
                count=tally.count,
                first_file=self._files[tally.first[0]],
                first_row=tally.first[1],
            )
            for (field, rule, reason), tally in ranked[:limit]
        )
        return RejectionSummary(rejected_rows=self.rejected_rows, issues=self.issues, top=top)
