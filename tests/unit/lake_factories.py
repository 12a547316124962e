"""Small valid frames for any table of the data model, and writers for CSV and JSON Lines.

Every key field is filled injectively from the row number, so keys are unique; the partition field
spreads rows over a few months so partitioned tables get several partitions.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from puhui.data.identifiers import make_id_numbers, make_usccs
from puhui.data.reference import county_codes, divisions
from puhui.data.schema import FieldSpec, TableSpec

START = date(2024, 1, 1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _strings(field: FieldSpec, n: int, offset: int, rng: np.random.Generator) -> list[str]:
    counties = np.array(sorted(county_codes()))
    if field.check == "uscc":
        return list(make_usccs(rng.choice(counties, n), np.arange(offset, offset + n)))
    if field.check == "id_number":
        births = np.datetime64("1970-01-01") + (np.arange(offset, offset + n) // 1000)
        sequences = np.arange(offset, offset + n) % 1000
        return list(make_id_numbers(rng.choice(counties, n), births, sequences))
    if field.check == "phone":
        return [f"13{i:09d}" for i in range(offset, offset + n)]
    if field.check == "division_code":
        return list(rng.choice(counties, n))
    if field.check == "industry_code":
        codes = [d.code for d in divisions()]
        return [codes[i % len(codes)] for i in range(n)]
    return [f"{field.name.upper()}-{i:08d}" for i in range(offset, offset + n)]


def _values(
    spec: TableSpec, field: FieldSpec, n: int, offset: int, months: int, rng: np.random.Generator
) -> list:
    rows = range(n)
    partition = field.name == spec.partition
    if field.type == "string":
        return _strings(field, n, offset, rng)
    if field.type == "enum":
        assert field.values is not None
        return [field.values[i % len(field.values)] for i in rows]
    if field.type in ("int", "float", "money"):
        low = field.min if field.min is not None else 0
        high = field.max if field.max is not None else low + 1000
        if field.type == "int":
            return [int(low) + i % (int(high) - int(low) + 1) for i in rows]
        if field.type == "float":
            return [low + (high - low) * (i % 100) / 100 for i in rows]
        return [Decimal(int(low)) + Decimal(i % 100_000) / 100 for i in rows]
    if field.type == "bool":
        return [i % 2 == 0 for i in rows]
    if field.type == "month":
        return [_add_months(START, i % months if partition else i % 24) for i in rows]
    if field.type == "date":
        if partition:
            return [_add_months(START, i % months) + timedelta(days=i % 28) for i in rows]
        return [date(2015, 1, 1) + timedelta(days=i % 3000) for i in rows]
    if field.type == "timestamp":
        return [
            datetime.combine(_add_months(START, i % months), datetime.min.time(), UTC)
            + timedelta(days=i % 28, hours=i % 24, minutes=i % 60)
            for i in rows
        ]
    raise AssertionError(field.type)


def valid_frame(
    spec: TableSpec, n: int = 6, *, offset: int = 0, months: int = 3, seed: int = 7
) -> pl.DataFrame:
    """``n`` valid rows of ``spec`` in canonical types; ``offset`` shifts keys for a later batch."""
    rng = np.random.default_rng(seed)
    data = {f.name: _values(spec, f, n, offset, months, rng) for f in spec.fields}
    return pl.DataFrame(data, schema=spec.polars_schema)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def write_csv(
    frame: pl.DataFrame,
    path: Path,
    *,
    spec: TableSpec | None = None,
    chinese_headers: bool = False,
    encoding: str = "utf-8",
) -> Path:
    """Write ``frame`` as CSV text in ``encoding``, optionally with the Chinese headers."""
    headers = list(frame.columns)
    if chinese_headers:
        assert spec is not None
        headers = [spec.field(c).zh for c in frame.columns]
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        for row in frame.iter_rows():
            writer.writerow([_text(v) for v in row])
    return path


def write_jsonl(frame: pl.DataFrame, path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for row in frame.iter_rows(named=True):
            handle.write(json.dumps({k: _text(v) for k, v in row.items()}, ensure_ascii=False))
            handle.write("\n")
    return path


def with_values(frame: pl.DataFrame, row: int, **values: object) -> pl.DataFrame:
    """``frame`` with some cells of 1-based ``row`` replaced."""
    index = pl.int_range(1, pl.len() + 1)
    return frame.with_columns(
        pl.when(index == row).then(pl.lit(value)).otherwise(pl.col(name)).alias(name)
        for name, value in values.items()
    )


def lake_paths(lake) -> set[str]:  # type: ignore[no-untyped-def]
    """Every path under the lake (but its lock file), to prove a failed batch wrote nothing."""
    if not lake.root.exists():
        return set()
    return {str(p.relative_to(lake.root)) for p in lake.root.rglob("*") if p.name != "_lock"}
