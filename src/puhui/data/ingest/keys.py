"""Key checks over a whole batch with 8 bytes of memory a row: repeated keys, keys in the lake.

Each row's key is reduced to a 64-bit hash as its chunk passes. Sorting the batch's hashes finds
the repeats; streaming the lake's key columns past the sorted hashes finds the keys already
there. A clean batch (the usual case) is settled on hashes alone. Only rows whose hash is
suspect are looked at again, with their real keys, so a hash collision can never reject a good
row, and the faults name rows exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

from puhui.data.ingest.readers import ROW_COLUMN
from puhui.data.ingest.rejections import FILE_COLUMN, key_label
from puhui.data.ingest.report import empty_rejections, mask_values
from puhui.data.schema import TableSpec

BATCH_COLUMN = "__batch"
HASH_COLUMN = "__key_hash"


def key_hash(spec: TableSpec) -> pl.Expr:
    """The 64-bit hash of a row's key; only compared within one process, never stored."""
    return pl.struct(list(spec.key)).hash(seed=0).alias(HASH_COLUMN)


def _canonical_keys(spec: TableSpec, frame: pl.DataFrame) -> pl.DataFrame:
    """Key columns in the model's types, so equal keys hash alike whoever read them."""
    return frame.with_columns(pl.col(k).cast(spec.polars_schema[k]) for k in spec.key)


class KeyLedger:
    """The hashes of a batch's keys, chunk by chunk, and what they reveal at the end."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self._parts: list[np.ndarray] = []
        self._distinct: np.ndarray | None = None
        self.repeated = np.empty(0, dtype=np.uint64)

    def add(self, keyed: pl.DataFrame) -> None:
        """Record the keys of some rows (typed key columns, rows whose key is present)."""
        if keyed.height:
            hashes = _canonical_keys(self.spec, keyed).select(key_hash(self.spec))
            self._parts.append(hashes.to_series().to_numpy())

    def close(self) -> None:
        """Sort the hashes once: the distinct ones, and those that occur more than once."""
        every = np.sort(np.concatenate(self._parts)) if self._parts else np.empty(0, np.uint64)
        self._parts = []
        same_as_next = every[1:] == every[:-1]
        self.repeated = np.unique(every[1:][same_as_next])
        keep = np.ones(every.size, dtype=bool)
        keep[1:] = ~same_as_next
        self._distinct = every[keep]

    def found_in(self, existing: Iterable[pl.DataFrame]) -> pl.DataFrame:
        """The rows of ``existing`` (key columns + ``__batch``) whose key hash the batch has."""
        if self._distinct is None:
            self.close()
        assert self._distinct is not None
        distinct = self._distinct
        hits: list[pl.DataFrame] = []
        for chunk in existing:
            if not chunk.height or not distinct.size:
                continue
            chunk = _canonical_keys(self.spec, chunk)
            hashes = chunk.select(key_hash(self.spec)).to_series().to_numpy()
            positions = np.minimum(np.searchsorted(distinct, hashes), distinct.size - 1)
            present = distinct[positions] == hashes
            if present.any():
                hits.append(chunk.filter(pl.Series(present)))
        if not hits:
            schema = {k: self.spec.polars_schema[k] for k in self.spec.key}
            return pl.DataFrame(schema={**schema, BATCH_COLUMN: pl.String()})
        return pl.concat(hits, how="vertical_relaxed")


def _key_values(spec: TableSpec, rows: pl.DataFrame) -> pl.Series:
    """The key of each row as ``a | b`` text, personal parts masked."""
    parts = [mask_values(spec.field(k), rows.get_column(k)) for k in spec.key]
    return pl.DataFrame(parts).select(pl.concat_str(pl.all(), separator=" | ")).to_series()


def duplicate_keys(spec: TableSpec, keyed: pl.DataFrame, files: Sequence[str]) -> pl.DataFrame:
    """Rows repeating a key seen earlier in the batch, naming the first occurrence.

    ``keyed`` (``__file``, ``__row`` and the key) must hold every row of each repeated key.
    """
    key = list(spec.key)
    repeated = keyed.group_by(key).agg(pl.len().alias("__count")).filter(pl.col("__count") > 1)
    if repeated.is_empty():
        return empty_rejections()
    rows = (
        keyed.join(repeated.select(key), on=key, how="semi")
        .sort(FILE_COLUMN, ROW_COLUMN)
        .with_columns(
            pl.col(FILE_COLUMN).first().over(key).alias("__first_file"),
            pl.col(ROW_COLUMN).first().over(key).alias("__first_row"),
            (pl.int_range(pl.len()).over(key) == 0).alias("__is_first"),
        )
        .filter(~pl.col("__is_first"))
    )
    first_files = [files[i] for i in rows.get_column("__first_file")]
    reasons = [
        f"duplicate key ({key_label(spec)}): same as row {row} of {file}"
        for row, file in zip(rows.get_column("__first_row"), first_files, strict=True)
    ]
    return pl.DataFrame(
        {
            FILE_COLUMN: rows.get_column(FILE_COLUMN),
            "row": rows.get_column(ROW_COLUMN),
            "field": [key_label(spec)] * rows.height,
            "value": _key_values(spec, rows),
            "rule": ["duplicate_key"] * rows.height,
            "reason": pl.Series(reasons, dtype=pl.String),
        }
    )


def keys_in_lake(spec: TableSpec, keyed: pl.DataFrame, existing: pl.DataFrame) -> pl.DataFrame:
    """Rows whose key another batch already wrote to the lake (``existing``: key + ``__batch``)."""
    key = list(spec.key)
    if existing.is_empty() or keyed.is_empty():
        return empty_rejections()
    hits = (
        _canonical_keys(spec, keyed)
        .join(
            _canonical_keys(spec, existing).select(*key, BATCH_COLUMN).unique(key, keep="first"),
            on=key,
            how="inner",
        )
        .sort(FILE_COLUMN, ROW_COLUMN)
    )
    if hits.is_empty():
        return empty_rejections()
    return pl.DataFrame(
        {
            FILE_COLUMN: hits.get_column(FILE_COLUMN),
            "row": hits.get_column(ROW_COLUMN),
            "field": [key_label(spec)] * hits.height,
            "value": _key_values(spec, hits),
            "rule": ["key_in_lake"] * hits.height,
            "reason": (
                "key already in the lake from batch "
                + hits.get_column(BATCH_COLUMN).str.slice(0, 12)
            ),
        }
    )
