"""The scheduler: dependency order, retries with backoff, catch-up in order, exit codes.

A fake command runner and a fake clock: nothing is really run and nothing really waits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from operations_factories import migrated

from puhui.data.store.operations_tables import JobRun, JobTrigger
from puhui.observability.metrics import sample_value
from puhui.operations.exit_codes import ExitCode
from puhui.operations.jobs import JobsConfig, parse_jobs
from puhui.operations.lease import LeaseHeldError, StoreLease
from puhui.operations.report import RowCounts
from puhui.operations.runner import CommandOutcome
from puhui.operations.runs import RunStamp, RunStore
from puhui.operations.scheduler import Scheduler

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def config(**retry: object) -> JobsConfig:
    return parse_jobs(
        {
            "timezone": "Asia/Shanghai",
            "catch_up_days": 3,
            "jobs": [
                {
                    "name": "alarm",
                    "cron": "0 5 * * *",
                    "command": ["alarm", "scan", "--date", "{date}"],
                    "data_date": "previous_day",
                    "depends_on": ["ingest", "features"],
                },
                {
                    "name": "features",
                    "cron": "0 3 1 * *",
                    "command": ["features", "build", "--as-of", "{date}"],
                    "data_date": "first_of_month",
                    "depends_on": ["ingest"],
                },
                {
                    "name": "ingest",
                    "cron": "30 1 * * *",
                    "command": ["ingest-dir", "incoming/{date}"],
                    "data_date": "previous_day",
                    "retry": retry or {"attempts": 3, "backoff_seconds": 60, "factor": 2},
                },
            ],
        },
        "test jobs",
    )


@dataclass
class FakeClock:
    now: datetime
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeRunner:
    """Succeeds unless ``fail`` says otherwise for an argv; records every call."""

    fail: Callable[[Sequence[str], int], bool] = lambda _argv, _call: False
    rows: RowCounts = field(default_factory=lambda: RowCounts(rows_in=120, rows_out=118))
    calls: list[tuple[str, ...]] = field(default_factory=list)
    work_ids: list[str] = field(default_factory=list)

    def run(self, argv: Sequence[str], *, work_id: str, timeout: float) -> CommandOutcome:
        self.calls.append(tuple(argv))
        self.work_ids.append(work_id)
        if self.fail(argv, len(self.calls)):
            return CommandOutcome(2, output_tail="feed file incoming/2026-06-30 is missing")
        return CommandOutcome(0, rows=self.rows)


@pytest.fixture
def runs(tmp_path: Path) -> RunStore:
    _engine, sessions = migrated(tmp_path / "store.db")
    return RunStore(sessions)


def scheduler(runs: RunStore, runner: FakeRunner, clock: FakeClock, **retry: object) -> Scheduler:
    return Scheduler(
        config(**retry), runs, runner, code_version="test-1.0", clock=clock, sleeper=clock.sleep
    )


def stored(runs: RunStore) -> list[JobRun]:
    return list(reversed(runs.recent(limit=1000)))


def test_missed_days_catch_up_oldest_first_with_dependencies_before_dependents(
    runs: RunStore,
) -> None:
    clock = FakeClock(local(2026, 7, 3, 8))
    runner = FakeRunner()

    report = scheduler(runs, runner, clock).run_pass()

    assert runner.calls == [
        ("ingest-dir", "incoming/2026-06-30"),
        ("features", "build", "--as-of", "2026-07-01"),
        ("alarm", "scan", "--date", "2026-06-30"),
        ("ingest-dir", "incoming/2026-07-01"),
        ("alarm", "scan", "--date", "2026-07-01"),
        ("ingest-dir", "incoming/2026-07-02"),
        ("alarm", "scan", "--date", "2026-07-02"),
    ]
    assert report.exit_code is ExitCode.OK and len(report.succeeded) == 7
    assert clock.slept == []
    # Nothing left to do: a second pass runs nothing.
    assert scheduler(runs, runner, clock).run_pass().succeeded == []
    assert len(runner.calls) == 7


def test_a_never_run_monthly_dependency_is_caught_up_for_the_daily_job_needing_it(
    runs: RunStore,
) -> None:
    # The alarm's 3-day window starts on 30 June; the month's features (1 June) and the feed
    # they need come first, though both lie outside their own windows.
    clock = FakeClock(local(2026, 7, 2, 8))
    runner = FakeRunner()

    report = scheduler(runs, runner, clock).run_pass()

    assert report.exit_code is ExitCode.OK
    assert runner.calls[:2] == [
        ("ingest-dir", "incoming/2026-05-31"),
        ("features", "build", "--as-of", "2026-06-01"),
    ]
    assert [c[3] for c in runner.calls if c[0] == "alarm"] == [
        "2026-06-29",
        "2026-06-30",
        "2026-07-01",
    ]
    assert [c[3] for c in runner.calls if c[0] == "features"] == ["2026-06-01", "2026-07-01"]


def test_every_run_is_recorded_with_data_date_rows_and_versions(runs: RunStore) -> None:
    clock = FakeClock(local(2026, 7, 1, 2))
    runner = FakeRunner()
    job_scheduler = scheduler(runs, runner, clock)

    job_scheduler.run_pass()

    rows = stored(runs)
    latest = rows[-1]
    assert latest.job_name == "ingest" and latest.status == "succeeded"
    assert latest.data_date == date(2026, 6, 30)
    assert latest.scheduled_for == local(2026, 7, 1, 1, 30)
    assert (latest.rows_in, latest.rows_out) == (120, 118)
    assert latest.code_version == "test-1.0"
    assert latest.config_hash == job_scheduler.config.config_hash()
    assert latest.work_id == runner.work_ids[-1]
    assert latest.run_trigger == "schedule" and latest.ended_at is not None


def test_failed_run_retries_with_backoff_then_fails_and_blocks_its_dependents(
    runs: RunStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(local(2026, 7, 3, 8))
    runner = FakeRunner(fail=lambda argv, _call: argv[0] == "ingest-dir")
    before = sample_value("puhui_job_runs_total", {"job": "ingest", "status": "failed"})

    with caplog.at_level(logging.ERROR, logger="puhui.operations"):
        report = scheduler(runs, runner, clock).run_pass()

    # Three attempts of the oldest missed day, waiting 60 s then 120 s; later days wait.
    assert runner.calls == [("ingest-dir", "incoming/2026-06-30")] * 3
    assert clock.slept == [60.0, 120.0]
    assert report.exit_code is ExitCode.JOB_FAILED
    attempts = [(r.job_name, r.attempt, r.status) for r in stored(runs)]
    assert attempts[:3] == [
        ("ingest", 1, "failed"),
        ("ingest", 2, "failed"),
        ("ingest", 3, "failed"),
    ]
    assert {(name, status) for name, _, status in attempts[3:]} == {
        ("features", "blocked"),
        ("alarm", "blocked"),
    }
    assert "feed file incoming/2026-06-30 is missing" in (stored(runs)[2].message or "")
    assert any("failed after 3 attempt" in r.getMessage() for r in caplog.records)
    after = sample_value("puhui_job_runs_total", {"job": "ingest", "status": "failed"})
    assert after - before == 3


def test_a_later_attempt_that_succeeds_ends_the_retries(runs: RunStore) -> None:
    clock = FakeClock(local(2026, 7, 3, 5, 30))
    runner = FakeRunner(fail=lambda _argv, call: call <= 2)

    report = scheduler(runs, runner, clock, attempts=4, backoff_seconds=10, factor=3).run_pass()

    assert report.exit_code is ExitCode.OK
    assert clock.slept == [10.0, 30.0]
    assert [(r.attempt, r.status) for r in stored(runs)[:4]] == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
        (1, "succeeded"),
    ]


def test_after_a_failure_the_next_pass_catches_up_from_the_failed_day(runs: RunStore) -> None:
    clock = FakeClock(local(2026, 7, 3, 8))
    broken = FakeRunner(fail=lambda argv, _call: argv[0] == "ingest-dir")
    assert scheduler(runs, broken, clock).run_pass().exit_code is ExitCode.JOB_FAILED

    fixed = FakeRunner()
    report = scheduler(runs, fixed, clock).run_pass()

    assert report.exit_code is ExitCode.OK
    ingest_days = [call[1] for call in fixed.calls if call[0] == "ingest-dir"]
    assert ingest_days == ["incoming/2026-06-30", "incoming/2026-07-01", "incoming/2026-07-02"]
    assert fixed.calls.index(("features", "build", "--as-of", "2026-07-01")) < fixed.calls.index(
        ("alarm", "scan", "--date", "2026-06-30")
    )


def test_same_time_jobs_run_after_the_jobs_they_depend_on(runs: RunStore) -> None:
    same_time = parse_jobs(
        {
            "jobs": [
                {"name": "scan", "cron": "0 5 * * *", "command": ["a"], "depends_on": ["load"]},
                {"name": "load", "cron": "0 5 * * *", "command": ["b"]},
            ],
            "catch_up_days": 1,
        },
        "x",
    )
    runner = FakeRunner()
    clock = FakeClock(local(2026, 7, 1, 6))
    Scheduler(
        same_time, runs, runner, code_version="t", clock=clock, sleeper=clock.sleep
    ).run_pass()

    assert runner.calls == [("b",), ("a",)]


def test_run_until_a_date_wakes_for_each_occurrence_without_real_waiting(runs: RunStore) -> None:
    clock = FakeClock(local(2026, 7, 3, 23))
    runner = FakeRunner()

    report = scheduler(runs, runner, clock).run(until=date(2026, 7, 5))

    assert report.exit_code is ExitCode.OK
    assert [c[1] for c in runner.calls if c[0] == "ingest-dir"] == [
        "incoming/2026-06-30",  # caught up from the look-back window first
        "incoming/2026-07-01",
        "incoming/2026-07-02",
        "incoming/2026-07-03",  # then woken at each next scheduled time
        "incoming/2026-07-04",
    ]
    assert len(clock.slept) == 4 and clock.now <= local(2026, 7, 6)
    assert runner.calls[-1] == ("alarm", "scan", "--date", "2026-07-04")


def test_run_job_for_a_day_reports_blocked_ok_and_failed_exit_codes(runs: RunStore) -> None:
    clock = FakeClock(local(2026, 7, 2, 9))
    runner = FakeRunner()
    job_scheduler = scheduler(runs, runner, clock)

    assert job_scheduler.run_job("alarm", date(2026, 7, 2)) is ExitCode.BLOCKED
    assert runner.calls == []
    assert job_scheduler.run_job("ingest", date(2026, 7, 2)) is ExitCode.OK
    assert job_scheduler.run_job("features", date(2026, 7, 1)) is ExitCode.BLOCKED
    assert (
        job_scheduler.run_job("features", date(2026, 7, 1), check_dependencies=False) is ExitCode.OK
    )
    assert job_scheduler.run_job("alarm", date(2026, 7, 2)) is ExitCode.OK

    failing = scheduler(runs, FakeRunner(fail=lambda _a, _c: True), clock, attempts=2)
    assert failing.run_job("ingest", date(2026, 7, 3)) is ExitCode.JOB_FAILED
    manual = [r for r in stored(runs) if r.job_name == "ingest" and r.status == "succeeded"]
    assert manual[0].run_trigger == "manual"
    assert manual[0].scheduled_for == local(2026, 7, 2, 1, 30)


def test_an_attempt_left_running_by_a_crash_is_closed_as_failed_and_rerun(runs: RunStore) -> None:
    clock = FakeClock(local(2026, 7, 3, 8))
    crashed = scheduler(runs, FakeRunner(), clock)
    occurrence = crashed.due(clock())[0]
    stamp = RunStamp(
        "w-crash",
        occurrence.job_name,
        occurrence.scheduled_for,
        occurrence.data_date,
        JobTrigger.SCHEDULE,
        "t",
        "h",
    )
    runs.start(stamp, 1, clock() - timedelta(hours=8))  # timeout is 6 h

    runner = FakeRunner()
    assert scheduler(runs, runner, clock).run_pass().exit_code is ExitCode.OK

    first = stored(runs)[0]
    assert first.work_id == "w-crash" and first.status == "failed"
    assert "abandoned" in (first.message or "")
    assert runner.calls[0] == ("ingest-dir", "incoming/2026-06-30")


def test_a_second_scheduler_finds_the_lease_held_and_runs_nothing(tmp_path: Path) -> None:
    _engine, sessions = migrated(tmp_path / "lease.db")
    clock = FakeClock(local(2026, 7, 3, 8))
    first = StoreLease(sessions, clock, holder="host-a:1")
    second = StoreLease(sessions, clock, holder="host-b:2")
    first.hold(3600)
    runner = FakeRunner()
    blocked = Scheduler(
        config(),
        RunStore(sessions),
        runner,
        code_version="t",
        clock=clock,
        sleeper=clock.sleep,
        lease=second,
    )

    with pytest.raises(LeaseHeldError, match="host-a:1"):
        blocked.run(once=True)
    assert runner.calls == []

    first.hold(3600)  # the holder renews freely
    clock.now += timedelta(hours=2)  # ...then dies; the lease expires
    assert blocked.run(once=True).exit_code is ExitCode.OK
    assert runner.calls
    first.hold(60)  # released at the end of the run, so free again


def test_a_scheduler_stopped_mid_run_records_the_attempt_as_interrupted(runs: RunStore) -> None:
    class Stopped(FakeRunner):
        def run(self, argv: Sequence[str], *, work_id: str, timeout: float) -> CommandOutcome:
            raise KeyboardInterrupt

    clock = FakeClock(local(2026, 7, 3, 8))
    with pytest.raises(KeyboardInterrupt):
        scheduler(runs, Stopped(), clock).run_pass()

    (record,) = stored(runs)
    assert record.status == "failed" and record.exit_code == 130
    assert "interrupted" in (record.message or "")
