"""When jobs are due (调度计算): cron occurrences, catch-up of missed days, dependencies.

Pure functions over the jobs configuration and times; the scheduler asks the run store what
has succeeded and hands the answers in. Cron expressions are read in the configuration's time
zone (the bank's local time); every time returned is UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from puhui.operations.jobs import JobsConfig, JobSpec, data_date_for, topological_order


@dataclass(frozen=True)
class Occurrence:
    """One scheduled run of one job: when it was due, the local day and its data date."""

    job_name: str
    scheduled_for: datetime
    run_day: date
    data_date: date
    order: int

    @property
    def sort_key(self) -> tuple[datetime, int]:
        """Earlier first; at the same time, a job after the jobs it depends on."""
        return (self.scheduled_for, self.order)


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"time {moment.isoformat()} has no time zone")
    return moment.astimezone(zone)


def occurrence_at(config: JobsConfig, job: JobSpec, scheduled_for: datetime) -> Occurrence:
    """The occurrence of ``job`` at ``scheduled_for`` (any zone), with its data date."""
    local = _local(scheduled_for, config.zone)
    order = topological_order(config.jobs).index(job.name)
    return Occurrence(
        job_name=job.name,
        scheduled_for=local.astimezone(UTC),
        run_day=local.date(),
        data_date=data_date_for(job.data_date, local.date()),
        order=order,
    )


def occurrences_between(
    config: JobsConfig, job: JobSpec, after: datetime, until: datetime
) -> list[Occurrence]:
    """Occurrences of ``job`` strictly after ``after`` and at or before ``until``."""
    found: list[Occurrence] = []
    schedule = croniter(job.cron, _local(after, config.zone))
    while True:
        moment: datetime = schedule.get_next(datetime)
        if moment > until:
            return found
        found.append(occurrence_at(config, job, moment))


def latest_at_or_before(config: JobsConfig, job: JobSpec, moment: datetime) -> datetime:
    """The newest scheduled time of ``job`` at or before ``moment`` (UTC)."""
    schedule = croniter(job.cron, _local(moment, config.zone) + timedelta(seconds=1))
    previous: datetime = schedule.get_prev(datetime)
    return previous.astimezone(UTC)


def next_after(config: JobsConfig, moment: datetime) -> datetime:
    """The earliest scheduled time of any job strictly after ``moment`` (UTC)."""
    return min(
        croniter(job.cron, _local(moment, config.zone)).get_next(datetime).astimezone(UTC)
        for job in config.jobs
    )


def scheduled_on(config: JobsConfig, job: JobSpec, run_day: date) -> Occurrence:
    """The run of ``job`` for ``run_day``: its first cron time that day, else local midnight.

    Used when an outside scheduler (or an operator) triggers a job for a given day, so the
    run lines up with the one the built-in scheduler would have made.
    """
    midnight = datetime.combine(run_day, time(0), tzinfo=config.zone)
    same_day = occurrences_between(
        config, job, midnight - timedelta(seconds=1), midnight + timedelta(days=1, seconds=-1)
    )
    return same_day[0] if same_day else occurrence_at(config, job, midnight)


def due_occurrences(
    config: JobsConfig,
    now: datetime,
    last_success: Mapping[str, datetime | None],
) -> list[Occurrence]:
    """Every occurrence up to ``now`` not yet covered by a success, oldest first.

    A job catches up from its latest successful run; a job that never succeeded looks back
    ``catch_up_days`` (its own or the file's), and further when a job depending on it needs an
    older run of it (a daily alarm scan needs the month's feature build even when the first of
    the month is outside the feature job's own window). Ties in time go in dependency order.
    """
    order = topological_order(config.jobs)
    dependents: dict[str, list[str]] = {name: [] for name in order}
    for job in config.jobs:
        for dependency in job.depends_on:
            dependents[dependency].append(job.name)
    due: dict[str, list[Occurrence]] = {}
    for name in reversed(order):  # dependents before the jobs they depend on
        job = config.job(name)
        since = last_success.get(name)
        if since is None:
            since = now - timedelta(days=config.catch_up_for(job))
            for dependent in dependents[name]:
                if due[dependent]:
                    needed = latest_at_or_before(config, job, due[dependent][0].scheduled_for)
                    since = min(since, needed - timedelta(seconds=1))
        due[name] = occurrences_between(config, job, since, now)
    return sorted(
        (occurrence for found in due.values() for occurrence in found),
        key=lambda occurrence: occurrence.sort_key,
    )


def unmet_dependencies(
    config: JobsConfig,
    occurrence: Occurrence,
    succeeded: Callable[[str, datetime, datetime], bool],
) -> list[str]:
    """Dependencies of the occurrence's job whose latest run at or before it has not succeeded.

    ``succeeded(job, start, end)`` answers whether ``job`` has a successful run scheduled
    within ``[start, end]``.
    """
    job = config.job(occurrence.job_name)
    missing = []
    for dependency_name in job.depends_on:
        dependency = config.job(dependency_name)
        latest = latest_at_or_before(config, dependency, occurrence.scheduled_for)
        if not succeeded(dependency_name, latest, occurrence.scheduled_for):
            missing.append(dependency_name)
    return missing


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The last second of ``day`` in local time, as UTC."""
    return (datetime.combine(day, time(0), tzinfo=zone) + timedelta(days=1, seconds=-1)).astimezone(
        UTC
    )
