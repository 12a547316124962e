"""Small stores for the operations tests: consents, applications, bureau queries, runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.consent.records import ConsentScope, VerificationEvidence, VerificationKind
from puhui.actions.consent.service import ConsentService, GrantRequest
from puhui.actions.consent.signing import Keyring, PublicKey, Signer
from puhui.data.identifiers import id_check_char, uscc_check_char
from puhui.data.store.access_tables import LoginAttempt
from puhui.data.store.audit import append_audit
from puhui.data.store.consent_tables import BureauQuery
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import upgrade
from puhui.data.store.origination_tables import LoanApplication
from puhui.data.store.tables import Branch, Staff

T0 = datetime(2020, 3, 2, 2, 0, tzinfo=UTC)


def person_id(sequence: int, birth: str = "19800101") -> str:
    body = f"330102{birth}{sequence:03d}"
    return body + id_check_char(body)


def uscc(sequence: int) -> str:
    body = f"91330100MA{sequence:07d}"
    return body + uscc_check_char(body)


def migrated(path: Path) -> tuple[Engine, sessionmaker[Session]]:
    """A SQLite store at ``path`` at the newest revision."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine, make_session_factory(engine)


def keyring_of(*signers: Signer, start: datetime = T0 - timedelta(days=3650)) -> Keyring:
    return Keyring(PublicKey(s.key_id, s.public_key, start) for s in signers)


def grant(
    sessions: sessionmaker[Session],
    signer: Signer,
    *,
    person: str,
    firm: str,
    at: datetime,
    days: int = 90,
    keyring: Keyring | None = None,
) -> str:
    """Record a signed consent for ``person`` at ``at``; returns its consent id."""
    service = ConsentService(
        sessions, keyring or keyring_of(signer), signer=signer, clock=lambda: at
    )
    evidence = VerificationEvidence(
        kind=VerificationKind.THREE_FACTOR,
        provider="local",
        result_id=f"r-{uuid.uuid4().hex[:8]}",
        evidence_hash="a" * 64,
        checked_at=at,
    )
    record = service.grant(
        GrantRequest(
            scopes=(ConsentScope.ENTERPRISE_REPORT, ConsentScope.PERSONAL_REPORT),
            purpose="贷前审查",
            staff_id="CM0001",
            channel="online",
            evidence=(evidence,),
            subject_uscc=firm,
            subject_person_id=person,
            subject_name="张三",
            validity=timedelta(days=days),
        )
    )
    return record.consent_id


def add_reference(sessions: sessionmaker[Session]) -> None:
    """A branch with a sub-branch (a self-referencing row) and one staff member with a phone."""
    with sessions.begin() as session:
        session.add(
            Branch(branch_id="330100-00", name="杭州分行", level="branch", division_code="330100")
        )
        session.flush()
        session.add(
            Branch(
                branch_id="330100-03",
                name="西湖支行",
                level="sub_branch",
                parent_branch_id="330100-00",
                division_code="330106",
            )
        )
        session.add(
            Staff(
                staff_id="CM0001",
                name="李四",
                role="account_manager",
                branch_id="330100-03",
                phone="13800138000",
            )
        )


def add_application(
    sessions: sessionmaker[Session],
    *,
    firm: str,
    consent_id: str | None,
    state: str,
    at: datetime,
) -> str:
    application_id = str(uuid.uuid4())
    with sessions.begin() as session:
        session.add(
            LoanApplication(
                application_id=application_id,
                idempotency_key=uuid.uuid4().hex,
                request_hash="b" * 64,
                channel="wechat",
                uscc=firm,
                requested_amount=Decimal("300000.50"),
                phone_hash="c" * 64,
                phone_masked="138****8000",
                device_id="device-1",
                ip_address="10.1.2.3",
                state=state,
                version=1,
                consent_id=consent_id,
                decision={"score": 612, "reasons": ["纳税稳定"]},
                created_at=at,
                updated_at=at,
            )
        )
    return application_id


def add_bureau_query(
    sessions: sessionmaker[Session], *, person: str, at: datetime, consent_id: str | None
) -> None:
    with sessions.begin() as session:
        session.add(
            BureauQuery(
                queried_at=at,
                staff_id="CM0001",
                report_type="personal_report",
                subject_person_id=person,
                purpose="贷前审查",
                as_of=at.date(),
                consent_id=consent_id,
                outcome="served",
                result_size=3,
            )
        )


def add_login_attempts(sessions: sessionmaker[Session], moments: Sequence[datetime]) -> None:
    with sessions.begin() as session:
        for moment in moments:
            session.add(LoginAttempt(attempted_at=moment, username="cm1", outcome="success"))


def add_audit(sessions: sessionmaker[Session], count: int, at: datetime) -> None:
    with sessions.begin() as session:
        for number in range(count):
            append_audit(
                session,
                actor="system",
                actor_role="system",
                action="test.event",
                subject_type="test",
                subject_id=str(number),
                detail={"n": number, "amount": Decimal("1.10"), "day": date(2025, 1, 1)},
                occurred_at=at + timedelta(seconds=number),
            )
