"""From delivered values to canonical types, as Polars expressions.

Every field becomes one expression over its delivered column, whatever that column's type (text
from CSV, typed values from Parquet or JSON). A value that is present but does not convert comes
out null, so ``present & value.is_null()`` marks exactly the values to report. Money is parsed
from its decimal text, never through a float, and refuses more than two decimals rather than
rounding them away.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from puhui.data.schema import MONEY_PRECISION, MONEY_SCALE, FieldSpec

EARLIEST = date(1900, 1, 1)
LATEST = date(2100, 12, 31)
EARLIEST_INSTANT = datetime(1900, 1, 1)
LATEST_INSTANT = datetime(2101, 1, 1)

TYPE_REASONS = {
    "int": "not an integer",
    "float": "not a number",
    "money": "not an amount in yuan with at most 2 decimals (e.g. 1234.56)",
    "bool": "not a boolean (true/false, 1/0, 是/否)",
    "date": "not a date (YYYY-MM-DD)",
    "month": "not a month (YYYY-MM, YYYYMM or YYYY-MM-01)",
    "timestamp": "not a timestamp (ISO 8601, e.g. 2024-03-01T09:30:00+08:00; no offset = UTC)",
    "string": "not text",
    "enum": "not text",
}

_TRUE = ["true", "t", "yes", "y", "1", "是", "真"]
_FALSE = ["false", "f", "no", "n", "0", "否", "假"]
_MONEY = pl.Decimal(MONEY_PRECISION, MONEY_SCALE)
_MONEY_TEXT = r"^[+-]?[0-9]{1,16}(\.[0-9]{0,2}0*)?$"  # trailing zeros past the cents are harmless


def present(name: str, dtype: pl.DataType) -> pl.Expr:
    """Whether a value was delivered: not null and, for text, not blank."""
    column = pl.col(name)
    if dtype == pl.String:
        return column.str.strip_chars().str.len_bytes().fill_null(0) > 0
    return column.is_not_null()


def _text(column: pl.Expr) -> pl.Expr:
    """Trimmed text with blanks as nulls."""
    trimmed = column.str.strip_chars()
    return pl.when(trimmed.str.len_bytes() > 0).then(trimmed)


def _int_from_text(text: pl.Expr) -> pl.Expr:
    # "12.0" from spreadsheets and float columns is an integer too; "12.5" is not.
    as_float = text.cast(pl.Float64, strict=False)
    whole = (as_float == as_float.round(0)) & (as_float.abs() < 2**53)
    return text.cast(pl.Int64, strict=False).fill_null(
        pl.when(whole).then(as_float.cast(pl.Int64, strict=False))
    )


def _float_from_text(text: pl.Expr) -> pl.Expr:
    return text.cast(pl.Float64, strict=False)


def _money_from_text(text: pl.Expr) -> pl.Expr:
    # Checked as text first: the cast would silently truncate "1.234" to 1.23.
    return pl.when(text.str.contains(_MONEY_TEXT)).then(text.cast(_MONEY, strict=False))


def _bool_from_text(text: pl.Expr) -> pl.Expr:
    words = dict.fromkeys(_TRUE, True) | dict.fromkeys(_FALSE, False)
    return text.str.to_lowercase().replace_strict(words, default=None, return_dtype=pl.Boolean)


def _date_from_text(text: pl.Expr) -> pl.Expr:
    return pl.coalesce(
        text.str.to_date("%Y-%m-%d", strict=False),
        text.str.to_date("%Y/%m/%d", strict=False),
    )


def _month_from_text(text: pl.Expr) -> pl.Expr:
    spelled = (
        pl.when(text.str.contains(r"^[0-9]{4}[-/][0-9]{1,2}$"))
        .then(text.str.replace("/", "-") + "-01")
        .when(text.str.contains(r"^[0-9]{6}$"))
        .then(text.str.slice(0, 4) + "-" + text.str.slice(4, 2) + "-01")
        .otherwise(text)
    )
    return _date_from_text(spelled)


def _timestamp_from_text(text: pl.Expr) -> pl.Expr:
    iso = text.str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
    with_offset = iso.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us", time_zone="UTC"
    )
    naive = iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    return pl.coalesce(with_offset, naive.dt.replace_time_zone("UTC"))


_FROM_TEXT = {
    "string": lambda text: text,
    "enum": lambda text: text,
    "int": _int_from_text,
    "float": _float_from_text,
    "money": _money_from_text,
    "bool": _bool_from_text,
    "date": _date_from_text,
    "month": _month_from_text,
    "timestamp": _timestamp_from_text,
}


def _from_typed(field: FieldSpec, column: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    """A direct conversion for already-typed columns, or None to go through the text form."""
    kind = field.type
    if kind in ("string", "enum"):
        return _text(column.cast(pl.String))
    if kind == "int" and dtype.is_integer():
        return column.cast(pl.Int64, strict=False)
    if kind == "float" and dtype.is_numeric():
        return column.cast(pl.Float64, strict=False)
    if kind == "money":
        if dtype.is_integer() or (isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= 2):
            return column.cast(_MONEY, strict=False)
        return None
    if kind == "bool":
        if dtype == pl.Boolean:
            return column
        if dtype.is_integer():
            return column.replace_strict({0: False, 1: True}, default=None, return_dtype=pl.Boolean)
        return None
    if kind in ("date", "month"):
        if dtype == pl.Date:
            return column
        if isinstance(dtype, pl.Datetime):
            at_midnight = column.dt.time() == pl.time(0, 0, 0)
            return pl.when(at_midnight).then(column.dt.date())
        return None
    if kind == "timestamp":
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone is None:
                return column.dt.cast_time_unit("us").dt.replace_time_zone("UTC")
            return column.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        if dtype == pl.Date:
            return pl.lit(None, dtype=field.polars_type)
        return None
    return None


def typed_value(field: FieldSpec, dtype: pl.DataType) -> pl.Expr:
    """The field's canonical value from its delivered column (null where it does not convert)."""
    column = pl.col(field.name)
    target = field.polars_type
    if dtype == pl.Null:
        return pl.lit(None, dtype=target).alias(field.name)
    if dtype == pl.String:
        converted = _FROM_TEXT[field.type](_text(column))
    else:
        direct = _from_typed(field, column, dtype)
        if direct is not None:
            converted = direct
        elif dtype.is_nested():
            converted = pl.lit(None, dtype=target)
        else:
            converted = _FROM_TEXT[field.type](_text(column.cast(pl.String)))
    if field.type == "float":
        converted = pl.when(converted.is_finite()).then(converted)
    return converted.cast(target).alias(field.name)


def out_of_calendar(field: FieldSpec, value: pl.Expr) -> pl.Expr | None:
    """Dates before 1900 or after 2100 are typos (0224-03-01), not history."""
    if field.type in ("date", "month"):
        return (value < EARLIEST) | (value > LATEST)
    if field.type == "timestamp":
        utc = value.dt.replace_time_zone(None)
        return (utc < EARLIEST_INSTANT) | (utc >= LATEST_INSTANT)
    return None
