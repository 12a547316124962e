"""Consent log, verification attempts and the bureau gateway on SQLite, PostgreSQL and MariaDB:
the migrated tables match the models, chained consents verify, and a query is served or refused
the same way on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select

import puhui.data.store.consent_tables  # noqa: F401 - registers the tables on Base.metadata
from puhui.actions.consent.records import (
    ConsentScope,
    VerificationEvidence,
    VerificationKind,
)
from puhui.actions.consent.service import ConsentRequiredError, ConsentService, GrantRequest
from puhui.actions.consent.signing import Keyring, PublicKey, Signer
from puhui.adapters.bureau.gateway import BureauGateway
from puhui.adapters.bureau.reports import EnterpriseMonth, EnterpriseReport, PersonalReport
from puhui.adapters.identity.attempts import Attempt, StoreAttemptLog
from puhui.data.identifiers import uscc_check_char
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.consent_tables import AttemptKind, AttemptOutcome, BureauQuery
from puhui.data.store.engine import make_session_factory
from puhui.data.store.migrate import downgrade, upgrade
from puhui.data.store.tables import Base, Branch, Staff

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 2, 2, 0, 0, 123456, tzinfo=UTC)
FIRM = "91330100X00000010"
FIRM = FIRM[:17] + uscc_check_char(FIRM[:17])
CONSENT_TABLES = ("consent_log", "identity_verification_attempt", "bureau_query")


class FixedBureau:
    def enterprise_report(self, uscc: str, as_of: date) -> EnterpriseReport:
        month = EnterpriseMonth(
            month=date(2026, 5, 1),
            lender_count=1,
            loan_balance=0,
            overdue_amount=0,
            max_overdue_days=0,
        )
        return EnterpriseReport(
            uscc=uscc,
            as_of=as_of,
            report_month=month.month,
            lender_count=1,
            loan_balance=0,
            overdue_amount=0,
            max_overdue_days=0,
            non_performing_balance=0,
            special_mention_balance=0,
            guarantee_balance=0,
            ever_borrowed=True,
            queries_last_12_months=0,
            history=(month,),
        )

    def personal_report(self, person_id: str, as_of: date) -> PersonalReport:
        raise NotImplementedError


def test_consent_tables_match_the_models(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    # Other revisions' tables are checked by their own tests (and need their models imported).
    ours = [d for d in differences if any(name in repr(d) for name in CONSENT_TABLES)]
    assert ours == []


def test_revision_0003_downgrades_and_upgrades_again(migrated_engine: Engine) -> None:
    head = upgrade(migrated_engine).current  # later revisions stack on 0003
    assert downgrade(migrated_engine, "0002").current == "0002"
    assert upgrade(migrated_engine).current == head


def test_gateway_serves_with_consent_refuses_without_and_chains_verify(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    sessions = make_session_factory(migrated_engine)
    with sessions.begin() as session:
        session.add(
            Branch(
                branch_id="330100-01", name="西湖支行", level="sub_branch", division_code="330106"
            )
        )
        session.flush()
        session.add(
            Staff(staff_id="CM0001", name="王经理", role="account_manager", branch_id="330100-01")
        )
    signer = Signer.generate("k-int")
    keyring = Keyring([PublicKey(signer.key_id, signer.public_key, T0 - timedelta(days=1))])
    service = ConsentService(sessions, keyring, signer=signer, clock=lambda: T0)
    evidence = VerificationEvidence(
        kind=VerificationKind.THREE_FACTOR,
        provider="local",
        result_id="r-1",
        evidence_hash="c" * 64,
        checked_at=T0,
    )
    grant = service.grant(
        GrantRequest(
            scopes=[ConsentScope.ENTERPRISE_REPORT],
            purpose="贷前审查",
            staff_id="CM0001",
            channel="online",
            evidence=[evidence],
            subject_uscc=FIRM,
        )
    )
    gateway = BureauGateway(FixedBureau(), sessions, service, clock=lambda: T0)

    answer = gateway.enterprise_report(staff_id="CM0001", uscc=FIRM, purpose="贷前审查")
    with pytest.raises(ConsentRequiredError):
        gateway.personal_report(
            staff_id="CM0001", person_id="11010519491231002X", purpose="贷前审查"
        )

    assert answer.consent_id == grant.consent_id
    report = service.verify()
    assert report.ok and report.chain.checked == 1
    with sessions() as session:
        outcomes = session.execute(select(BureauQuery.outcome).order_by(BureauQuery.id)).scalars()
        assert list(outcomes) == ["served", "refused"]
        assert verify_audit_chain(session).ok
    attempts = StoreAttemptLog(sessions)
    attempts.record(
        Attempt("f" * 64, T0, AttemptKind.FACE, "local", AttemptOutcome.NOT_LIVE, reason="原因")
    )
    assert attempts.history("f" * 64, T0 - timedelta(seconds=1))[0].attempted_at == T0
