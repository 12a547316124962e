"""The Parquet lake (数据湖): validated source batches, partitioned by month, readable by
DuckDB, Polars and Spark. See docs/LAKE_AND_INGEST.md."""

from puhui.data.lake.core import Lake
from puhui.data.lake.errors import (
    BatchExistsError,
    LakeError,
    LakeLayoutError,
    LakeSchemaError,
    LakeWriteError,
    ManifestError,
    TableNotInLakeError,
)
from puhui.data.lake.layout import PARTITION_COLUMN, partition_dir
from puhui.data.lake.manifest import BatchManifest, SourceFile
from puhui.data.lake.recovery import RecoveryReport

__all__ = [
    "PARTITION_COLUMN",
    "BatchExistsError",
    "BatchManifest",
    "Lake",
    "LakeError",
    "LakeLayoutError",
    "LakeSchemaError",
    "LakeWriteError",
    "ManifestError",
    "RecoveryReport",
    "SourceFile",
    "TableNotInLakeError",
    "partition_dir",
]
