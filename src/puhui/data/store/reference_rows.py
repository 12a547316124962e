"""Lake frames → store rows for the reference seed: validation and shaping, no I/O.

Checks what the database would reject (lengths, allowed values, missing parents) before any
row is written, so an error names the lake table, the row and the column rather than a
constraint. The input is plain polars frames, so tests build them in a few lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict

import polars as pl
from sqlalchemy import Table

from puhui.data.store.engine import StoreError
from puhui.data.store.tables import (
    Branch,
    BranchLevel,
    Enterprise,
    SizeClass,
    Staff,
    StaffRole,
)
from puhui.data.store.types import to_money

PARTITION_COLUMN = "month"
ORDER_COLUMN = "_lake_order"
"""Position of a row's file in the lake's commit order (only when the file list is given)."""

BRANCH_COLUMNS = ("branch_id", "name", "level", "parent_branch_id", "division_code")
STAFF_COLUMNS = ("staff_id", "name", "role", "branch_id", "phone")
ENTERPRISE_COLUMNS = (
    "uscc",
    "name",
    "division_code",
    "industry_code",
    "size_class",
    "founded_on",
)
ENTERPRISE_OPTIONAL_COLUMNS = ("registered_capital",)
CUSTOMER_COLUMNS = ("uscc", "branch_id", "account_manager_id", "opened_on")

_DIVISION_PATTERN = r"^\d{6}$"
_INDUSTRY_PATTERN = r"^[A-T]\d{2}$"
_USCC_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{18}$"


class ReferenceDataError(StoreError):
    """A lake row cannot become a store row; the message names the table, row and column."""


@dataclass(frozen=True)
class ReferenceFrames:
    """The four lake tables the reference seed reads, one polars frame each."""

    branches: pl.DataFrame
    staff: pl.DataFrame
    enterprises: pl.DataFrame
    customers: pl.DataFrame


class BranchRow(TypedDict):
    """One ``branch`` row as written by the seed."""

    branch_id: str
    name: str
    level: str
    parent_branch_id: str | None
    division_code: str
    created_at: datetime


class StaffRow(TypedDict):
    """One ``staff`` row as written by the seed."""

    staff_id: str
    name: str
    role: str
    branch_id: str
    phone: str | None
    active: bool
    created_at: datetime


class EnterpriseRow(TypedDict):
    """One ``enterprise`` row as written by the seed."""

    uscc: str
    name: str
    division_code: str
    industry_code: str
    size_class: str
    founded_on: date
    registered_capital: Decimal | None
    branch_id: str | None
    account_manager_id: str | None
    is_customer: bool
    updated_at: datetime


@dataclass(frozen=True)
class ReferenceRows:
    """Validated rows, in an order the foreign keys accept (parents before children)."""

    branches: list[BranchRow]
    staff: list[StaffRow]
    enterprises: list[EnterpriseRow]

    def sizes(self) -> dict[str, int]:
        """Rows per store table."""
        return {
            "branch": len(self.branches),
            "staff": len(self.staff),
            "enterprise": len(self.enterprises),
        }


def build_reference_rows(frames: ReferenceFrames, *, now: datetime) -> ReferenceRows:
    """Validate the lake frames and turn them into store rows stamped with ``now``.

    Checks what the database would reject (lengths, allowed values, missing parents) here,
    so the error names the lake table, the row and the column instead of a constraint.
    """
    branches = _branch_frame(frames.branches)
    staff = _staff_frame(frames.staff, set(branches["branch_id"].to_list()))
    enterprises = _enterprise_frame(
        frames.enterprises,
        frames.customers,
        branch_ids=set(branches["branch_id"].to_list()),
        staff_ids=set(staff["staff_id"].to_list()),
    )
    branch_rows: list[BranchRow] = [
        {
            "branch_id": row["branch_id"],
            "name": row["name"],
            "level": row["level"],
            "parent_branch_id": row["parent_branch_id"],
            "division_code": row["division_code"],
            "created_at": now,
        }
        for row in _parents_first(branches.to_dicts())
    ]
    staff_rows: list[StaffRow] = [
        {
            "staff_id": row["staff_id"],
            "name": row["name"],
            "role": row["role"],
            "branch_id": row["branch_id"],
            "phone": row["phone"],
            "active": True,
            "created_at": now,
        }
        for row in staff.to_dicts()
    ]
    enterprise_rows: list[EnterpriseRow] = [
        {
            "uscc": row["uscc"],
            "name": row["name"],
            "division_code": row["division_code"],
            "industry_code": row["industry_code"],
            "size_class": row["size_class"],
            "founded_on": row["founded_on"],
            "registered_capital": _money(row.get("registered_capital"), row["uscc"]),
            "branch_id": row["branch_id"],
            "account_manager_id": row["account_manager_id"],
            "is_customer": bool(row["is_customer"]),
            "updated_at": now,
        }
        for row in enterprises.to_dicts()
    ]
    return ReferenceRows(branches=branch_rows, staff=staff_rows, enterprises=enterprise_rows)


def _branch_frame(frame: pl.DataFrame) -> pl.DataFrame:
    table, key = "bank_branch", "branch_id"
    frame = _latest_per_key(_as_text(frame, BRANCH_COLUMNS), table, key)
    _require_present(frame, table, key, ["branch_id", "name", "level", "division_code"])
    _require_fits(frame, table, key, Branch.__table__, BRANCH_COLUMNS)
    _require_one_of(frame, table, key, "level", BranchLevel)
    _require_pattern(frame, table, key, "division_code", _DIVISION_PATTERN, "6 digits")
    known = set(frame["branch_id"].to_list())
    _require_known(frame, table, key, "parent_branch_id", known, "bank_branch")
    return frame


def _staff_frame(frame: pl.DataFrame, branch_ids: set[str]) -> pl.DataFrame:
    table, key = "bank_staff", "staff_id"
    frame = _latest_per_key(_as_text(frame, STAFF_COLUMNS), table, key)
    _require_present(frame, table, key, ["staff_id", "name", "role", "branch_id"])
    _require_fits(frame, table, key, Staff.__table__, STAFF_COLUMNS)
    _require_one_of(frame, table, key, "role", StaffRole)
    _require_known(frame, table, key, "branch_id", branch_ids, "bank_branch")
    return frame


def _enterprise_frame(
    enterprises: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    branch_ids: set[str],
    staff_ids: set[str],
) -> pl.DataFrame:
    table, key = "reg_enterprise", "uscc"
    text_columns = ("uscc", "name", "division_code", "industry_code", "size_class")
    enterprises = _latest_per_key(_as_text(enterprises, text_columns), table, key)
    enterprises = enterprises.with_columns(_as_date(enterprises, "founded_on", table))
    _require_present(enterprises, table, key, list(ENTERPRISE_COLUMNS))
    _require_fits(enterprises, table, key, Enterprise.__table__, text_columns)
    _require_pattern(enterprises, table, key, "uscc", _USCC_PATTERN, "18 USCC characters")
    _require_pattern(enterprises, table, key, "division_code", _DIVISION_PATTERN, "6 digits")
    _require_pattern(
        enterprises, table, key, "industry_code", _INDUSTRY_PATTERN, "a GB/T 4754 division like C17"
    )
    _require_one_of(enterprises, table, key, "size_class", SizeClass)

    ctable = "bank_customer"
    customers = _latest_per_key(
        _as_text(customers, ("uscc", "branch_id", "account_manager_id")), ctable, key
    )
    _require_present(customers, ctable, key, ["uscc", "branch_id"])
    _require_known(customers, ctable, key, "uscc", set(enterprises["uscc"].to_list()), table)
    _require_known(customers, ctable, key, "branch_id", branch_ids, "bank_branch")
    _require_known(customers, ctable, key, "account_manager_id", staff_ids, "bank_staff")
    relationship = customers.select(
        "uscc", "branch_id", "account_manager_id", pl.lit(True).alias("is_customer")
    )
    return enterprises.join(relationship, on="uscc", how="left").with_columns(
        pl.col("is_customer").fill_null(False)
    )


def _as_text(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Identifier and name columns as text, whatever type the Parquet writer chose."""
    return frame.with_columns(
        pl.col(name).cast(pl.String).str.strip_chars() for name in columns if name in frame.columns
    )


