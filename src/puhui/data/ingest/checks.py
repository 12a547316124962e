"""Check codes of Chinese identifiers as Polars expressions, for batches of millions of rows.

The same rules as the scalar validators in :mod:`puhui.data.identifiers` (GB 32100 for the unified
social credit code, GB 11643 for identity numbers), computed per character position with
``str.slice`` + ``replace_strict`` + a weighted sum. Each ``*_problem`` expression is null for a
good value and otherwise the reason it is wrong. Patterns use ``[0-9]``, never ``\\d``, which in
the regex engine also matches non-ASCII digits.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from puhui.data.identifiers import ID_CHECK_CHARS, ID_WEIGHTS, USCC_ALPHABET, USCC_WEIGHTS
from puhui.data.reference import division_codes, divisions

_USCC_CHAR = "[0-9A-HJ-NPQRTUWXY]"
USCC_PATTERN = f"^{_USCC_CHAR}{{2}}[0-9]{{6}}{_USCC_CHAR}{{10}}$"
ID_PATTERN = r"^[0-9]{17}[0-9X]$"
PHONE_PATTERN = r"^1[3-9][0-9]{9}$"

USCC_MALFORMED = "not a unified social credit code (18 characters: 0-9 and A-Y without I O Z S V)"
USCC_WRONG_CHECK = "unified social credit code check character is wrong (GB 32100)"
ID_MALFORMED = "not a resident identity number (17 digits then a digit or X)"
ID_BAD_DATE = "identity number holds an impossible birth date"
ID_WRONG_CHECK = "identity number check character is wrong (GB 11643)"
PHONE_MALFORMED = "not a mainland mobile number (11 digits starting 13-19)"
DIVISION_UNKNOWN = "not an administrative division code of Zhejiang (33xxxx)"
INDUSTRY_UNKNOWN = "not a known industry code (GB/T 4754 division, e.g. C17)"

_USCC_VALUES = {c: i for i, c in enumerate(USCC_ALPHABET)}
_DAYS_IN_MONTH = {1: 31, 2: 28, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30}
_DAYS_IN_MONTH[12] = 31


def _weighted_sum(value: pl.Expr, values: dict[str, int], weights: tuple[int, ...]) -> pl.Expr:
    terms = [
        value.str.slice(position, 1).replace_strict(values, default=0, return_dtype=pl.Int64)
        * weight
        for position, weight in enumerate(weights)
    ]
    return pl.sum_horizontal(terms)


def uscc_check_char(value: pl.Expr) -> pl.Expr:
    """The check character the first 17 characters call for."""
    total = _weighted_sum(value, _USCC_VALUES, USCC_WEIGHTS)
    index = (31 - total % 31) % 31
    return index.replace_strict(dict(enumerate(USCC_ALPHABET)), return_dtype=pl.String)


def uscc_problem(value: pl.Expr) -> pl.Expr:
    """Why a USCC is invalid, or null."""
    return (
        pl.when(~value.str.contains(USCC_PATTERN))
        .then(pl.lit(USCC_MALFORMED))
        .when(value.str.slice(17, 1) != uscc_check_char(value))
        .then(pl.lit(USCC_WRONG_CHECK))
    )


def _first17(value: pl.Expr) -> pl.Expr:
    """The 17 leading digits as one integer (< 10**17 fits Int64), for arithmetic on digits."""
    return value.str.slice(0, 17).cast(pl.Int64, strict=False)


def _digits(number: pl.Expr, first: int, count: int) -> pl.Expr:
    """Digits ``first`` .. ``first + count - 1`` (0-based, of 17) of ``number`` as an integer."""
    return (number // 10 ** (17 - first - count)) % 10**count


def id_check_char(value: pl.Expr) -> pl.Expr:
    number = _first17(value)
    total = pl.sum_horizontal(_digits(number, i, 1) * w for i, w in enumerate(ID_WEIGHTS))
    return (total % 11).replace_strict(dict(enumerate(ID_CHECK_CHARS)), return_dtype=pl.String)


def real_birth_date(value: pl.Expr) -> pl.Expr:
    """Whether characters 7-14 are a real calendar date (leap years included, year ≥ 1)."""
    number = _first17(value)
    year, month, day = _digits(number, 6, 4), _digits(number, 10, 2), _digits(number, 12, 2)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = month.replace_strict(_DAYS_IN_MONTH, default=0, return_dtype=pl.Int64)
    days = days + ((month == 2) & leap).cast(pl.Int64)
    return (year >= 1) & (day >= 1) & (day <= days)


def id_number_problem(value: pl.Expr) -> pl.Expr:
    """Why a resident identity number is invalid, or null."""
    return (
        pl.when(~value.str.contains(ID_PATTERN))
        .then(pl.lit(ID_MALFORMED))
        .when(~real_birth_date(value))
        .then(pl.lit(ID_BAD_DATE))
        .when(value.str.slice(17, 1) != id_check_char(value))
        .then(pl.lit(ID_WRONG_CHECK))
    )


def phone_problem(value: pl.Expr) -> pl.Expr:
    return pl.when(~value.str.contains(PHONE_PATTERN)).then(pl.lit(PHONE_MALFORMED))


def division_code_problem(value: pl.Expr) -> pl.Expr:
    known = sorted(code for code in division_codes() if code.startswith("33"))
    return pl.when(~value.is_in(known)).then(pl.lit(DIVISION_UNKNOWN))


def industry_code_problem(value: pl.Expr) -> pl.Expr:
    known = sorted(d.code for d in divisions())
    return pl.when(~value.is_in(known)).then(pl.lit(INDUSTRY_UNKNOWN))


CHECKS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "uscc": uscc_problem,
    "id_number": id_number_problem,
    "phone": phone_problem,
    "division_code": division_code_problem,
    "industry_code": industry_code_problem,
}


def problems(check: str, values: pl.Series) -> pl.DataFrame:
    """Distinct values failing ``check``, with the reason (columns ``value``, ``reason``).

    Checking distinct values only keeps this cheap for monthly tables, where each firm's code
    repeats once a month.
    """
    distinct = pl.DataFrame({"value": values.drop_nulls().unique()})
    return distinct.with_columns(CHECKS[check](pl.col("value")).alias("reason")).filter(
        pl.col("reason").is_not_null()
    )
