"""Retention per data class and a person's erasure: what goes, what stays, and the audit."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from operations_factories import (
    add_application,
    add_bureau_query,
    add_login_attempts,
    add_reference,
    grant,
    keyring_of,
    migrated,
    person_id,
    uscc,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.consent.service import ConsentService
from puhui.actions.consent.signing import Signer
from puhui.data.store.access_tables import LoginAttempt
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.consent_tables import BureauQuery, ConsentLogEntry
from puhui.data.store.operations_tables import ErasureRequest
from puhui.data.store.origination_tables import LoanApplication
from puhui.data.store.tables import AuditEvent
from puhui.operations.erasure import ErasureRequestError, ErasureRequestInput, forget_person
from puhui.operations.retention import RetentionPolicy, enforce_retention, load_retention

NOW = datetime(2026, 7, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=6 * 365)
RECENT = NOW - timedelta(days=30)
POLICY = RetentionPolicy(
    applications_days=1825, bureau_reports_days=1825, consents_days=1825, logs_days=365
)
SIGNER = Signer.generate("k-test")


def application(sessions: sessionmaker[Session], application_id: str) -> LoanApplication:
    with sessions() as session:
        row = session.get(LoanApplication, application_id)
        assert row is not None
        return row


def audit_entries(sessions: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def ledger_ok(sessions: sessionmaker[Session]) -> bool:
    return ConsentService(sessions, keyring_of(SIGNER), clock=lambda: NOW).verify().ok


def test_packaged_retention_defaults_load() -> None:
    policy = load_retention()
    assert policy.logs_days < policy.bureau_reports_days


def test_retention_redacts_and_deletes_only_what_is_past_its_period(tmp_path: Path) -> None:
    _engine, sessions = migrated(tmp_path / "store.db")
    add_reference(sessions)
    old_person, new_person = person_id(1), person_id(2)
    old_consent = grant(sessions, SIGNER, person=old_person, firm=uscc(1), at=OLD)
    grant(sessions, SIGNER, person=new_person, firm=uscc(2), at=RECENT)
    old_declined = add_application(
        sessions, firm=uscc(1), consent_id=old_consent, state="declined", at=OLD
    )
    old_live = add_application(sessions, firm=uscc(1), consent_id=None, state="repaying", at=OLD)
    recent_declined = add_application(
        sessions, firm=uscc(2), consent_id=None, state="declined", at=RECENT
    )
    add_bureau_query(sessions, person=old_person, at=OLD, consent_id=old_consent)
    add_bureau_query(sessions, person=new_person, at=RECENT, consent_id=None)
    add_login_attempts(sessions, [OLD, NOW - timedelta(days=400), RECENT])
    logs = tmp_path / "logs"
    logs.mkdir()
    stale, fresh = logs / "api.log.1", logs / "api.log"
    stale.write_text("old"), fresh.write_text("new")
    os.utime(stale, (OLD.timestamp(), OLD.timestamp()))

    report = enforce_retention(sessions, POLICY, now=NOW, log_dir=logs)

    assert report.applications_redacted == 1
    assert application(sessions, old_declined).device_id is None
    assert application(sessions, old_declined).decision == {"score": 612, "reasons": ["纳税稳定"]}
    assert application(sessions, old_live).device_id == "device-1"  # loan still running
    assert application(sessions, recent_declined).phone_hash is not None
    with sessions() as session:
        queries = {q.queried_at: q.subject_person_id for q in session.scalars(select(BureauQuery))}
        lookups = [c.subject_person_id for c in session.scalars(select(ConsentLogEntry))]
        attempts = session.scalars(select(LoginAttempt.attempted_at)).all()
    assert list(queries.values()) == [new_person]
    assert report.bureau_queries_deleted == 1
    assert lookups.count(None) == 1 and new_person in lookups
    assert report.log_rows_deleted["login_attempt"] == 2 and len(attempts) == 1
    assert not stale.exists() and fresh.exists() and report.log_files_deleted == 1
    # The chains still verify: nothing hashed was touched; the enforcement itself is audited.
    assert ledger_ok(sessions)
    with sessions() as session:
        assert verify_audit_chain(session).ok
    (entry,) = audit_entries(sessions, "retention.enforce")
    assert entry.detail["bureau_queries_deleted"] == 1
    assert entry.detail["log_rows_deleted"]["login_attempt"] == 2
    # Idempotent: a second run finds nothing more to do.
    assert enforce_retention(sessions, POLICY, now=NOW, log_dir=logs).total == 0


def test_forget_person_redacts_what_the_law_allows_keeps_the_rest_and_is_audited(
    tmp_path: Path,
) -> None:
    _engine, sessions = migrated(tmp_path / "store.db")
    add_reference(sessions)
    person, bystander = person_id(3), person_id(4)
    old_consent = grant(sessions, SIGNER, person=person, firm=uscc(3), at=OLD)
    new_consent = grant(sessions, SIGNER, person=person, firm=uscc(3), at=RECENT)
    grant(sessions, SIGNER, person=bystander, firm=uscc(4), at=RECENT)
    ended = add_application(
        sessions, firm=uscc(3), consent_id=new_consent, state="withdrawn", at=RECENT
    )
    live = add_application(
        sessions, firm=uscc(3), consent_id=new_consent, state="offered", at=RECENT
    )
    add_bureau_query(sessions, person=person, at=OLD, consent_id=old_consent)
    add_bureau_query(sessions, person=person, at=RECENT, consent_id=new_consent)

    result = forget_person(
        sessions,
        ErasureRequestInput(
            person_id=person,
            request_ref="DEL-2026-0001",
            legal_basis="个人信息保护法第四十七条",
            received_at=NOW - timedelta(days=2),
            performed_by="ADM001",
        ),
        POLICY,
        now=NOW,
    )

    assert result.outcome.value == "partial"
    assert result.redacted == {
        "consent_log.subject_person_id": 1,
        "bureau_query (deleted)": 1,
        "loan_application.contact_and_device": 1,
    }
    assert result.kept["bureau_query"]["count"] == 1
    assert result.kept["consent_log.detail"]["count"] == 2
    assert application(sessions, ended).phone_masked is None
    assert application(sessions, live).phone_masked == "138****8000"
    with sessions() as session:
        remaining = session.scalars(
            select(BureauQuery.id).where(BureauQuery.subject_person_id == person)
        ).all()
        bystander_rows = session.scalars(
            select(ConsentLogEntry.id).where(ConsentLogEntry.subject_person_id == bystander)
        ).all()
        request = session.scalars(select(ErasureRequest)).one()
    assert len(remaining) == 1 and len(bystander_rows) == 1
    assert request.subject_masked == person[:6] + "********" + person[-4:]
    assert ledger_ok(sessions)
    (entry,) = audit_entries(sessions, "person.forget")
    assert entry.subject_id == "DEL-2026-0001" and entry.actor == "ADM001"
    assert person not in str(entry.detail) and person not in str(request.detail)
    with sessions() as session:
        assert verify_audit_chain(session).ok

    with pytest.raises(ErasureRequestError, match="already processed"):
        forget_person(
            sessions,
            ErasureRequestInput(person, "DEL-2026-0001", "重复", NOW, "ADM001"),
            POLICY,
            now=NOW,
        )


def test_forget_person_refuses_an_invalid_identity_number_without_printing_it(
    tmp_path: Path,
) -> None:
    _engine, sessions = migrated(tmp_path / "store.db")
    wrong = person_id(5)[:17] + ("0" if person_id(5)[17] != "0" else "1")

    with pytest.raises(ErasureRequestError) as raised:
        forget_person(
            sessions, ErasureRequestInput(wrong, "DEL-1", "个保法", NOW, "ADM001"), POLICY, now=NOW
        )
    assert wrong not in str(raised.value)
    assert audit_entries(sessions, "person.forget") == []
