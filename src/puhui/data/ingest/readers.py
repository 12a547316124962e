"""Reading one delivered file into a frame with the table's canonical column names.

CSV is read with every column as text, so that validation sees exactly what was delivered and can
report the failing value; Parquet and JSON Lines keep their own types and are cast in validation.
Each frame carries ``__row``: the 1-based record number in its file, header excluded. Large files
are read in chunks of rows (:meth:`SourceReader.chunks`), so memory follows the chunk size.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import polars as pl

from puhui.data.ingest.encoding import RequestedEncoding, as_utf8, detect_encoding
from puhui.data.ingest.errors import (
    AmbiguousColumnsError,
    IngestError,
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


_ERRORS = (pl.exceptions.PolarsError, OSError, ValueError)


def _refusal(path: Path, file_format: FileFormat, error: Exception) -> IngestError:
    if isinstance(error, FileNotFoundError):
        return SourceFileError(f"{path}: no such file")
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
    return MalformedFileError(f"{path}: cannot read as {file_format}: {first_line}")


class SourceReader:
    """One delivered file, its headers already mapped, read whole or in chunks of rows.

    Opening checks the encoding and the headers, so a file refused as a whole is refused before
    any row of the batch is looked at. Every chunk carries canonical field names (absent
    optional fields as nulls) and ``__row``, the record number in the file. Parquet and CSV are
    streamed; JSON Lines is read whole (its types are inferred over the whole file) and then
    handed out in chunks.
    """

    def __init__(
        self,
        spec: TableSpec,
        path: Path,
        *,
        workdir: Path,
        file_format: FileFormat | None = None,
        encoding: RequestedEncoding = "auto",
    ) -> None:
        if not path.is_file():
            raise SourceFileError(f"{path}: no such file")
        self.spec = spec
        self.path = path
        self.format = detect_format(path, file_format)
        self._text_path = path
        self._whole: pl.DataFrame | None = None
        try:
            if self.format == "parquet":
                headers = list(pl.scan_parquet(path).collect_schema().names())
            else:
                self._text_path = as_utf8(path, detect_encoding(path, encoding), workdir)
                if self.format == "csv":
                    headers = _csv_header(self._text_path)
                else:
                    self._whole = pl.read_ndjson(self._text_path, infer_schema_length=None)
                    headers = self._whole.columns
        except _ERRORS as error:
            raise _refusal(path, self.format, error) from error
        self.headers = headers
        self.names = map_headers(spec, headers, path)

    def _lazy(self) -> pl.LazyFrame:
        if self.format == "parquet":
            return pl.scan_parquet(self.path)
        if self.format == "csv":
            return pl.scan_csv(
                self._text_path,
                has_header=True,
                infer_schema=False,
                new_columns=[f"__c{i}" for i in range(len(self.headers))],
            )
        assert self._whole is not None
        return self._whole.lazy()

    def chunks(self, chunk_rows: int | None = None) -> Iterator[pl.DataFrame]:
        """The file's rows, ``chunk_rows`` at a time (all at once if None)."""
        offset = 0
        try:
            if chunk_rows is None:
                batches: Iterable[pl.DataFrame] = [self._lazy().collect()]
            elif self.format == "csv":
                batches = self._lazy().collect_batches(chunk_size=chunk_rows)
            else:
                batches = self._slices(chunk_rows)
            for raw in batches:
                yield self._canonical(raw, offset)
                offset += raw.height
        except _ERRORS as error:
            raise _refusal(self.path, self.format, error) from error

    def _slices(self, chunk_rows: int) -> Iterator[pl.DataFrame]:
        """Parquet (and JSON Lines, already in memory) slice by slice.

        For Parquet only the row groups of a slice are read; unlike a streaming collect this
        keeps memory flat, as nothing is read ahead of the consumer.
        """
        total = self._lazy().select(pl.len()).collect().item()
        for offset in range(0, max(total, 1), chunk_rows):
            yield self._lazy().slice(offset, chunk_rows).collect()

    def _canonical(self, raw: pl.DataFrame, offset: int) -> pl.DataFrame:
        raw.columns = self.names
        nested = [c for c, t in raw.schema.items() if t.is_nested()]
        if nested:
            raise MalformedFileError(
                f"{self.path}: column(s) {', '.join(nested)} hold nested values (lists or objects)"
            )
        names = set(self.names)
        fields = self.spec.field_names
        absent = [pl.lit(None, dtype=pl.String).alias(f) for f in fields if f not in names]
        first = offset + 1
        return raw.with_columns(absent).select(
            pl.int_range(first, pl.len() + first, dtype=pl.Int64).alias(ROW_COLUMN), *fields
        )


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
    reader = SourceReader(spec, path, workdir=workdir, file_format=file_format, encoding=encoding)
    return next(reader.chunks())