def _as_date(frame: pl.DataFrame, column: str, table: str) -> pl.Series:
    series = frame[column]
    try:
        if series.dtype == pl.Date:
            return series
        if series.dtype == pl.String:
            return series.str.to_date(strict=True)
        if isinstance(series.dtype, pl.Datetime):
            return series.dt.date()
    except pl.exceptions.PolarsError as error:
        raise ReferenceDataError(
            f"{table}.{column} holds values that are not dates: {error}"
        ) from error
    raise ReferenceDataError(f"{table}.{column} should be a date, found type {series.dtype}")


def _latest_per_key(frame: pl.DataFrame, table: str, key: str) -> pl.DataFrame:
    """One row per key: the latest ``month``, then the latest batch, wins.

    Rows that share a key and the same latest position must agree; two different versions
    of a firm in one month of one batch is a data error, not something to pick at random.
    """
    order = [name for name in (PARTITION_COLUMN, ORDER_COLUMN) if name in frame.columns]
    content = [name for name in frame.columns if name not in order]
    if order:
        latest = (
            frame.select(key, *order)
            .sort(order, nulls_last=False)
            .unique(subset=[key], keep="last", maintain_order=True)
        )
        frame = frame.join(latest, on=[key, *order], how="semi", nulls_equal=True)
    candidates = frame.select(content).unique(maintain_order=True)
    duplicated = candidates.filter(pl.col(key).is_duplicated())
    if duplicated.height:
        raise ReferenceDataError(
            f"{table} has {duplicated.height} rows sharing {key} values with different content "
            f"in the same month and batch, first {key}={duplicated[key][0]!r}"
        )
    return candidates


