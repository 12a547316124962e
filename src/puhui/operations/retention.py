"""Retention rules per data class (数据保留) and the job that enforces them.

Four classes, each with its own period: applications, bureau reports, consents and logs. What
enforcement does differs by class on purpose:

- applications: terminal applications keep their decision (the record of a credit decision)
  but lose the applicant's phone, device and IP fields;
- bureau reports: query records (who asked, about whom, why, under which consent) are deleted
  once their period ends. They are not redacted instead: a served query is checked against
  the consent it cites (``puhui consent verify``), which needs its subject, and the consent it
  cites names the person anyway;
- consents: the look-up column naming the person is cleared; the signed, hash-chained record
  itself stays, because editing it would break the chain that proves every other consent;
- logs: job runs, login and identity-check attempts, expired sessions and log files are
  deleted outright.

The audit log is never shortened. Every enforcement appends one ``retention.enforce`` audit
entry with the cut-offs and counts, in the same transaction as the changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from puhui.data.store.access_tables import LoginAttempt, UserSession
from puhui.data.store.audit import SYSTEM_ACTOR, append_audit
from puhui.data.store.consent_tables import BureauQuery, ConsentLogEntry, VerificationAttempt
from puhui.data.store.operations_tables import JobRun
from puhui.data.store.origination_tables import ApplicationState, LoanApplication
from puhui.errors import PuhuiError

DEFAULT_RETENTION_FILE = "default_retention.yaml"
LOG_FILE_PATTERNS = ("*.log", "*.log.*", "*.jsonl")
# States after which an application's contact and device fields have served their purpose.
TERMINAL_STATES = (
    ApplicationState.DECLINED.value,
    ApplicationState.WITHDRAWN.value,
    ApplicationState.EXPIRED.value,
    ApplicationState.SETTLED.value,
)
APPLICATION_PERSONAL_FIELDS = ("phone_hash", "phone_masked", "device_id", "ip_address")


class RetentionConfigError(PuhuiError):
    """The retention file is malformed or a period is out of range."""


class RetentionPolicy(BaseModel):
    """Days each data class keeps its personal fields (or, for logs, its rows)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    applications_days: int = Field(default=1825, ge=1)
    bureau_reports_days: int = Field(default=1825, ge=1)
    consents_days: int = Field(default=1825, ge=1)
    logs_days: int = Field(default=365, ge=1)


@dataclass(frozen=True)
class Cutoffs:
    """The moment before which each class's data is due; pure arithmetic on the policy."""

    applications: datetime
    bureau_reports: datetime
    consents: datetime
    logs: datetime

    @classmethod
    def at(cls, policy: RetentionPolicy, now: datetime) -> Cutoffs:
        return cls(
            applications=now - timedelta(days=policy.applications_days),
            bureau_reports=now - timedelta(days=policy.bureau_reports_days),
            consents=now - timedelta(days=policy.consents_days),
            logs=now - timedelta(days=policy.logs_days),
        )


@dataclass(frozen=True)
class RetentionReport:
    """Rows (or files) changed per data class by one enforcement."""

    applications_redacted: int
    bureau_queries_deleted: int
    consent_lookups_redacted: int
    log_rows_deleted: Mapping[str, int]
    log_files_deleted: int

    @property
    def total(self) -> int:
        return (
            self.applications_redacted
            + self.bureau_queries_deleted
            + self.consent_lookups_redacted
            + sum(self.log_rows_deleted.values())
            + self.log_files_deleted
        )

    def as_detail(self) -> dict[str, Any]:
        return {
            "applications_redacted": self.applications_redacted,
            "bureau_queries_deleted": self.bureau_queries_deleted,
            "consent_lookups_redacted": self.consent_lookups_redacted,
            "log_rows_deleted": dict(self.log_rows_deleted),
            "log_files_deleted": self.log_files_deleted,
        }


