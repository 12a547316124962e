"""Precision marketing (精准营销): list runs, listed prospects, allocations and outcomes.

- ``marketing_run``: one build of the lists as of a date, with the versions that made it and
  its counts (excluded firms and their reasons are in the run's Parquet file beside it);
- ``marketing_prospect``: the listed prospects of a run (passed the pre-screen, have an offer),
  ranked by expected value, with the best product's indicative limit and rate;
- ``marketing_assignment``: which account manager works which prospect (one per prospect and
  run) and where it stands;
- ``marketing_outcome``: every outcome a manager records (contacted … disbursed), append-only.

The tables sit on the same ``MetaData`` as ``tables.py``; migration ``0008`` creates them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from puhui.data.store.tables import MYSQL_TABLE_OPTIONS, Base, BigIntPrimaryKey, one_of, utc_now
from puhui.data.store.types import Money, UtcDateTime


class RunStatus(StrEnum):
    BUILT = "built"
    ALLOCATED = "allocated"


class AssignmentStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class MarketingOutcome(StrEnum):
    """营销结果, in the order a prospect moves through them."""

    CONTACTED = "contacted"
    NOT_INTERESTED = "not_interested"
    APPLIED = "applied"
    APPROVED = "approved"
    DISBURSED = "disbursed"


class MarketingRun(Base):
    __tablename__ = "marketing_run"
    __table_args__ = (
        CheckConstraint(one_of("status", RunStatus), name="status"),
        Index(None, "as_of"),
        MYSQL_TABLE_OPTIONS,
    )

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date())
    status: Mapped[str] = mapped_column(String(16))
    config_version: Mapped[str] = mapped_column(String(32))
    catalog_version: Mapped[str] = mapped_column(String(32))
    model_versions: Mapped[dict[str, Any]] = mapped_column(JSON())
    universe: Mapped[int] = mapped_column(Integer())
    prospects: Mapped[int] = mapped_column(Integer())
    first_loan: Mapped[int] = mapped_column(Integer())
    excluded: Mapped[int] = mapped_column(Integer())
    listed: Mapped[int] = mapped_column(Integer())
    total_value: Mapped[Decimal] = mapped_column(Money())
    summary: Mapped[dict[str, Any]] = mapped_column(JSON())
    artifact_dir: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    allocated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class MarketingProspect(Base):
    __tablename__ = "marketing_prospect"
    __table_args__ = (
        UniqueConstraint("run_id", "uscc"),
        Index(None, "run_id", "rank"),
        Index(None, "uscc"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("marketing_run.run_id"))
    uscc: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    outlet_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    themes: Mapped[str] = mapped_column(String(200))
    first_loan: Mapped[bool] = mapped_column(Boolean())
    pd: Mapped[float] = mapped_column(Float())
    p_takeup: Mapped[float] = mapped_column(Float())
    product_code: Mapped[str] = mapped_column(String(32))
    offer_limit: Mapped[Decimal] = mapped_column(Money())
    rate_bp: Mapped[int] = mapped_column(Integer())
    expected_balance: Mapped[Decimal] = mapped_column(Money())
    margin_bp: Mapped[int] = mapped_column(Integer())
    expected_value: Mapped[Decimal] = mapped_column(Money())
    rank: Mapped[int] = mapped_column(Integer())
    decile: Mapped[int] = mapped_column(Integer())


class MarketingAssignment(Base):
    __tablename__ = "marketing_assignment"
    __table_args__ = (
        CheckConstraint(one_of("status", AssignmentStatus), name="status"),
        CheckConstraint(
            "latest_outcome IS NULL OR " + one_of("latest_outcome", MarketingOutcome),
            name="latest_outcome",
        ),
        UniqueConstraint("run_id", "uscc"),
        Index(None, "staff_id", "status"),
        Index(None, "outlet_id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("marketing_run.run_id"))
    uscc: Mapped[str] = mapped_column(String(18))
    staff_id: Mapped[str] = mapped_column(String(32), ForeignKey("staff.staff_id"))
    outlet_id: Mapped[str] = mapped_column(String(16), ForeignKey("branch.branch_id"))
    expected_value: Mapped[Decimal] = mapped_column(Money())
    via_city: Mapped[bool] = mapped_column(Boolean())
    status: Mapped[str] = mapped_column(String(16))
    latest_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class MarketingOutcomeRecord(Base):
    __tablename__ = "marketing_outcome"
    __table_args__ = (
        CheckConstraint(one_of("outcome", MarketingOutcome), name="outcome"),
        Index(None, "run_id", "uscc"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("marketing_run.run_id"))
    uscc: Mapped[str] = mapped_column(String(18))
    staff_id: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
