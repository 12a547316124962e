"""Credit-report authorization in the operational store (征信授权与查询记录).

- ``consent_log``: signed consent grants and revocations, hash-chained like ``audit_event``
  (same hashing, ``audit_chain.py``); the denormalised subject and window columns are for
  look-ups only, the signed ``detail.payload`` is what counts.
- ``identity_verification_attempt``: every three-factor and face check, for rate limiting,
  lock-out and audit. ``flow_key`` is a hash of the subject, so the table holds no identity
  numbers; evidence is a result id and a hash, never an image.
- ``bureau_query``: every query the bureau gateway served or refused: who, when, purpose,
  consent id, result size.

The tables sit on the same ``MetaData`` as ``tables.py``; migration ``0003`` creates them.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from puhui.data.store.engine import StoreError
from puhui.data.store.tables import MYSQL_TABLE_OPTIONS, Base, BigIntPrimaryKey, one_of
from puhui.data.store.types import UtcDateTime


class ConsentLogAction(StrEnum):
    GRANT = "consent.grant"
    REVOKE = "consent.revoke"


class AttemptKind(StrEnum):
    THREE_FACTOR = "three_factor"
    FACE = "face"


class AttemptOutcome(StrEnum):
    """``passed``; the subject's failures (``mismatch``, ``no_face``, ``not_live``); ``error`` when
    the provider could not answer; ``refused`` when the flow was locked or rate-limited."""

    PASSED = "passed"
    MISMATCH = "mismatch"
    NO_FACE = "no_face"
    NOT_LIVE = "not_live"
    ERROR = "error"
    REFUSED = "refused"


class ReportType(StrEnum):
    ENTERPRISE = "enterprise_report"
    PERSONAL = "personal_report"


class QueryOutcome(StrEnum):
    SERVED = "served"
    REFUSED = "refused"


class ConsentLogEntry(Base):
    """One signed consent grant or revocation, chained to the previous entry by hash."""

    __tablename__ = "consent_log"
    __table_args__ = (
        CheckConstraint(one_of("action", ConsentLogAction), name="action"),
        UniqueConstraint("prev_hash"),
        Index(None, "subject_id"),
        Index(None, "subject_uscc"),
        Index(None, "subject_person_id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON())
    subject_uscc: Mapped[str | None] = mapped_column(String(18), nullable=True)
    subject_person_id: Mapped[str | None] = mapped_column(String(18), nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    key_id: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class VerificationAttempt(Base):
    """One identity check (three-factor or face) and how it ended."""

    __tablename__ = "identity_verification_attempt"
    __table_args__ = (
        CheckConstraint(one_of("kind", AttemptKind), name="kind"),
        CheckConstraint(one_of("outcome", AttemptOutcome), name="outcome"),
        Index(None, "flow_key", "attempted_at"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    flow_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    result_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    evidence_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    staff_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)


class BureauQuery(Base):
    """One credit-bureau query through the gateway, served or refused.

    ``staff_id`` has no foreign key on purpose: a refused query by an unknown id is logged too.
    """

    __tablename__ = "bureau_query"
    __table_args__ = (
        CheckConstraint(one_of("report_type", ReportType), name="report_type"),
        CheckConstraint(one_of("outcome", QueryOutcome), name="outcome"),
        Index(None, "staff_id", "queried_at"),
        Index(None, "queried_at"),
        Index(None, "consent_id"),
        Index(None, "subject_uscc"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    queried_at: Mapped[datetime] = mapped_column(UtcDateTime())
    staff_id: Mapped[str] = mapped_column(String(32))
    staff_branch_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    report_type: Mapped[str] = mapped_column(String(32))
    subject_uscc: Mapped[str | None] = mapped_column(String(18), nullable=True)
    subject_person_id: Mapped[str | None] = mapped_column(String(18), nullable=True)
    purpose: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[date | None] = mapped_column(Date(), nullable=True)
    consent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    refusal_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    result_size: Mapped[int] = mapped_column(Integer())


class ConsentAppendOnlyError(StoreError):
    """Someone tried to change or delete a consent log, attempt or query log row via the ORM."""


@event.listens_for(ConsentLogEntry, "before_update")
@event.listens_for(ConsentLogEntry, "before_delete")
@event.listens_for(VerificationAttempt, "before_update")
@event.listens_for(VerificationAttempt, "before_delete")
@event.listens_for(BureauQuery, "before_update")
@event.listens_for(BureauQuery, "before_delete")
def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    raise ConsentAppendOnlyError(
        f"{target.__tablename__} is append-only; refusing to change or delete row id={target.id}"
    )
