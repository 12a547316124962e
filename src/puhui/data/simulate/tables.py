"""Turn simulated columns into Arrow tables that match the canonical schema exactly.

Conventions for the columns handed in: money in yuan as floats (NaN = null), dates and months
as day numbers (``NULL_DAY`` = null), timestamps as microseconds, nullable strings with ``""``
for null. Money becomes ``decimal(18,2)`` straight from integer fen, without Python objects.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from puhui.data.schema import FieldSpec, load_catalog
from puhui.errors import PuhuiError

NULL_DAY = np.iinfo(np.int64).min
NULL_INT = np.iinfo(np.int64).min


class SimulatedTableError(PuhuiError):
    """The simulator produced a column its schema does not allow (a bug in the simulator)."""


def _validity(valid: np.ndarray) -> pa.Buffer | None:
    if valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def money_array(yuan: np.ndarray) -> pa.Array:
    """decimal128(18, 2) from yuan floats via integer fen (NaN → null)."""
    values = np.asarray(yuan, dtype=np.float64)
    valid = ~np.isnan(values)
    fen = np.where(valid, np.round(values * 100), 0).astype(np.int64)
    words = np.empty((len(fen), 2), dtype=np.int64)
    words[:, 0] = fen
    words[:, 1] = fen >> 63
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(fen), [_validity(valid), pa.py_buffer(words)]
    )


def _column(spec: FieldSpec, value: object, length: int) -> pa.Array:
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        return value if value.type == spec.arrow_type else value.cast(spec.arrow_type)
    if value is None:
        return pa.nulls(length, spec.arrow_type)
    array = np.asarray(value)
    if array.ndim == 0:
        array = np.full(length, array)
    kind = spec.type
    if kind == "money":
        return money_array(array)
    if kind in {"date", "month"}:
        days = array.astype(np.int64)
        valid = days != NULL_DAY
        return pa.Array.from_buffers(
            pa.date32(),
            length,
            [_validity(valid), pa.py_buffer(np.where(valid, days, 0).astype(np.int32))],
        )
    if kind == "timestamp":
        return pa.array(array.astype(np.int64), type=pa.timestamp("us", tz="UTC"))
    if kind == "int":
        ints = array.astype(np.int64)
        valid = ints != NULL_INT
        return pa.array(ints, mask=~valid if not valid.all() else None, type=pa.int64())
    if kind == "float":
        floats = array.astype(np.float64)
        nan = np.isnan(floats)
        return pa.array(floats, mask=nan if nan.any() else None, type=pa.float64())
    if kind == "bool":
        return pa.array(array.astype(bool), type=pa.bool_())
    strings = array.astype(str)
    if spec.required:
        return pa.array(strings, type=pa.string())
    empty = strings == ""
    return pa.array(strings, mask=empty if empty.any() else None, type=pa.string())


def build_table(name: str, columns: Mapping[str, object]) -> pa.Table:
    """An Arrow table of ``name`` with the catalog's schema; unknown columns are an error."""
    spec = load_catalog().table(name)
    unknown = set(columns) - set(spec.field_names)
    if unknown:
        raise SimulatedTableError(f"{name}: no such field(s) {sorted(unknown)}")
    length = _length(columns)
    arrays = []
    for field in spec.fields:
        array = _column(field, columns.get(field.name), length)
        if len(array) != length:
            raise SimulatedTableError(
                f"{name}.{field.name}: {len(array)} values, expected {length}"
            )
        if field.required and array.null_count:
            raise SimulatedTableError(f"{name}.{field.name}: required but {array.null_count} null")
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=spec.arrow_schema)


def _length(columns: Mapping[str, object]) -> int:
    for value in columns.values():
        if isinstance(value, (pa.Array, pa.ChunkedArray)):
            return len(value)
        if value is not None and np.ndim(value) > 0:
            return len(np.asarray(value))
    return 0


def take_strings(values: pa.Array, index: np.ndarray) -> pa.Array:
    """Repeat firm-level strings (USCCs) for many rows without Python string objects."""
    return values.take(pa.array(np.asarray(index, dtype=np.int64)))
