"""The record of job runs in the store (作业运行记录): one row per attempt.

The scheduler's only persistence: start and finish an attempt, record a blocked run, and
answer what has succeeded. Each write commits at once, so a crash mid-run leaves a
``running`` row that says when the attempt began.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from puhui.data.store.operations_tables import JobRun, JobRunStatus, JobTrigger
from puhui.operations.report import RowCounts


@dataclass(frozen=True)
class RunStamp:
    """What every row of one run carries: which job, when due, for which data date, versions."""

    work_id: str
    job_name: str
    scheduled_for: datetime
    data_date: date
    trigger: JobTrigger
    code_version: str
    config_hash: str


class RunStore:
    """Job runs in the operational store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def start(self, stamp: RunStamp, attempt: int, started_at: datetime) -> int:
        """Record an attempt as running; returns its row id."""
        with self._sessions.begin() as session:
            row = JobRun(
                **_stamp_columns(stamp),
                attempt=attempt,
                status=JobRunStatus.RUNNING.value,
                started_at=started_at,
            )
            session.add(row)
            session.flush()
            return row.id

    def finish(
        self,
        run_id: int,
        *,
        status: JobRunStatus,
        ended_at: datetime,
        exit_code: int,
        rows: RowCounts,
        message: str | None,
    ) -> None:
        """Close an attempt with its outcome."""
        with self._sessions.begin() as session:
            row = session.get(JobRun, run_id)
            if row is None:
                raise LookupError(f"job run {run_id} vanished from the store")
            row.status = status.value
            row.ended_at = ended_at
            row.exit_code = exit_code
            row.rows_in = rows.rows_in
            row.rows_out = rows.rows_out
            row.message = message[:1000] if message else None

    def record_blocked(self, stamp: RunStamp, at: datetime, unmet: Sequence[str]) -> None:
        """Record that a run did not start because ``unmet`` dependencies had not succeeded."""
        with self._sessions.begin() as session:
            session.add(
                JobRun(
                    **_stamp_columns(stamp),
                    attempt=0,
                    status=JobRunStatus.BLOCKED.value,
                    started_at=at,
                    ended_at=at,
                    message=f"waiting for {', '.join(unmet)}",
                )
            )

    def abandon_stale(self, job_name: str, started_before: datetime, at: datetime) -> int:
        """Close ``running`` attempts that began before ``started_before`` as failed.

        A scheduler that died mid-run leaves its attempt ``running``; once the job's timeout has
        passed it cannot still be running, so the record says so instead of lying.
        """
        with self._sessions.begin() as session:
            stale = session.scalars(
                select(JobRun).where(
                    JobRun.job_name == job_name,
                    JobRun.status == JobRunStatus.RUNNING.value,
                    JobRun.started_at < started_before,
                )
            ).all()
            for row in stale:
                row.status = JobRunStatus.FAILED.value
                row.ended_at = at
                row.message = "abandoned: the scheduler stopped while this attempt was running"
            return len(stale)

    def last_success(self, job_name: str) -> datetime | None:
        """The scheduled time of the job's newest successful run."""
        with self._sessions() as session:
            return session.execute(
                select(func.max(JobRun.scheduled_for)).where(
                    JobRun.job_name == job_name, JobRun.status == JobRunStatus.SUCCEEDED.value
                )
            ).scalar_one_or_none()

    def succeeded_between(self, job_name: str, start: datetime, end: datetime) -> bool:
        """Whether the job has a successful run scheduled within ``[start, end]``."""
        with self._sessions() as session:
            found = session.execute(
                select(JobRun.id)
                .where(
                    JobRun.job_name == job_name,
                    JobRun.status == JobRunStatus.SUCCEEDED.value,
                    JobRun.scheduled_for >= start,
                    JobRun.scheduled_for <= end,
                )
                .limit(1)
            ).first()
        return found is not None

    def recent(self, *, job_name: str | None = None, limit: int = 50) -> list[JobRun]:
        """The newest attempts, newest first."""
        query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
        if job_name is not None:
            query = query.where(JobRun.job_name == job_name)
        with self._sessions() as session:
            return list(session.execute(query).scalars())


def _stamp_columns(stamp: RunStamp) -> dict[str, object]:
    return {
        "work_id": stamp.work_id,
        "job_name": stamp.job_name,
        "scheduled_for": stamp.scheduled_for,
        "data_date": stamp.data_date,
        "run_trigger": stamp.trigger.value,
        "code_version": stamp.code_version,
        "config_hash": stamp.config_hash,
    }
