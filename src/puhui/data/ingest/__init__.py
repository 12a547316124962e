"""接入 · ingest: read source deliveries, validate them against the data model, and commit them to
the lake as atomic, idempotent batches. See docs/LAKE_AND_INGEST.md."""

from puhui.data.ingest.errors import (
    AmbiguousColumnsError,
    BatchRejectedError,
    DirectoryLayoutError,
    EncodingError,
    HeaderError,
    IngestError,
    MalformedFileError,
    MissingColumnsError,
    SourceFileError,
    UnknownColumnsError,
    UnsupportedFormatError,
)
from puhui.data.ingest.service import (
    STEPS,
    DirectoryResult,
    IngestResult,
    batch_id_for,
    ingest_directory,
    ingest_files,
    plan_directory,
)

__all__ = [
    "STEPS",
    "AmbiguousColumnsError",
    "BatchRejectedError",
    "DirectoryLayoutError",
    "DirectoryResult",
    "EncodingError",
    "HeaderError",
    "IngestError",
    "IngestResult",
    "MalformedFileError",
    "MissingColumnsError",
    "SourceFileError",
    "UnknownColumnsError",
    "UnsupportedFormatError",
    "batch_id_for",
    "ingest_directory",
    "ingest_files",
    "plan_directory",
]
