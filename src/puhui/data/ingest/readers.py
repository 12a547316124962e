"""Reading one delivered file into a frame with the table's canonical column names.

CSV is read with every column as text, so that validation sees exactly what was delivered and can
report the failing value; Parquet and JSON Lines keep their own types and are cast in validation.
Each frame carries ``__row``: the 1-based record number in its file, header excluded.
"""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path
from typing import Literal

import polars as pl

from puhui.data.ingest.encoding import RequestedEncoding, as_utf8, detect_encoding
from puhui.data.ingest.errors import (
    AmbiguousColumnsError,
    MalformedFileError,
    MissingColumnsError,
    SourceFileError,
    UnknownColumnsError,
    UnsupportedFormatError,
)
from puhui.data.schema import TableSpec

FileFormat = Literal["csv", "parquet", "jsonl"]
FORMATS: tuple[FileFormat, ...] = ("csv", "parquet", "jsonl")
ROW_COLUMN = "__row"
EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def detect_format(path: Path, requested: FileFormat | None = None) -> FileFormat:
    """The format to read ``path`` in: as requested, else by its extension."""
    if requested is not None:
        if requested not in FORMATS:
            raise UnsupportedFormatError(f"unknown format {requested!r}; use csv, parquet or jsonl")
        return requested
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise UnsupportedFormatError(
            f"{path}: cannot tell the format from the extension {path.suffix!r}; "
            "name it .csv, .parquet or .jsonl, or pass --format"
        )
    return found


def _normal(header: str) -> str:
    """Headers compare after NFKC (full-width （） → ()), trimming and case folding."""
    return unicodedata.normalize("NFKC", header).strip().casefold()


def map_headers(spec: TableSpec, columns: list[str], path: Path) -> list[str]:
    """The field name for each column of the file, or an error naming the offending columns."""
    lookup: dict[str, str] = {}
    for alias, field in spec.header_aliases().items():
        lookup[_normal(alias)] = field
    for field in spec.field_names:
        lookup[_normal(field)] = field
    mapped: list[str] = []
    unknown: list[str] = []
    for column in columns:
        field = lookup.get(_normal(column))
        if field is None:
            unknown.append(column)
        mapped.append(field or column)
    if unknown:
        raise UnknownColumnsError(
            f"{path}: column(s) {', '.join(repr(c) for c in unknown)} match no field of table "
            f"{spec.name} (see `puhui schema show {spec.name}`)"
        )
    seen: dict[str, str] = {}
    for column, field in zip(columns, mapped, strict=True):
        if field in seen:
            raise AmbiguousColumnsError(
                f"{path}: columns {seen[field]!r} and {column!r} both map to field {field}"
            )
        seen[field] = column
    missing = [f for f in spec.fields if f.required and f.name not in seen]
    if missing:
        names = ", ".join(f"{f.name} ({f.zh})" for f in missing)
        raise MissingColumnsError(f"{path}: missing required column(s) of {spec.name}: {names}")
    return mapped


def _csv_header(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        try:
            return next(csv.reader(handle))
        except StopIteration:
            raise MalformedFileError(f"{path}: empty file, expected a header row") from None
        except csv.Error as error:
            raise MalformedFileError(f"{path}: unreadable CSV header: {error}") from error


def _read_raw(
    path: Path, file_format: FileFormat, encoding: RequestedEncoding, workdir: Path
) -> tuple[pl.DataFrame, list[str]]:
    """The file's rows with its own headers, and those headers."""
    try:
        if file_format == "parquet":
            frame = pl.read_parquet(path)
            return frame, frame.columns
        text_path = as_utf8(path, detect_encoding(path, encoding), workdir)
        if file_format == "csv":
            headers = _csv_header(text_path)
            frame = pl.read_csv(
                text_path,
                has_header=True,
                infer_schema=False,
                new_columns=[f"__c{i}" for i in range(len(headers))],
            )
            return frame, headers
        frame = pl.read_ndjson(text_path, infer_schema_length=None)
        return frame, frame.columns
    except (pl.exceptions.PolarsError, OSError, ValueError) as error:
        if isinstance(error, FileNotFoundError):
            raise SourceFileError(f"{path}: no such file") from error
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise MalformedFileError(f"{path}: cannot read as {file_format}: {first_line}") from error


def read_source(
    spec: TableSpec,
    path: Path,
    *,
    workdir: Path,
    file_format: FileFormat | None = None,
    encoding: RequestedEncoding = "auto",
) -> pl.DataFrame:
    """One file's rows under canonical field names (absent optional fields as nulls) + ``__row``.

    ``workdir`` receives UTF-8 copies of files that arrive in another encoding.
    """
    if not path.is_file():
        raise SourceFileError(f"{path}: no such file")
    chosen = detect_format(path, file_format)
    frame, headers = _read_raw(path, chosen, encoding, workdir)
    names = map_headers(spec, headers, path)
    frame.columns = names
    nested = [c for c, t in frame.schema.items() if t.is_nested()]
    if nested:
        raise MalformedFileError(
            f"{path}: column(s) {', '.join(nested)} hold nested values (lists or objects)"
        )
    absent = [pl.lit(None, dtype=pl.String).alias(f) for f in spec.field_names if f not in names]
    return frame.with_columns(absent).select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW_COLUMN), *spec.field_names
    )