def load_retention(path: Path | None = None) -> RetentionPolicy:
    """The retention file at ``path``, or the packaged defaults."""
    if path is None:
        text = (
            resources.files("puhui.operations").joinpath(DEFAULT_RETENTION_FILE).read_text("utf-8")
        )
        source = f"(packaged) {DEFAULT_RETENTION_FILE}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise RetentionConfigError(
                f"cannot read retention file {path}: {error.strerror}"
            ) from error
        source = str(path)
    try:
        return RetentionPolicy.model_validate(yaml.safe_load(text) or {})
    except (yaml.YAMLError, ValidationError) as error:
        raise RetentionConfigError(f"retention file {source}: {error}") from error


def redact_applications(session: Session, before: datetime) -> int:
    """Clear contact and device fields of terminal applications last changed before ``before``."""
    result = session.execute(
        update(LoanApplication)
        .where(
            LoanApplication.state.in_(TERMINAL_STATES),
            LoanApplication.updated_at < before,
            (LoanApplication.phone_hash.is_not(None))
            | (LoanApplication.phone_masked.is_not(None))
            | (LoanApplication.device_id.is_not(None))
            | (LoanApplication.ip_address.is_not(None)),
        )
        .values(dict.fromkeys(APPLICATION_PERSONAL_FIELDS))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def enforce_retention(
    sessions: sessionmaker[Session],
    policy: RetentionPolicy,
    *,
    now: datetime,
    log_dir: Path | None = None,
    actor: str = SYSTEM_ACTOR,
    actor_role: str = SYSTEM_ACTOR,
) -> RetentionReport:
    """Apply every class's rule as of ``now`` in one transaction, audited; returns the counts.

    Bulk SQL on purpose: ``bureau_query``, ``consent_log`` and the attempt tables refuse ORM
    edits, which protects them from application code; retention is the one deliberate,
    audited exception.
    """
    cutoffs = Cutoffs.at(policy, now)
    with sessions.begin() as session:
        applications = redact_applications(session, cutoffs.applications)
        bureau = _delete(session, BureauQuery, BureauQuery.queried_at < cutoffs.bureau_reports)
        consents = session.execute(
            update(ConsentLogEntry)
            .where(
                ConsentLogEntry.valid_until < cutoffs.consents,
                ConsentLogEntry.subject_person_id.is_not(None),
            )
            .values(subject_person_id=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        deleted = {
            "job_run": _delete(session, JobRun, JobRun.started_at < cutoffs.logs),
            "login_attempt": _delete(
                session, LoginAttempt, LoginAttempt.attempted_at < cutoffs.logs
            ),
            "identity_verification_attempt": _delete(
                session, VerificationAttempt, VerificationAttempt.attempted_at < cutoffs.logs
            ),
            "user_session": _delete(session, UserSession, UserSession.expires_at < cutoffs.logs),
        }
        files = _old_log_files(log_dir, cutoffs.logs) if log_dir is not None else []
        report = RetentionReport(
            applications_redacted=applications,
            bureau_queries_deleted=int(bureau or 0),
            consent_lookups_redacted=int(consents or 0),
            log_rows_deleted=deleted,
            log_files_deleted=len(files),
        )
        append_audit(
            session,
            actor=actor,
            actor_role=actor_role,
            action="retention.enforce",
            subject_type="retention",
            subject_id=now.date().isoformat(),
            purpose="数据保留 retention rules",
            detail={
                **report.as_detail(),
                "policy_days": policy.model_dump(),
                "cutoffs": {
                    "applications": cutoffs.applications,
                    "bureau_reports": cutoffs.bureau_reports,
                    "consents": cutoffs.consents,
                    "logs": cutoffs.logs,
                },
            },
            occurred_at=now,
        )
    # Files go only once the audited transaction has committed.
    for file in files:
        file.unlink(missing_ok=True)
    return report


def _delete(session: Session, table: type[Any], condition: Any) -> int:
    result = session.execute(
        delete(table).where(condition).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def _old_log_files(log_dir: Path, before: datetime) -> list[Path]:
    if not log_dir.is_dir():
        return []
    limit = before.timestamp()
    found = {
        path
        for pattern in LOG_FILE_PATTERNS
        for path in log_dir.rglob(pattern)
        if path.is_file() and path.stat().st_mtime < limit
    }
    return sorted(found)