def _first_offender(frame: pl.DataFrame, condition: pl.Expr) -> dict[str, Any] | None:
    offenders = frame.filter(condition)
    return offenders.row(0, named=True) if offenders.height else None


def _require_present(frame: pl.DataFrame, table: str, key: str, columns: list[str]) -> None:
    for column in columns:
        row = _first_offender(frame, pl.col(column).is_null())
        if row is not None:
            raise ReferenceDataError(f"{table} row {key}={row[key]!r}: {column} is empty")


def _require_fits(
    frame: pl.DataFrame, table: str, key: str, store_table: Any, columns: Sequence[str]
) -> None:
    target: Table = store_table
    for column in columns:
        length = getattr(target.c[column].type, "length", None)
        if length is None or column not in frame.columns:
            continue
        row = _first_offender(frame, pl.col(column).str.len_chars() > length)
        if row is not None:
            raise ReferenceDataError(
                f"{table} row {key}={row[key]!r}: {column} {row[column]!r} is longer than "
                f"{length} characters ({target.name}.{column})"
            )


def _require_one_of(
    frame: pl.DataFrame, table: str, key: str, column: str, allowed: type[Any]
) -> None:
    values = [member.value for member in allowed]
    row = _first_offender(frame, ~pl.col(column).is_in(values))
    if row is not None:
        raise ReferenceDataError(
            f"{table} row {key}={row[key]!r}: {column} {row[column]!r} is not one of "
            f"{', '.join(values)}"
        )


def _require_pattern(
    frame: pl.DataFrame, table: str, key: str, column: str, pattern: str, meaning: str
) -> None:
    row = _first_offender(frame, ~pl.col(column).str.contains(pattern))
    if row is not None:
        raise ReferenceDataError(
            f"{table} row {key}={row[key]!r}: {column} {row[column]!r} is not {meaning}"
        )


def _require_known(
    frame: pl.DataFrame, table: str, key: str, column: str, known: set[str], source: str
) -> None:
    condition = pl.col(column).is_not_null() & ~pl.col(column).is_in(sorted(known))
    row = _first_offender(frame, condition)
    if row is not None:
        raise ReferenceDataError(
            f"{table} row {key}={row[key]!r}: {column} {row[column]!r} is not in {source}"
        )


def _parents_first(branches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Branches ordered so each parent precedes its children; refuses cycles."""
    parent_of = {row["branch_id"]: row["parent_branch_id"] for row in branches}
    depth: dict[str, int] = {}
    for branch_id in parent_of:
        chain: list[str] = []
        current: str | None = branch_id
        while current is not None and current not in depth:
            if current in chain:
                raise ReferenceDataError(
                    f"bank_branch row branch_id={current!r}: parent_branch_id forms a cycle "
                    f"({' → '.join([*chain, current])})"
                )
            chain.append(current)
            current = parent_of[current]
        base = -1 if current is None else depth[current]
        for offset, member in enumerate(reversed(chain), start=1):
            depth[member] = base + offset
    return sorted(branches, key=lambda row: depth[row["branch_id"]])


def _money(value: Any, uscc: str) -> Decimal | None:
    """A lake amount in yuan as ``Decimal``; floats are rounded to fen on the way in."""
    if value is None:
        return None
    try:
        if isinstance(value, float):
            return to_money(Decimal(repr(value)).quantize(Decimal("0.01")))
        return to_money(value)
    except (ValueError, TypeError, InvalidOperation) as error:
        raise ReferenceDataError(
            f"reg_enterprise row uscc={uscc!r}: registered_capital {value!r} is not money: {error}"
        ) from error
