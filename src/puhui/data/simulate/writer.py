"""The simulator's only I/O: one Parquet file per table, ``province.json``, and reading back.

Chunks of a table are buffered and written as row groups of a single file, so memory stays
bounded for a million firms and every table of the catalog exists even when it is empty.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from puhui.data.schema import load_catalog
from puhui.errors import PuhuiError

ROW_GROUP_ROWS = 500_000
MANIFEST = "province.json"


class SimulationOutputError(PuhuiError):
    """The output folder cannot be written; the message names it."""


class ParquetSink:
    """Writes ``<table>.parquet`` files into ``out_dir``, buffering small chunks into row groups."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SimulationOutputError(
                f"cannot create output folder {self.out_dir}: {error}"
            ) from error
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._pending: dict[str, list[pa.Table]] = {}
        self._pending_rows: dict[str, int] = {}
        self.row_counts: dict[str, int] = {name: 0 for name in load_catalog().table_names}

    def write(self, name: str, table: pa.Table) -> None:
        """Queue a chunk of ``name``; flushed once enough rows have gathered."""
        self._pending.setdefault(name, []).append(table)
        self._pending_rows[name] = self._pending_rows.get(name, 0) + table.num_rows
        self.row_counts[name] += table.num_rows
        if self._pending_rows[name] >= ROW_GROUP_ROWS:
            self._flush(name)

    def write_all(self, tables: dict[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.write(name, table)

    def _flush(self, name: str) -> None:
        pending = self._pending.pop(name, [])
        self._pending_rows[name] = 0
        if not pending:
            return
        table = pa.concat_tables(pending) if len(pending) > 1 else pending[0]
        writer = self._writers.get(name)
        if writer is None:
            writer = pq.ParquetWriter(
                self.out_dir / f"{name}.parquet",
                table.schema,
                compression="zstd",
                compression_level=1,
            )
            self._writers[name] = writer
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def close(self) -> dict[str, int]:
        """Flush everything, write empty files for tables that got no rows, return row counts."""
        for name in list(self._pending):
            self._flush(name)
        for writer in self._writers.values():
            writer.close()
        catalog = load_catalog()
        for name in catalog.table_names:
            if name not in self._writers:
                pq.write_table(
                    catalog.table(name).arrow_schema.empty_table(),
                    self.out_dir / f"{name}.parquet",
                    compression="zstd",
                )
        return dict(self.row_counts)


def write_manifest(out_dir: Path, payload: dict) -> Path:
    """``province.json``: the config, row counts and the realism report."""
    path = Path(out_dir) / MANIFEST
    path.write_text(
        json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    return path


def scan(out_dir: Path, name: str) -> pl.LazyFrame:
    """A lazy view of a written table (for the realism report)."""
    return pl.scan_parquet(Path(out_dir) / f"{name}.parquet")
