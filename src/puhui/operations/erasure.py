"""Deleting a person's data on request (个人信息删除), where the law allows, itself audited.

A person (by identity number) appears in the store in three places: consent grants that name
them, credit-bureau queries about them, and applications made under those consents. On a
valid request each is handled by what the law lets the bank do:

- records still inside their retention period (a legal obligation: query records and the
  authorizations behind them must be kept) are kept, and the request says until when;
- everything else goes now: credit-bureau query records past their period are deleted, the
  person's identity number is cleared from the consent look-up column, and applications that
  have ended lose their phone, device and IP fields;
- the signed consent payload inside the hash-chained consent log is never edited: it is the
  evidence that the bank was authorized, and editing it would break the chain that proves
  every later consent. It is listed as kept, with that reason.

The request is recorded in ``erasure_request`` (identity number masked) and in the audit log as
``person.forget``, in the same transaction as the changes; a request reference can be
processed once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from puhui.data.identifiers import is_valid_id_number, mask_id_number
from puhui.data.store.audit import append_audit
from puhui.data.store.consent_tables import BureauQuery, ConsentLogEntry
from puhui.data.store.operations_tables import ErasureOutcome, ErasureRequest
from puhui.data.store.origination_tables import LoanApplication
from puhui.errors import PuhuiError
from puhui.operations.retention import (
    APPLICATION_PERSONAL_FIELDS,
    TERMINAL_STATES,
    RetentionPolicy,
)

SIGNED_RECORD_REASON = (
    "signed consent record in the hash-chained consent log: evidence of authorization "
    "(征信授权), kept for its retention period and never edited, since editing would break "
    "the chain that proves every later consent"
)


class ErasureRequestError(PuhuiError):
    """An erasure request is invalid: bad identity number, empty reference, already done."""


@dataclass(frozen=True)
class ErasureRequestInput:
    """What the bank received: whose data, under which reference and legal basis, when."""

    person_id: str
    request_ref: str
    legal_basis: str
    received_at: datetime
    performed_by: str
    performed_by_role: str = "admin"


@dataclass
class ErasureResult:
    """What was redacted and what was kept (with why and until when)."""

    outcome: ErasureOutcome
    redacted: dict[str, int] = field(default_factory=dict)
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_detail(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "redacted": self.redacted, "kept": self.kept}


def forget_person(
    sessions: sessionmaker[Session],
    request: ErasureRequestInput,
    policy: RetentionPolicy,
    *,
    now: datetime,
) -> ErasureResult:
    """Redact what may go, keep what must stay, record and audit the request."""
    _validate(request)
    person = request.person_id.upper()
    masked = mask_id_number(person)
    with sessions.begin() as session:
        if session.execute(
            select(ErasureRequest.id).where(ErasureRequest.request_ref == request.request_ref)
        ).first():
            raise ErasureRequestError(
                f"erasure request {request.request_ref!r} was already processed"
            )
        result = ErasureResult(outcome=ErasureOutcome.NOTHING_FOUND)
        consent_ids = _consents(session, person, policy, now, result)
        _bureau_queries(session, person, policy, now, result)
        _applications(session, consent_ids, result)
        found = sum(result.redacted.values()) + sum(k["count"] for k in result.kept.values())
        if found:
            result.outcome = ErasureOutcome.PARTIAL if result.kept else ErasureOutcome.ERASED
        session.add(
            ErasureRequest(
                request_ref=request.request_ref,
                received_at=request.received_at,
                performed_at=now,
                performed_by=request.performed_by,
                subject_masked=masked,
                legal_basis=request.legal_basis,
                outcome=result.outcome.value,
                detail=result.as_detail(),
            )
        )
        append_audit(
            session,
            actor=request.performed_by,
            actor_role=request.performed_by_role,
            action="person.forget",
            subject_type="erasure_request",
            subject_id=request.request_ref,
            purpose=request.legal_basis[:200],
            detail={"subject": masked, **result.as_detail()},
            occurred_at=now,
        )
    return result


def _validate(request: ErasureRequestInput) -> None:
    if not is_valid_id_number(request.person_id.upper()):
        raise ErasureRequestError(
            f"identity number {mask_id_number(request.person_id)} is not a valid GB 11643 number"
        )
    if not request.request_ref.strip() or len(request.request_ref) > 64:
        raise ErasureRequestError("request reference must be 1 to 64 characters")
    if not request.legal_basis.strip():
        raise ErasureRequestError("an erasure request needs its legal basis (e.g. 个保法第47条)")


def _consents(
    session: Session,
    person: str,
    policy: RetentionPolicy,
    now: datetime,
    result: ErasureResult,
) -> list[str]:
    """Consent ids naming the person; look-ups past their hold are cleared, the rest kept."""
    rows = session.execute(
        select(ConsentLogEntry.id, ConsentLogEntry.subject_id, ConsentLogEntry.valid_until).where(
            ConsentLogEntry.subject_person_id == person
        )
    ).all()
    hold = timedelta(days=policy.consents_days)
    releasable = [row.id for row in rows if row.valid_until and row.valid_until + hold <= now]
    held = [row for row in rows if row.id not in set(releasable)]
    _clear(session, ConsentLogEntry, releasable, result, "consent_log.subject_person_id")
    if held:
        until = max((row.valid_until or now) + hold for row in held)
        result.kept["consent_log.subject_person_id"] = {
            "count": len(held),
            "reason": "consent still valid or inside its retention period (征信授权留存)",
            "until": until.date().isoformat(),
        }
    if rows:
        result.kept["consent_log.detail"] = {
            "count": len(rows),
            "reason": SIGNED_RECORD_REASON,
            "until": "end of the consent log's retention (archived with the log, never edited)",
        }
    return sorted({row.subject_id for row in rows})


def _bureau_queries(
    session: Session,
    person: str,
    policy: RetentionPolicy,
    now: datetime,
    result: ErasureResult,
) -> None:
    rows = session.execute(
        select(BureauQuery.id, BureauQuery.queried_at).where(
            BureauQuery.subject_person_id == person
        )
    ).all()
    hold = timedelta(days=policy.bureau_reports_days)
    releasable = [row.id for row in rows if row.queried_at + hold <= now]
    held = [row for row in rows if row.queried_at + hold > now]
    if releasable:
        session.execute(
            delete(BureauQuery)
            .where(BureauQuery.id.in_(releasable))
            .execution_options(synchronize_session=False)
        )
        result.redacted["bureau_query (deleted)"] = len(releasable)
    if held:
        result.kept["bureau_query"] = {
            "count": len(held),
            "reason": "credit-bureau query record inside its retention period (查询记录留存)",
            "until": max(row.queried_at + hold for row in held).date().isoformat(),
        }


def _applications(session: Session, consent_ids: Sequence[str], result: ErasureResult) -> None:
    """Applications made under the person's consents: ended ones lose contact and device
    fields now; live ones keep them while the contract needs them."""
    if not consent_ids:
        return
    rows = session.execute(
        select(LoanApplication.application_id, LoanApplication.state).where(
            LoanApplication.consent_id.in_(list(consent_ids))
        )
    ).all()
    ended = [row.application_id for row in rows if row.state in TERMINAL_STATES]
    live = [row.application_id for row in rows if row.state not in TERMINAL_STATES]
    if ended:
        session.execute(
            update(LoanApplication)
            .where(LoanApplication.application_id.in_(ended))
            .values(dict.fromkeys(APPLICATION_PERSONAL_FIELDS))
            .execution_options(synchronize_session=False)
        )
        result.redacted["loan_application.contact_and_device"] = len(ended)
    if live:
        result.kept["loan_application.contact_and_device"] = {
            "count": len(live),
            "reason": "application or loan still in progress (合同履行所必需)",
            "until": "the application ends; then the retention job clears it",
        }


def _clear(
    session: Session, table: type[Any], ids: Sequence[int], result: ErasureResult, label: str
) -> None:
    if not ids:
        return
    session.execute(
        update(table)
        .where(table.id.in_(list(ids)))
        .values(subject_person_id=None)
        .execution_options(synchronize_session=False)
    )
    result.redacted[label] = len(ids)
