"""Why a delivery is refused before any row is looked at; each message names the file."""

from __future__ import annotations

from puhui.errors import PuhuiError


class IngestError(PuhuiError):
    """A source delivery cannot be ingested as it stands."""


class SourceFileError(IngestError):
    """A named file does not exist or cannot be read."""


class UnsupportedFormatError(IngestError):
    """The file's format is neither CSV, Parquet nor JSON Lines (or cannot be told)."""


class EncodingError(IngestError):
    """A text file decodes neither as UTF-8 nor as GBK/GB18030; names the byte offset."""


class MalformedFileError(IngestError):
    """The file is in a known format but cannot be parsed (ragged CSV rows, bad JSON, …)."""


class HeaderError(IngestError):
    """The file's columns do not fit the table."""


class UnknownColumnsError(HeaderError):
    """Columns that match no field of the table (by name, Chinese header or upper-case name)."""


class MissingColumnsError(HeaderError):
    """Required fields that no column of the file provides."""


class AmbiguousColumnsError(HeaderError):
    """Two columns of one file map to the same field (e.g. ``uscc`` and ``统一社会信用代码``)."""


class DirectoryLayoutError(IngestError):
    """A folder for ``ingest-dir`` holds files that cannot be matched to tables unambiguously."""


class BatchRejectedError(IngestError):
    """One or more batches were rejected; the message names the table and the report file."""
