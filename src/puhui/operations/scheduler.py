"""The scheduler (调度器): runs what is due, in order, with retries, and records every attempt.

One pass takes every occurrence due up to now (missed days included, oldest first, a job
after the jobs it depends on), skips an occurrence whose dependencies have not succeeded
(recorded as ``blocked``), and runs the rest with retries and exponential backoff. Once a
job fails or is blocked in a pass, its later occurrences wait for the next pass, so days are
never processed out of order. The clock and the sleeper are handed in, so tests (and
back-fills) need no real waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from puhui.data.store.operations_tables import JobRunStatus, JobTrigger
from puhui.observability.context import new_work_id, work_context
from puhui.observability.metrics import JOB_DURATION, JOB_LAG, JOB_LAST_SUCCESS, JOB_RUNS
from puhui.operations.exit_codes import ExitCode
from puhui.operations.jobs import JobsConfig, JobSpec
from puhui.operations.report import RowCounts
from puhui.operations.runner import CommandOutcome, CommandRunner
from puhui.operations.runs import RunStamp, RunStore
from puhui.operations.schedule import (
    Occurrence,
    due_occurrences,
    end_of_day,
    next_after,
    scheduled_on,
    unmet_dependencies,
)

_log = logging.getLogger("puhui.operations.scheduler")
# A ``running`` attempt older than its job's timeout plus this is left over from a crash.
_ABANDON_GRACE_SECONDS = 300
INTERRUPTED_EXIT_CODE = 130


class Lease(Protocol):
    """Who may run jobs: ``hold`` takes or renews it, or raises when another holds it."""

    def hold(self, seconds: float) -> None: ...

    def release(self) -> None: ...


@dataclass
class PassReport:
    """What one pass did: occurrences that succeeded, failed and were blocked, in order."""

    succeeded: list[Occurrence] = field(default_factory=list)
    failed: list[Occurrence] = field(default_factory=list)
    blocked: list[Occurrence] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """Failures outrank blocks: a failure needs a person, a block only needs time."""
        if self.failed:
            return ExitCode.JOB_FAILED
        if self.blocked:
            return ExitCode.BLOCKED
        return ExitCode.OK

    def merge(self, other: PassReport) -> None:
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.blocked += other.blocked


class Scheduler:
    """Runs configured jobs through a command runner and records them in a run store."""

    def __init__(
        self,
        config: JobsConfig,
        runs: RunStore,
        runner: CommandRunner,
        *,
        code_version: str,
        clock: Callable[[], datetime],
        sleeper: Callable[[float], None] = time.sleep,
        lease: Lease | None = None,
    ) -> None:
        self.config = config
        self.runs = runs
        self.runner = runner
        self.code_version = code_version
        self.config_hash = config.config_hash()
        self.clock = clock
        self.sleeper = sleeper
        self.lease = lease
        self._hold_seconds = max(job.timeout_seconds for job in config.jobs) + (
            _ABANDON_GRACE_SECONDS
        )

    # --- what is due ----------------------------------------------------------------------------

    def due(self, horizon: datetime) -> list[Occurrence]:
        """Occurrences due up to ``horizon`` that have not succeeded, in running order."""
        last = {job.name: self.runs.last_success(job.name) for job in self.config.jobs}
        return due_occurrences(self.config, horizon, last)

    # --- running --------------------------------------------------------------------------------

    def run_pass(self, horizon: datetime | None = None) -> PassReport:
        """Run everything due up to ``horizon`` (default: now) once."""
        report = PassReport()
        held: set[str] = set()  # jobs that failed or were blocked in this pass
        self._hold()
        now = self.clock()
        for job in self.config.jobs:
            limit = now - timedelta(seconds=job.timeout_seconds + _ABANDON_GRACE_SECONDS)
            self.runs.abandon_stale(job.name, limit, now)
        for occurrence in self.due(horizon or now):
            if occurrence.job_name in held:
                continue
            status = self._run_occurrence(occurrence, JobTrigger.SCHEDULE)
            if status is JobRunStatus.SUCCEEDED:
                report.succeeded.append(occurrence)
                continue
            held.add(occurrence.job_name)
            (report.failed if status is JobRunStatus.FAILED else report.blocked).append(occurrence)
        return report

    def run(self, *, once: bool = False, until: date | None = None) -> PassReport:
        """Run passes: one (``once``), until every occurrence through ``until`` is done, or
        forever, sleeping until the next scheduled time in between."""
        total = PassReport()
        limit = end_of_day(until, self.config.zone) if until is not None else None
        try:
            while True:
                now = self.clock()
                horizon = min(now, limit) if limit is not None else now
                total.merge(self.run_pass(horizon))
                if once or (limit is not None and now >= limit):
                    return total
                wake = next_after(self.config, horizon)
                if limit is not None and wake > limit:
                    return total
                pause = max((wake - self.clock()).total_seconds(), 0.0)
                self._hold(pause)
                self.sleeper(pause)
        finally:
            if self.lease is not None:
                self.lease.release()

    def _hold(self, extra_seconds: float = 0.0) -> None:
        """Renew the lease for the longest attempt (plus a pause) before doing anything."""
        if self.lease is not None:
            self.lease.hold(self._hold_seconds + extra_seconds)

    def run_job(self, name: str, run_day: date, *, check_dependencies: bool = True) -> ExitCode:
        """Run one job for one day now, as an outside scheduler would (with retries)."""
        job = self.config.job(name)
        occurrence = scheduled_on(self.config, job, run_day)
        status = self._run_occurrence(
            occurrence, JobTrigger.MANUAL, check_dependencies=check_dependencies
        )
        return {
            JobRunStatus.SUCCEEDED: ExitCode.OK,
            JobRunStatus.FAILED: ExitCode.JOB_FAILED,
            JobRunStatus.BLOCKED: ExitCode.BLOCKED,
        }[status]

    def _run_occurrence(
        self, occurrence: Occurrence, trigger: JobTrigger, *, check_dependencies: bool = True
    ) -> JobRunStatus:
        job = self.config.job(occurrence.job_name)
        stamp = RunStamp(
            work_id=new_work_id(),
            job_name=job.name,
            scheduled_for=occurrence.scheduled_for,
            data_date=occurrence.data_date,
            trigger=trigger,
            code_version=self.code_version,
            config_hash=self.config_hash,
        )
        with work_context(stamp.work_id):
            if check_dependencies:
                unmet = unmet_dependencies(self.config, occurrence, self.runs.succeeded_between)
                if unmet:
                    self.runs.record_blocked(stamp, self.clock(), unmet)
                    JOB_RUNS.labels(job=job.name, status=JobRunStatus.BLOCKED.value).inc()
                    _log.warning(
                        "job %s for %s blocked: waiting for %s",
                        job.name,
                        occurrence.data_date,
                        ", ".join(unmet),
                        extra={"job": job.name, "event": "job.blocked"},
                    )
                    return JobRunStatus.BLOCKED
            return self._attempts(job, occurrence, stamp)

    def _attempts(self, job: JobSpec, occurrence: Occurrence, stamp: RunStamp) -> JobRunStatus:
        argv = job.argv(occurrence.data_date)
        for attempt in range(1, job.retry.attempts + 1):
            delay = job.retry.delay_before(attempt)
            self._hold(delay)
            if delay:
                _log.info(
                    "job %s: attempt %d in %.0f s",
                    job.name,
                    attempt,
                    delay,
                    extra={"job": job.name, "event": "job.retry", "delay_seconds": delay},
                )
                self.sleeper(delay)
            outcome = self._attempt(job, occurrence, stamp, attempt, argv)
            if outcome.ok:
                return JobRunStatus.SUCCEEDED
        _log.error(
            "job %s for %s failed after %d attempt(s): %s",
            job.name,
            occurrence.data_date,
            job.retry.attempts,
            outcome.output_tail[-300:],
            extra={"job": job.name, "event": "job.failed", "exit_code": outcome.exit_code},
        )
        return JobRunStatus.FAILED

    def _attempt(
        self,
        job: JobSpec,
        occurrence: Occurrence,
        stamp: RunStamp,
        attempt: int,
        argv: list[str],
    ) -> CommandOutcome:
        started = self.clock()
        JOB_LAG.labels(job=job.name).set(
            max((started - occurrence.scheduled_for).total_seconds(), 0.0)
        )
        run_id = self.runs.start(stamp, attempt, started)
        _log.info(
            "job %s for %s: attempt %d: puhui %s",
            job.name,
            occurrence.data_date,
            attempt,
            " ".join(argv),
            extra={"job": job.name, "event": "job.start", "attempt": attempt},
        )
        wall = time.perf_counter()
        try:
            outcome = self.runner.run(argv, work_id=stamp.work_id, timeout=job.timeout_seconds)
        except Exception as error:  # a runner crash is a failed attempt, not ours
            outcome = CommandOutcome(exit_code=1, output_tail=f"runner error: {error}")
        except BaseException:  # stopped (SIGTERM, Ctrl-C): say so in the record, then stop
            self.runs.finish(
                run_id,
                status=JobRunStatus.FAILED,
                ended_at=self.clock(),
                exit_code=INTERRUPTED_EXIT_CODE,
                rows=RowCounts(),
                message="interrupted: the scheduler was stopped during this attempt",
            )
            raise
        seconds = time.perf_counter() - wall
        status = JobRunStatus.SUCCEEDED if outcome.ok else JobRunStatus.FAILED
        ended = self.clock()
        self.runs.finish(
            run_id,
            status=status,
            ended_at=ended,
            exit_code=outcome.exit_code,
            rows=outcome.rows,
            message=None if outcome.ok else outcome.output_tail,
        )
        JOB_RUNS.labels(job=job.name, status=status.value).inc()
        JOB_DURATION.labels(job=job.name).observe(seconds)
        if outcome.ok:
            JOB_LAST_SUCCESS.labels(job=job.name).set(ended.timestamp())
        _log.info(
            "job %s for %s: attempt %d %s (exit %d)",
            job.name,
            occurrence.data_date,
            attempt,
            status.value,
            outcome.exit_code,
            extra={
                "job": job.name,
                "event": "job.end",
                "attempt": attempt,
                "status": status.value,
                "rows_in": outcome.rows.rows_in,
                "rows_out": outcome.rows.rows_out,
            },
        )
        return outcome
