"""Sentinel (anti-fraud) in the operational store (反欺诈哨兵): one row per screening.

``sentinel_verdict`` keeps what the sentinel answered for an application: the verdict, the
strategy set version and arm (champion or challenger) that decided it, the shadow verdict of
the other arm, the score points and the hits with their reasons, so a reviewer sees why and a
champion/challenger comparison can be read back. Migration ``0006`` creates it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from puhui.data.store.tables import MYSQL_TABLE_OPTIONS, Base, BigIntPrimaryKey
from puhui.data.store.types import UtcDateTime

_VERDICTS = "('pass', 'review', 'reject')"


class SentinelScreening(Base):
    """One screening of one application by the sentinel."""

    __tablename__ = "sentinel_verdict"
    __table_args__ = (
        CheckConstraint(f"verdict IN {_VERDICTS}", name="verdict"),
        CheckConstraint(f"shadow_verdict IN {_VERDICTS}", name="shadow_verdict"),
        CheckConstraint("arm IN ('champion', 'challenger')", name="arm"),
        Index(None, "application_id"),
        Index(None, "uscc"),
        Index(None, "screened_at"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(String(64))
    uscc: Mapped[str] = mapped_column(String(18))
    screened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    verdict: Mapped[str] = mapped_column(String(16))
    arm: Mapped[str] = mapped_column(String(16))
    strategy_version: Mapped[str] = mapped_column(String(64))
    shadow_verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    shadow_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    points: Mapped[float] = mapped_column(Float())
    hits: Mapped[list[Any]] = mapped_column(JSON())
    elapsed_ms: Mapped[float] = mapped_column(Float())
