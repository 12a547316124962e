"""Post-loan early warning in the operational store (贷后预警): scans, feeds, warnings, level
history, tasks, disposals and notifications.

- ``alarm_scan``: one row per scan date, with its checkpoint (the stage reached and the last
  borrower applied), so a crashed scan resumes where it stopped and a finished one is a no-op.
- ``alarm_feed``: for each scan date and source table, whether the day's feed was there; a
  missing feed is recorded as missing, never read as "no risk".
- ``alarm_warning``: one row per warning episode of a borrower; ``(uscc, opened_on)`` is unique,
  so a re-run of the same date cannot open a second one. Evidence is JSON (signals, values,
  dates, sources) with the early-warning PDs.
- ``alarm_level_change``: the level history; ``(warning_id, scan_date)`` is unique.
- ``alarm_task``: one task per warning raised or escalated, for the account manager, with a
  deadline by level; ``(warning_id, scan_date)`` unique, so re-runs add no task.
- ``alarm_disposal``: the offline verification and the disposal (one per task).
- ``alarm_notification``: what was sent to whom through which channel, once per task and kind.
"""

from __future__ import annotations

from datetime import date, datetime
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
from puhui.data.store.types import UtcDateTime


class WarningLevel(StrEnum):
    """红橙黄蓝, red the most severe."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"


class WarningStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class LevelAction(StrEnum):
    OPEN = "open"
    ESCALATE = "escalate"
    DEESCALATE = "deescalate"
    CLOSE = "close"


class ScanStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"


class FeedState(StrEnum):
    PRESENT = "present"
    MISSING = "missing"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    SUPERSEDED = "superseded"  # a later task of the same warning replaced it


class Disposal(StrEnum):
    """处置措施: the account manager's decision after verifying offline."""

    NO_ACTION = "no_action"  # 无需处置
    WATCH = "watch"  # 持续关注
    REDUCE_LINE = "reduce_line"  # 压降额度
    FREEZE_LINE = "freeze_line"  # 冻结未用额度
    DEMAND_COLLATERAL = "demand_collateral"  # 追加担保
    ACCELERATE = "accelerate"  # 提前收回
    EXIT = "exit"  # 退出


class AlarmScan(Base):
    __tablename__ = "alarm_scan"
    __table_args__ = (
        CheckConstraint(one_of("status", ScanStatus), name="status"),
        MYSQL_TABLE_OPTIONS,
    )

    scan_date: Mapped[date] = mapped_column(Date(), primary_key=True)
    engine: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    applied_through: Mapped[str | None] = mapped_column(String(18), nullable=True)
    borrowers: Mapped[int] = mapped_column(Integer(), default=0)
    signals_fired: Mapped[int] = mapped_column(Integer(), default=0)
    warnings_opened: Mapped[int] = mapped_column(Integer(), default=0)
    warnings_changed: Mapped[int] = mapped_column(Integer(), default=0)
    tasks_created: Mapped[int] = mapped_column(Integer(), default=0)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON(), default=dict)


class AlarmFeed(Base):
    __tablename__ = "alarm_feed"
    __table_args__ = (
        CheckConstraint(one_of("status", FeedState), name="status"),
        MYSQL_TABLE_OPTIONS,
    )

    scan_date: Mapped[date] = mapped_column(Date(), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    expected_period: Mapped[date] = mapped_column(Date())
    latest_period: Mapped[date | None] = mapped_column(Date(), nullable=True)


class AlarmWarning(Base):
    __tablename__ = "alarm_warning"
    __table_args__ = (
        CheckConstraint(one_of("level", WarningLevel), name="level"),
        CheckConstraint(one_of("status", WarningStatus), name="status"),
        UniqueConstraint("uscc", "opened_on"),
        Index(None, "status", "level"),
        Index(None, "branch_id"),
        Index(None, "account_manager_id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    uscc: Mapped[str] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(8))
    opened_on: Mapped[date] = mapped_column(Date())
    updated_on: Mapped[date] = mapped_column(Date())
    closed_on: Mapped[date | None] = mapped_column(Date(), nullable=True)
    below_since: Mapped[date | None] = mapped_column(Date(), nullable=True)
    score: Mapped[float] = mapped_column(Float())
    veto: Mapped[bool] = mapped_column(Boolean())
    pd_3m: Mapped[float | None] = mapped_column(Float(), nullable=True)
    pd_6m: Mapped[float | None] = mapped_column(Float(), nullable=True)
    pd_12m: Mapped[float | None] = mapped_column(Float(), nullable=True)
    conditions: Mapped[list[str]] = mapped_column(JSON())
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON())
    missing_sources: Mapped[list[str]] = mapped_column(JSON())
    branch_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    account_manager_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class AlarmLevelChange(Base):
    __tablename__ = "alarm_level_change"
    __table_args__ = (
        CheckConstraint(one_of("action", LevelAction), name="action"),
        UniqueConstraint("warning_id", "scan_date"),
        Index(None, "scan_date"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    warning_id: Mapped[int] = mapped_column(BigIntPrimaryKey, ForeignKey("alarm_warning.id"))
    scan_date: Mapped[date] = mapped_column(Date())
    action: Mapped[str] = mapped_column(String(16))
    from_level: Mapped[str | None] = mapped_column(String(8), nullable=True)
    to_level: Mapped[str | None] = mapped_column(String(8), nullable=True)
    reason: Mapped[str] = mapped_column(String(300))


class AlarmTask(Base):
    __tablename__ = "alarm_task"
    __table_args__ = (
        CheckConstraint(one_of("level", WarningLevel), name="level"),
        CheckConstraint(one_of("status", TaskStatus), name="status"),
        UniqueConstraint("warning_id", "scan_date"),
        Index(None, "assignee_id", "status"),
        Index(None, "branch_id", "status"),
        Index(None, "due_on"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    warning_id: Mapped[int] = mapped_column(BigIntPrimaryKey, ForeignKey("alarm_warning.id"))
    uscc: Mapped[str] = mapped_column(String(18))
    scan_date: Mapped[date] = mapped_column(Date())
    level: Mapped[str] = mapped_column(String(8))
    assignee_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    branch_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    due_on: Mapped[date] = mapped_column(Date())
    status: Mapped[str] = mapped_column(String(16))
    escalated_to: Mapped[str | None] = mapped_column(String(32), nullable=True)
    escalated_on: Mapped[date | None] = mapped_column(Date(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class AlarmDisposal(Base):
    __tablename__ = "alarm_disposal"
    __table_args__ = (
        CheckConstraint(one_of("action", Disposal), name="action"),
        UniqueConstraint("task_id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(BigIntPrimaryKey, ForeignKey("alarm_task.id"))
    action: Mapped[str] = mapped_column(String(24))
    verified_on: Mapped[date] = mapped_column(Date())
    site_visit: Mapped[bool] = mapped_column(Boolean())
    verification: Mapped[str] = mapped_column(String(1000))
    recorded_by: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class AlarmNotification(Base):
    __tablename__ = "alarm_notification"
    __table_args__ = (UniqueConstraint("task_id", "channel", "kind"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(BigIntPrimaryKey, ForeignKey("alarm_task.id"))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
