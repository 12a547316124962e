"""Batch manifests: the commit record of the lake.

A batch becomes visible only when its manifest exists. The manifest lists the Parquet files the
batch wrote, the source files it came from (with their SHA-256, for lineage and idempotency) and
the row count of every partition, so the lake can answer "what is in here" without opening Parquet.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from puhui.data.lake.errors import ManifestError

MANIFEST_DIR = "_manifests"


class SourceFile(BaseModel):
    """One delivered file a batch was read from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    sha256: str
    bytes: int


class BatchManifest(BaseModel):
    """What one committed batch holds and where it came from.

    ``partitions`` maps the partition month (``YYYY-MM-01``) to its row count; it is empty for
    entity tables, which are not partitioned. ``files`` are paths relative to the lake root.
    ``sequence`` numbers commits across the whole lake (1, 2, …), so two batches committed in
    the same clock tick still have an order; manifests written before it existed have none and
    count as older than every numbered one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: str
    table: str
    rows: int
    partitions: dict[str, int]
    files: tuple[str, ...]
    source_files: tuple[SourceFile, ...] = ()
    created_at: datetime
    puhui_version: str
    sequence: int | None = None

    @property
    def commit_order(self) -> tuple[int, datetime, str]:
        """Sort key of commits, oldest first: the sequence, then (for old manifests) the time."""
        return (-1 if self.sequence is None else self.sequence, self.created_at, self.batch_id)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def read_manifest(path: Path) -> BatchManifest:
    """Load one manifest, naming the file if it is not a valid manifest."""
    try:
        return BatchManifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as error:
        raise ManifestError(f"{path}: not a readable batch manifest ({error})") from error
