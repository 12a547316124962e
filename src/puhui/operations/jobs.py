"""Jobs declared in configuration (作业配置): what runs when, on which data date, after what.

A jobs file (YAML) names each job, its cron expression (bank local time), the ``puhui``
command it runs with a ``{date}`` placeholder for its data date, the rule that turns the day
it runs into that data date, the jobs it waits for, and how it retries. Everything is
validated on load with errors that name the job and field; the dependency graph must be
acyclic. Pure apart from ``load_jobs`` reading the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from puhui.errors import PuhuiError

DATE_PLACEHOLDER = "{date}"
DEFAULT_JOBS_FILE = "default_jobs.yaml"


class JobConfigError(PuhuiError):
    """The jobs file is malformed: bad cron, unknown dependency, a cycle, a bad command."""


class DataDateRule(StrEnum):
    """How the day a job runs becomes the data date it works on (数据日期)."""

    SAME_DAY = "same_day"
    PREVIOUS_DAY = "previous_day"
    FIRST_OF_MONTH = "first_of_month"
    FIRST_OF_PREVIOUS_MONTH = "first_of_previous_month"


def data_date_for(rule: DataDateRule, run_day: date) -> date:
    """The data date a run on ``run_day`` works on under ``rule``."""
    if rule is DataDateRule.SAME_DAY:
        return run_day
    if rule is DataDateRule.PREVIOUS_DAY:
        return run_day - timedelta(days=1)
    first = run_day.replace(day=1)
    if rule is DataDateRule.FIRST_OF_MONTH:
        return first
    return (first - timedelta(days=1)).replace(day=1)


class RetryPolicy(BaseModel):
    """Attempts and exponential backoff between them (重试与退避)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=3, ge=1, le=20)
    backoff_seconds: float = Field(default=60.0, ge=0)
    factor: float = Field(default=2.0, ge=1.0)
    max_backoff_seconds: float = Field(default=1800.0, ge=0)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2, 3, ...): base × factor^(attempt−2), capped."""
        if attempt <= 1:
            return 0.0
        return min(self.backoff_seconds * self.factor ** (attempt - 2), self.max_backoff_seconds)


class JobSpec(BaseModel):
    """One scheduled job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    description: str = ""
    cron: str
    command: tuple[str, ...] = Field(min_length=1)
    data_date: DataDateRule = DataDateRule.SAME_DAY
    depends_on: tuple[str, ...] = ()
    retry: RetryPolicy = RetryPolicy()
    timeout_seconds: float = Field(default=6 * 3600, gt=0)
    catch_up_days: int | None = Field(default=None, ge=0, le=366)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"cron expression {value!r} is not valid")
        return value

    @field_validator("command")
    @classmethod
    def _puhui_argv(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if value[0] == "puhui":
            raise ValueError("command is the argv after `puhui`; drop the leading 'puhui'")
        for part in value:
            stripped = part.replace(DATE_PLACEHOLDER, "")
            if "{" in stripped or "}" in stripped:
                raise ValueError(f"command part {part!r}: the only placeholder is {{date}}")
        return value

    def argv(self, data_day: date) -> list[str]:
        """The command for one data date, ``{date}`` filled in as YYYY-MM-DD."""
        return [part.replace(DATE_PLACEHOLDER, data_day.isoformat()) for part in self.command]


class JobsConfig(BaseModel):
    """The whole jobs file: time zone, catch-up window and the jobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Asia/Shanghai"
    catch_up_days: int = Field(default=7, ge=0, le=366)
    jobs: tuple[JobSpec, ...] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @model_validator(mode="after")
    def _graph(self) -> JobsConfig:
        names = [job.name for job in self.jobs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"job names must be unique; repeated: {', '.join(duplicates)}")
        for job in self.jobs:
            unknown = [dep for dep in job.depends_on if dep not in names]
            if unknown:
                raise ValueError(f"job {job.name!r} depends on unknown job(s) {unknown}")
            if job.name in job.depends_on:
                raise ValueError(f"job {job.name!r} depends on itself")
        topological_order(self.jobs)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def job(self, name: str) -> JobSpec:
        """The job called ``name``; the error lists the known ones."""
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(job.name for job in self.jobs)
        raise JobConfigError(f"no job named {name!r}; the jobs file has: {known}")

    def catch_up_for(self, job: JobSpec) -> int:
        return self.catch_up_days if job.catch_up_days is None else job.catch_up_days

    def config_hash(self) -> str:
        """sha256 of the validated configuration: two runs with equal hashes ran the same jobs."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def topological_order(jobs: Sequence[JobSpec]) -> list[str]:
    """Job names with every job after the jobs it depends on; ties keep the file's order.

    Raises ``ValueError`` naming the jobs on a cycle.
    """
    position = {job.name: index for index, job in enumerate(jobs)}
    waiting = {job.name: set(job.depends_on) for job in jobs}
    ordered: list[str] = []
    while waiting:
        ready = sorted((name for name, deps in waiting.items() if not deps), key=position.get)
        if not ready:
            raise ValueError(f"job dependencies form a cycle among: {', '.join(sorted(waiting))}")
        for name in ready:
            ordered.append(name)
            del waiting[name]
        for deps in waiting.values():
            deps.difference_update(ready)
    return ordered


def parse_jobs(document: Mapping[str, Any], source: str) -> JobsConfig:
    """Validate a parsed jobs document; ``source`` names it in errors."""
    try:
        return JobsConfig.model_validate(document)
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            where = _location(document, problem["loc"])
            problems.append(f"{where}: {problem['msg']}")
        raise JobConfigError(f"jobs file {source}: " + "; ".join(problems)) from error


def _location(document: Mapping[str, Any], loc: Sequence[Any]) -> str:
    """``jobs[2] (alarm_scan).cron`` rather than pydantic's bare tuple."""
    parts: list[str] = []
    node: Any = document
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            name = node[key].get("name") if isinstance(node[key], Mapping) else None
            parts[-1] = f"{parts[-1]}[{key}]" + (f" ({name})" if name else "")
            node = node[key]
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, Mapping) else None
    return ".".join(parts) or "(top level)"


def load_jobs(path: Path | None = None) -> JobsConfig:
    """The jobs file at ``path``, or the packaged default schedule."""
    if path is None:
        text = resources.files("puhui.operations").joinpath(DEFAULT_JOBS_FILE).read_text("utf-8")
        source = f"(packaged) {DEFAULT_JOBS_FILE}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise JobConfigError(f"cannot read jobs file {path}: {error.strerror}") from error
        source = str(path)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise JobConfigError(f"jobs file {source} is not valid YAML: {error}") from error
    if not isinstance(document, Mapping):
        raise JobConfigError(f"jobs file {source} must be a mapping with a 'jobs' list")
    return parse_jobs(document, source)
