"""Entity tables as versioned snapshots: per key, the row of the latest committed batch wins.

Registration, customer and person tables (``grain: entity``) are re-delivered whole, e.g. a daily
registration snapshot. Every delivery is kept as its own batch, so earlier snapshots stay on disk
for point-in-time reads; readers resolve each key to the row of the latest batch holding it. The
files are given oldest batch first (the lake's commit order), and a file's position in that list
is its batch's rank. Monthly and event tables are append-only and need none of this.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from puhui.data.schema import TableSpec

ORDER_COLUMN = "__batch_order"
FILE_COLUMN = "__batch_file"


def is_snapshot_table(spec: TableSpec) -> bool:
    """Entity tables take re-deliveries of keys they already hold; other grains do not."""
    return spec.grain == "entity"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def latest_rows_sql(key: Sequence[str], files: Sequence[Path], options: str) -> str:
    """A DuckDB ``select`` of the latest row per key over ``files`` (oldest batch first)."""
    listing = "[" + ", ".join(_sql_string(str(f)) for f in files) + "]"
    ranks = ", ".join(f"({_sql_string(str(f))}, {rank})" for rank, f in enumerate(files))
    partition = ", ".join(_identifier(k) for k in key)
    return (
        f"with batches({FILE_COLUMN}, {ORDER_COLUMN}) as (values {ranks}), "
        f"versions as (select * from read_parquet({listing}, {options}, "
        f"filename='{FILE_COLUMN}')) "
        f"select * exclude ({FILE_COLUMN}, {ORDER_COLUMN}) "
        f"from versions join batches using ({FILE_COLUMN}) "
        f"qualify row_number() over (partition by {partition} order by {ORDER_COLUMN} desc) = 1"
    )


def latest_rows(frame: pl.LazyFrame, key: Sequence[str], files: Sequence[Path]) -> pl.LazyFrame:
    """Keep, per key, the row of the latest batch; ``frame`` must carry ``FILE_COLUMN``."""
    ranks = {str(f): rank for rank, f in enumerate(files)}
    order = pl.col(FILE_COLUMN).replace_strict(ranks, return_dtype=pl.Int64)
    return (
        frame.with_columns(order.alias(ORDER_COLUMN))
        .filter(pl.col(ORDER_COLUMN) == pl.col(ORDER_COLUMN).max().over(list(key)))
        .drop(FILE_COLUMN, ORDER_COLUMN)
    )


def distinct_keys(key: Sequence[str], files: Sequence[Path]) -> int:
    """How many different keys the files hold, reading the key columns only."""
    listing = "[" + ", ".join(_sql_string(str(f)) for f in files) + "]"
    columns = ", ".join(_identifier(k) for k in key)
    query = f"select count(*) from (select distinct {columns} from read_parquet({listing}))"
    with duckdb.connect() as connection:
        row = connection.execute(query).fetchone()
    return int(row[0]) if row else 0
