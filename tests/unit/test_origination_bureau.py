"""Authorization fetches the enterprise credit report through the consent gateway: the query is
logged under the firm's account manager (or the online query user), a current overdue on the
fresh report vetoes the decision, a firm the bureau has no file on goes on without one, and an
application without a valid consent makes no query at all."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from origination_fakes import decision_service, firm, uscc
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.consent.records import ConsentScope, VerificationEvidence, VerificationKind
from puhui.actions.consent.service import ConsentService, GrantRequest
from puhui.actions.consent.signing import Keyring, PublicKey, Signer
from puhui.actions.origination.ports import LedgerConsentChecker
from puhui.actions.origination.service import (
    ApplicationRequest,
    NoQueryStaffError,
    OriginationService,
)
from puhui.adapters.bureau.gateway import BureauGateway
from puhui.adapters.bureau.reports import EnterpriseReport, SubjectNotInBureauError
from puhui.data.store.consent_tables import BureauQuery
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import upgrade
from puhui.data.store.origination_tables import ApplicationState, ApplicationTransition
from puhui.data.store.tables import Branch, Enterprise, Staff

T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
CLEAN, OVERDUE, UNKNOWN_TO_BUREAU, NO_MANAGER, NO_CONSENT = (uscc(n) for n in range(21, 26))
S = ApplicationState


class ScriptedBureau:
    """Reports per firm; firms without one are not on the bureau's file."""

    def __init__(self, overdue: dict[str, Decimal]) -> None:
        self.overdue = overdue
        self.calls: list[str] = []

    def enterprise_report(self, uscc: str, as_of: date) -> EnterpriseReport:
        self.calls.append(uscc)
        if uscc not in self.overdue:
            raise SubjectNotInBureauError(f"no report for {uscc}")
        amount = self.overdue[uscc]
        return EnterpriseReport(
            uscc=uscc,
            as_of=as_of,
            report_month=date(2026, 5, 1),
            lender_count=2,
            loan_balance=Decimal(500_000),
            overdue_amount=amount,
            max_overdue_days=45 if amount else 0,
            non_performing_balance=Decimal(0),
            special_mention_balance=Decimal(0),
            guarantee_balance=Decimal(0),
            ever_borrowed=True,
            queries_last_12_months=3,
            history=(),
        )

    def personal_report(self, person_id: str, as_of: date):  # type: ignore[no-untyped-def]
        raise SubjectNotInBureauError("not used here")


