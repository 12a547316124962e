"""Column types that behave the same on SQLite, PostgreSQL and MySQL/MariaDB.

Migrations import these too, so a type's stored form is part of the schema: change one only
together with a migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Numeric
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_PRECISION = 18
MONEY_SCALE = 2
_FEN = Decimal("0.01")
_MONEY_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)


def _is_mysql(dialect: Dialect) -> bool:
    return dialect.name in {"mysql", "mariadb"}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp with microseconds on every backend.

    PostgreSQL stores ``timestamptz``; SQLite and MySQL have no zone, so UTC is stored naive
    and the zone is put back on read. Naive datetimes are refused: their zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if _is_mysql(dialect):
            # Plain DATETIME drops microseconds, which would break the audit hash chain.
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} has no time zone; pass UTC")
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An amount in yuan with fen precision, ``NUMERIC(18, 2)``, always read as ``Decimal``.

    SQLite has no exact decimal type (it would round through a double), so there the amount
    is stored as an integer number of fen; raw SQL against SQLite therefore sees fen. Floats
    and sub-fen amounts are refused rather than silently rounded.
    """

    impl = Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = to_money(value)
        if dialect.name == "sqlite":
            return int(amount.scaleb(MONEY_SCALE))
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-MONEY_SCALE).quantize(_FEN)
        return Decimal(value).quantize(_FEN)


def to_money(value: Decimal | int | str) -> Decimal:
    """``value`` as a yuan amount with exactly two decimals; refuses floats and sub-fen parts."""
    if isinstance(value, bool | float):
        raise TypeError(f"money must be Decimal, int or str, not {type(value).__name__}: {value!r}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"money must be finite, got {value!r}")
    quantized = amount.quantize(_FEN)
    if quantized != amount:
        raise ValueError(f"money has at most two decimals (fen), got {value!r}")
    if abs(quantized) >= _MONEY_LIMIT:
        raise ValueError(f"money {value!r} exceeds NUMERIC({MONEY_PRECISION}, {MONEY_SCALE})")
    return quantized
