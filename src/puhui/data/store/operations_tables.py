"""Operations in the operational store (运维): scheduled job runs and erasure requests.

- ``job_run``: one row per attempt of a scheduled (or manually triggered) job: when it was due,
  the data date it worked on, how it ended, rows in and out when the command reported them, and
  the code and configuration versions, so a run can be reproduced and a late one explained.
  ``work_id`` is the id that also stamps the run's log lines.
- ``scheduler_lease``: which scheduler process may run jobs until when, so two schedulers
  started by mistake never run the same job twice;
- ``erasure_request``: each request to delete a person's data (个人信息删除) and what was done:
  the identity number only masked, the counts of fields redacted and of records kept (with the
  legal reason). The audit log holds the matching ``person.forget`` entry.

The tables sit on the same ``MetaData`` as ``tables.py``; migration ``0009`` creates them.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from puhui.data.store.tables import MYSQL_TABLE_OPTIONS, Base, BigIntPrimaryKey, one_of
from puhui.data.store.types import UtcDateTime


class JobRunStatus(StrEnum):
    """``blocked``: not started because a dependency had not succeeded."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"


class JobTrigger(StrEnum):
    """Who asked for the run: the built-in scheduler or an operator / outside scheduler."""

    SCHEDULE = "schedule"
    MANUAL = "manual"


class ErasureOutcome(StrEnum):
    """``partial``: some records are under a legal hold and were kept."""

    ERASED = "erased"
    PARTIAL = "partial"
    NOTHING_FOUND = "nothing_found"


class JobRun(Base):
    """One attempt of one job for one scheduled time."""

    __tablename__ = "job_run"
    __table_args__ = (
        CheckConstraint(one_of("status", JobRunStatus), name="status"),
        CheckConstraint(one_of("run_trigger", JobTrigger), name="run_trigger"),
        Index(None, "job_name", "scheduled_for"),
        Index(None, "started_at"),
        Index(None, "work_id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    work_id: Mapped[str] = mapped_column(String(36))
    job_name: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime] = mapped_column(UtcDateTime())
    data_date: Mapped[date] = mapped_column(Date())
    attempt: Mapped[int] = mapped_column(Integer())
    status: Mapped[str] = mapped_column(String(16))
    run_trigger: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    rows_in: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
    rows_out: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
    code_version: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class SchedulerLease(Base):
    """One row per lease name; a holder keeps it by renewing before ``expires_at``."""

    __tablename__ = "scheduler_lease"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ErasureRequest(Base):
    """A processed request to delete one person's data; ``request_ref`` makes it idempotent."""

    __tablename__ = "erasure_request"
    __table_args__ = (
        CheckConstraint(one_of("outcome", ErasureOutcome), name="outcome"),
        Index(None, "request_ref", unique=True),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    request_ref: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    performed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    performed_by: Mapped[str] = mapped_column(String(32))
    subject_masked: Mapped[str] = mapped_column(String(18))
    legal_basis: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON())