def _store(path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        session.add(
            Branch(
                branch_id="330100-01", name="西湖支行", level="sub_branch", division_code="330106"
            )
        )
        session.flush()
        session.add_all(
            [
                Staff(
                    staff_id="CM0001", name="王经理", role="account_manager", branch_id="330100-01"
                ),
                Staff(staff_id="SYS-ONLINE", name="线上查询", role="admin", branch_id="330100-01"),
            ]
        )
        session.flush()
        for code in (CLEAN, OVERDUE, UNKNOWN_TO_BUREAU, NO_MANAGER, NO_CONSENT):
            session.add(
                Enterprise(
                    uscc=code,
                    name=f"企业{code[-4:]}",
                    division_code="330106",
                    industry_code="C13",
                    size_class="micro",
                    founded_on=date(2018, 1, 1),
                    branch_id="330100-01",
                    account_manager_id=None if code == NO_MANAGER else "CM0001",
                    is_customer=code != NO_MANAGER,
                )
            )
    return sessions


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    sessions = _store(tmp_path / "store.db")
    signer = Signer.generate("k-test")
    keyring = Keyring([PublicKey(signer.key_id, signer.public_key, T0 - timedelta(days=30))])
    consents = ConsentService(sessions, keyring, signer=signer, clock=lambda: T0)
    grants = {
        code: consents.grant(
            GrantRequest(
                scopes=[ConsentScope.ENTERPRISE_REPORT],
                purpose="贷前审查",
                staff_id="CM0001",
                channel="online",
                evidence=[
                    VerificationEvidence(
                        kind=VerificationKind.THREE_FACTOR,
                        provider="local",
                        result_id=f"local-{code}",
                        evidence_hash="c" * 64,
                        checked_at=T0,
                    )
                ],
                subject_uscc=code,
            )
        ).consent_id
        for code in (CLEAN, OVERDUE, UNKNOWN_TO_BUREAU, NO_MANAGER)
    }
    bureau = ScriptedBureau({CLEAN: Decimal(0), OVERDUE: Decimal(12_000), NO_MANAGER: Decimal(0)})
    gateway = BureauGateway(bureau, sessions, consents, clock=lambda: T0)
    decisions = decision_service({code: firm() for code in grants} | {NO_CONSENT: firm()})

    def service(online_staff_id: str | None = None) -> OriginationService:
        return OriginationService(
            sessions,
            decisions,
            LedgerConsentChecker(keyring),
            reports=gateway,
            online_staff_id=online_staff_id,
            clock=lambda: T0,
        )

    return service, grants, bureau, sessions


def _apply(service: OriginationService, code: str, consent_id: str | None, key: str):  # type: ignore[no-untyped-def]
    row, _ = service.submit(
        ApplicationRequest(
            uscc=code,
            channel="wechat",
            requested_product="xiaowei_edai",
            requested_amount=Decimal(200_000),
            consent_id=consent_id,
        ),
        key,
    )
    return row


def _authorize_detail(sessions: sessionmaker[Session], application_id: str) -> dict:
    with sessions() as session:
        return session.execute(
            select(ApplicationTransition.detail).where(
                ApplicationTransition.application_id == application_id,
                ApplicationTransition.action == "authorize",
            )
        ).scalar_one()


def test_authorization_queries_the_report_under_the_account_manager_and_logs_it(world) -> None:  # type: ignore[no-untyped-def]
    make, grants, bureau, sessions = world
    service = make()
    row = _apply(service, CLEAN, grants[CLEAN], "clean")
    authorized = service.authorize(row.application_id, idempotency_key="auth-clean")
    assert authorized.state == S.AUTHORIZED
    # Repeating the step with its key does not query the bureau again.
    calls = len(bureau.calls)
    assert service.authorize(row.application_id, idempotency_key="auth-clean").state == S.AUTHORIZED
    assert len(bureau.calls) == calls
    detail = _authorize_detail(sessions, row.application_id)
    assert detail["bureau_query_staff"] == "CM0001"
    assert detail["bureau_report"]["bureau_report_overdue_amount"] == 0.0
    with sessions() as session:
        query = session.get(BureauQuery, detail["bureau_query_id"])
    assert query is not None and query.outcome == "served"
    assert query.consent_id == grants[CLEAN] and query.subject_uscc == CLEAN
    assert service.advance(row.application_id).state == S.OFFERED


def test_a_current_overdue_on_the_fresh_report_vetoes_the_decision(world) -> None:  # type: ignore[no-untyped-def]
    make, grants, _, _ = world
    service = make()
    row = _apply(service, OVERDUE, grants[OVERDUE], "overdue")
    decided = service.advance(row.application_id)
    assert decided.state == S.DECLINED
    assert any("征信报告无当前逾期" in reason for reason in decided.decision["reasons"])


def test_a_firm_without_a_bureau_file_is_authorized_and_decided_without_report_facts(
    world,  # type: ignore[no-untyped-def]
) -> None:
    make, grants, _, sessions = world
    service = make()
    row = _apply(service, UNKNOWN_TO_BUREAU, grants[UNKNOWN_TO_BUREAU], "white")
    assert service.advance(row.application_id).state == S.OFFERED
    assert _authorize_detail(sessions, row.application_id)["bureau_report"] is None
    assert service.bureau_facts(row.application_id) is None


def test_without_an_account_manager_the_online_query_user_queries_or_the_step_stops(
    world,  # type: ignore[no-untyped-def]
) -> None:
    make, grants, _, sessions = world
    row = _apply(make(), NO_MANAGER, grants[NO_MANAGER], "nomgr")
    with pytest.raises(NoQueryStaffError, match="PUHUI_BUREAU_STAFF_ID"):
        make().authorize(row.application_id)
    assert make().get(row.application_id).state == S.SUBMITTED
    make("SYS-ONLINE").authorize(row.application_id)
    assert _authorize_detail(sessions, row.application_id)["bureau_query_staff"] == "SYS-ONLINE"


def test_no_valid_consent_means_no_bureau_query(world) -> None:  # type: ignore[no-untyped-def]
    make, _, bureau, sessions = world
    service = make()
    row = _apply(service, NO_CONSENT, "no-such-consent", "noconsent")
    with pytest.raises(Exception, match="not on record"):
        service.authorize(row.application_id)
    assert NO_CONSENT not in bureau.calls
    with sessions() as session:
        logged = session.execute(
            select(BureauQuery).where(BureauQuery.subject_uscc == NO_CONSENT)
        ).all()
    assert logged == []
