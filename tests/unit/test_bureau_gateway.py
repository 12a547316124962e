"""The bureau gateway: served only under a valid consent, refused otherwise, every query logged
and audited; the simulated bureau over a small lake; the consent service in the store; anomaly
flags for auditors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.consent.ledger import ProblemKind
from puhui.actions.consent.records import (
    ConsentError,
    ConsentScope,
    VerificationEvidence,
    VerificationKind,
)
from puhui.actions.consent.service import ConsentRequiredError, ConsentService, GrantRequest
from puhui.actions.consent.signing import Keyring, PublicKey, Signer
from puhui.adapters.bureau.anomalies import (
    AnomalyKind,
    AnomalyPolicy,
    QueryFact,
    flag_anomalies,
    load_query_facts,
)
from puhui.adapters.bureau.gateway import BureauGateway, StaffNotAuthorizedError
from puhui.adapters.bureau.reports import SubjectNotInBureauError
from puhui.adapters.bureau.simulated import SimulatedBureau
from puhui.data.identifiers import id_check_char, uscc_check_char
from puhui.data.lake import Lake
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.consent_tables import BureauQuery, ConsentLogEntry
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import upgrade
from puhui.data.store.tables import AuditEvent, Branch, Enterprise, Staff

T0 = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Tuesday


def _uscc(serial: int) -> str:
    first = f"91330100X{serial:07d}0"
    return first + uscc_check_char(first)


def _person(serial: int) -> str:
    first = f"33010219800101{serial:03d}"
    return first + id_check_char(first)


FIRM, OTHER_FIRM, FAR_FIRM = _uscc(1), _uscc(2), _uscc(3)
REP = _person(11)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        session.add_all(
            [
                Branch(
                    branch_id="330100-00", name="杭州分行", level="branch", division_code="330100"
                ),
                Branch(
                    branch_id="330100-01",
                    name="西湖支行",
                    level="sub_branch",
                    parent_branch_id="330100-00",
                    division_code="330106",
                ),
                Branch(
                    branch_id="330200-01",
                    name="宁波海曙支行",
                    level="sub_branch",
                    division_code="330203",
                ),
            ]
        )
        session.flush()
        session.add_all(
            [
                Staff(
                    staff_id="CM0001", name="王经理", role="account_manager", branch_id="330100-01"
                ),
                Staff(staff_id="AU0001", name="审计员", role="auditor", branch_id="330100-00"),
                Staff(
                    staff_id="CM0009",
                    name="离职",
                    role="account_manager",
                    branch_id="330100-01",
                    active=False,
                ),
            ]
        )
        session.flush()
        for uscc, branch in (
            (FIRM, "330100-01"),
            (OTHER_FIRM, "330100-01"),
            (FAR_FIRM, "330200-01"),
        ):
            session.add(
                Enterprise(
                    uscc=uscc,
                    name=f"企业{uscc[-3:]}",
                    division_code="330106",
                    industry_code="C17",
                    size_class="small",
                    founded_on=date(2015, 1, 1),
                    branch_id=branch,
                    is_customer=True,
                )
            )
    yield factory
    engine.dispose()


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    lake = Lake(tmp_path / "lake")
    months = [date(2026, m, 1) for m in (3, 4, 5)]
    monthly = pl.DataFrame(
        {
            "uscc": [FIRM] * 3 + [FAR_FIRM] * 3,
            "month": months * 2,
            "lender_count": [2, 2, 3, 1, 1, 1],
            "loan_balance": [Decimal("1000000.00")] * 6,
            "overdue_amount": [Decimal("0.00")] * 5 + [Decimal("500.00")],
            "max_overdue_days": [0, 0, 0, 0, 0, 12],
            "non_performing_balance": [Decimal("0.00")] * 6,
            "special_mention_balance": [Decimal("0.00")] * 6,
            "guarantee_balance": [Decimal("200000.00")] * 6,
            "ever_borrowed": [True] * 6,
        }
    )
    lake.write_batch(lake.catalog.table("bureau_enterprise_monthly"), monthly, "b-ent")
    queries = pl.DataFrame(
        {
            "uscc": [FIRM, FIRM],
            "queried_at": [datetime(2026, 1, 5, tzinfo=UTC), datetime(2024, 1, 5, tzinfo=UTC)],
            "institution_code": ["B001", "B002"],
            "institution_type": ["bank", "bank"],
            "reason": ["loan_approval", "post_loan"],
        }
    )
    lake.write_batch(lake.catalog.table("bureau_enterprise_query"), queries, "b-entq")
    person = pl.DataFrame(
        {
            "person_id": [REP],
            "marital_status": ["married"],
            "spouse_id": [None],
            "education": ["bachelor"],
            "first_credit_on": [date(2010, 5, 1)],
        }
    )
    lake.write_batch(lake.catalog.table("bureau_person"), person, "b-person")
    return lake.root


@pytest.fixture
def signer() -> Signer:
    return Signer.generate("k-test")


def _service(sessions: sessionmaker[Session], signer: Signer, clock: Clock) -> ConsentService:
    keyring = Keyring([PublicKey(signer.key_id, signer.public_key, T0 - timedelta(days=365))])
    return ConsentService(sessions, keyring, signer=signer, clock=clock)


def _grant(service: ConsentService, **changes: object):  # type: ignore[no-untyped-def]
    evidence = VerificationEvidence(
        kind=VerificationKind.THREE_FACTOR,
        provider="local",
        result_id="local-1",
        evidence_hash="b" * 64,
        checked_at=T0,
    )
    values: dict[str, object] = {
        "scopes": [ConsentScope.ENTERPRISE_REPORT, ConsentScope.PERSONAL_REPORT],
        "purpose": "贷前审查",
        "staff_id": "CM0001",
        "channel": "online",
        "evidence": [evidence],
        "subject_uscc": FIRM,
        "subject_person_id": REP,
    }
    values.update(changes)
    return service.grant(GrantRequest(**values))  # type: ignore[arg-type]


def _gateway(sessions, lake_dir, service, clock) -> BureauGateway:  # type: ignore[no-untyped-def]
    return BureauGateway(SimulatedBureau(lake_dir), sessions, service, clock=clock)


def _queries(sessions: sessionmaker[Session]) -> list[BureauQuery]:
    with sessions() as session:
        return list(session.execute(select(BureauQuery).order_by(BureauQuery.id)).scalars())


def test_authorized_query_is_served_logged_and_audited(sessions, lake_dir, signer) -> None:
    clock = Clock(T0)
    service = _service(sessions, signer, clock)
    grant = _grant(service)

    answer = _gateway(sessions, lake_dir, service, clock).enterprise_report(
        staff_id="CM0001", uscc=FIRM, purpose="贷前审查"
    )

    assert answer.consent_id == grant.consent_id
    assert answer.report.report_month == date(2026, 5, 1)
    assert answer.report.lender_count == 3 and answer.report.queries_last_12_months == 1
    [logged] = _queries(sessions)
    assert (logged.outcome, logged.consent_id, logged.staff_id) == (
        "served",
        grant.consent_id,
        "CM0001",
    )
    assert logged.result_size == answer.result_size > 0
    assert logged.staff_branch_id == "330100-01"
    with sessions() as session:
        actions = list(session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())
        # The intent is audited before the bureau is called, the outcome after.
        assert actions == ["consent.grant", "bureau.query.started", "bureau.query"]
        assert verify_audit_chain(session).ok


def test_a_crash_during_the_bureau_call_still_leaves_the_query_on_the_audit_chain(
    sessions, signer
) -> None:  # type: ignore[no-untyped-def]
    class CrashingBureau:
        def enterprise_report(self, uscc: str, as_of: date):  # type: ignore[no-untyped-def]
            raise RuntimeError("process killed while the bureau answered")

    clock = Clock(T0)
    service = _service(sessions, signer, clock)
    grant = _grant(service)
    gateway = BureauGateway(CrashingBureau(), sessions, service, clock=clock)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        gateway.enterprise_report(staff_id="CM0001", uscc=FIRM, purpose="贷前审查")
    assert _queries(sessions) == []  # the outcome never got logged…
    with sessions() as session:
        started = session.execute(
            select(AuditEvent).where(AuditEvent.action == "bureau.query.started")
        ).scalar_one()  # …but the attempt is traced, with who, whom and under which consent
        assert (started.actor, started.subject_id) == ("CM0001", FIRM)
        assert started.detail["consent_id"] == grant.consent_id
        assert verify_audit_chain(session).ok


def test_query_without_consent_is_refused_with_a_clear_error_and_logged(
    sessions, lake_dir, signer
) -> None:
    clock = Clock(T0)
    service = _service(sessions, signer, clock)
    _grant(service)

    with pytest.raises(
        ConsentRequiredError, match=f"no valid consent covers enterprise_report for {OTHER_FIRM}"
    ):
        _gateway(sessions, lake_dir, service, clock).enterprise_report(
            staff_id="CM0001", uscc=OTHER_FIRM, purpose="贷前审查"
        )

    [logged] = _queries(sessions)
    assert logged.outcome == "refused" and logged.consent_id is None
    assert "no valid consent" in (logged.refusal_reason or "")
    with sessions() as session:
        assert session.execute(
            select(AuditEvent).where(AuditEvent.action == "bureau.query.refused")
        ).scalar_one()


def test_revoked_and_expired_consents_no_longer_allow_queries(sessions, lake_dir, signer) -> None:
    clock = Clock(T0)
    service = _service(sessions, signer, clock)
    grant = _grant(service, validity=timedelta(days=30))
    gateway = _gateway(sessions, lake_dir, service, clock)

    clock.now = T0 + timedelta(days=31)
    with pytest.raises(ConsentRequiredError, match="expired"):
        gateway.enterprise_report(staff_id="CM0001", uscc=FIRM, purpose="贷后检查")

    fresh = _grant(service)
    clock.now = T0 + timedelta(days=31, hours=1)
    service.revoke(fresh.consent_id, staff_id="CM0001", reason="客户撤回")
    with pytest.raises(ConsentRequiredError, match="revoked"):
        gateway.enterprise_report(staff_id="CM0001", uscc=FIRM, purpose="贷前审查")
    assert grant.consent_id != fresh.consent_id


def test_consent_for_one_scope_does_not_allow_the_other(sessions, lake_dir, signer) -> None:
    clock = Clock(T0)
    service = _service(sessions, signer, clock)
    _grant(service, scopes=[ConsentScope.ENTERPRISE_REPORT])

    with pytest.raises(ConsentRequiredError, match="personal_report"):
        _gateway(sessions, lake_dir, service, clock).personal_report(
            staff_id="CM0001", person_id=REP, purpose="贷前审查"
        )


def test_personal_report_is_served_under_a_personal_consent(sessions, lake_dir, signer) -> None:
    clock = Clock(T0)
    service = _service(sessions, signer, clock)
    _grant(service)

    answer = _gateway(sessions, lake_dir, service, clock).personal_report(
        staff_id="CM0001", person_id=REP, purpose="贷前审查", uscc=FIRM
    )

    assert answer.report.marital_status == "married"
    assert (
        answer.report.masked_person_id.startswith("330102")
        and "*" in answer.report.masked_person_id
    )


def test_unknown_or_inactive_staff_cannot_query(sessions, lake_dir, signer) -> None:
    clock = Clock(T0)
    service = _service(sessions, signer, clock)
    _grant(service)
    gateway = _gateway(sessions, lake_dir, service, clock)

    with pytest.raises(StaffNotAuthorizedError, match="'CM0009' is inactive"):
        gateway.enterprise_report(staff_id="CM0009", uscc=FIRM, purpose="贷前审查")
    with pytest.raises(StaffNotAuthorizedError, match="not in the store"):
        gateway.enterprise_report(staff_id="NOBODY", uscc=FIRM, purpose="贷前审查")
    assert [q.outcome for q in _queries(sessions)] == ["refused", "refused"]


def test_a_consent_edited_in_the_database_is_not_relied_on(sessions, lake_dir, signer) -> None:
    clock = Clock(T0)
    service = _service(sessions, signer, clock)
    _grant(service, scopes=[ConsentScope.ENTERPRISE_REPORT], subject_uscc=OTHER_FIRM)
    with sessions.begin() as session:  # raw SQL: the ORM refuses updates
        session.execute(text("update consent_log set subject_uscc = :u"), {"u": FIRM})

    with pytest.raises(ConsentRequiredError):
        _gateway(sessions, lake_dir, service, clock).enterprise_report(
            staff_id="CM0001", uscc=FIRM, purpose="贷前审查"
        )


def test_consent_verify_finds_raw_sql_tampering_in_the_store(sessions, signer) -> None:
    clock = Clock(T0)
    service = _service(sessions, signer, clock)
    grant = _grant(service)
    assert service.verify().ok
    with sessions.begin() as session:
        row = session.execute(select(ConsentLogEntry)).scalar_one()
        payload = dict(row.detail["payload"], valid_until="2099-01-01T00:00:00.000000+00:00")
        detail = dict(row.detail, payload=payload)
        session.execute(
            text("update consent_log set detail = :d where id = :i"),
            {"d": __import__("json").dumps(detail), "i": row.id},
        )

    report = service.verify()

    assert not report.ok
    assert any(
        p.kind is ProblemKind.TAMPERED and p.consent_id == grant.consent_id for p in report.problems
    )


def test_grant_without_verification_evidence_is_refused(sessions, signer) -> None:
    service = _service(sessions, signer, Clock(T0))

    with pytest.raises(ConsentError, match="evidence of identity verification"):
        _grant(service, evidence=[])


def test_revoking_twice_or_an_unknown_consent_is_refused(sessions, signer) -> None:
    service = _service(sessions, signer, Clock(T0))
    grant = _grant(service)
    service.revoke(grant.consent_id, staff_id="CM0001", reason="客户撤回")

    with pytest.raises(ConsentError, match="already revoked"):
        service.revoke(grant.consent_id, staff_id="CM0001", reason="again")
    with pytest.raises(ConsentError, match="not in the consent log"):
        service.revoke("consent-missing", staff_id="CM0001", reason="x")


def test_simulated_bureau_reports_as_of_a_date(lake_dir) -> None:
    bureau = SimulatedBureau(lake_dir)

    report = bureau.enterprise_report(FIRM, date(2026, 4, 15))

    assert report.report_month == date(2026, 4, 1)
    assert [m.month for m in report.history] == [date(2026, 4, 1), date(2026, 3, 1)]
    with pytest.raises(SubjectNotInBureauError, match=OTHER_FIRM):
        bureau.enterprise_report(OTHER_FIRM, date(2026, 4, 15))


# --- anomalies ----------------------------------------------------------------------------------


def _fact(query_id: int, at: datetime, *, firm_branch: str = "330100-01", staff: str = "CM0001"):  # type: ignore[no-untyped-def]
    return QueryFact(query_id, staff, "330100-01", at, FIRM, firm_branch)


def test_anomalies_flag_too_many_queries_per_staff_per_day() -> None:
    facts = [_fact(n, T0 + timedelta(minutes=n)) for n in range(4)]

    found = flag_anomalies(facts, AnomalyPolicy(max_queries_per_day=3))

    assert [a.kind for a in found] == [AnomalyKind.TOO_MANY_QUERIES]
    assert found[0].query_ids == (0, 1, 2, 3)


def test_anomalies_flag_queries_outside_shanghai_working_hours() -> None:
    night = datetime(2026, 6, 2, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    saturday = datetime(2026, 6, 6, 2, 0, tzinfo=UTC)  # 10:00 on a Saturday
    facts = [_fact(1, T0), _fact(2, night), _fact(3, saturday)]

    found = flag_anomalies(facts)

    assert [(a.kind, a.query_ids) for a in found] == [
        (AnomalyKind.OUTSIDE_WORKING_HOURS, (2,)),
        (AnomalyKind.OUTSIDE_WORKING_HOURS, (3,)),
    ]
    assert "22:30" in found[0].message


def test_anomalies_flag_firms_of_another_branch_but_not_sub_branches() -> None:
    parents = {"330100-01": "330100-00", "330100-00": None, "330200-01": None}
    facts = [
        _fact(1, T0, firm_branch="330200-01"),
        QueryFact(2, "BM0001", "330100-00", T0, FIRM, "330100-01"),
    ]

    found = flag_anomalies(facts, branch_parents=parents)

    assert [(a.kind, a.query_ids) for a in found] == [(AnomalyKind.OTHER_BRANCH, (1,))]


def test_anomalies_read_from_the_store_use_the_firms_branch(sessions, lake_dir, signer) -> None:
    clock = Clock(T0)
    service = _service(sessions, signer, clock)
    _grant(service, subject_uscc=FAR_FIRM, scopes=[ConsentScope.ENTERPRISE_REPORT])
    _gateway(sessions, lake_dir, service, clock).enterprise_report(
        staff_id="CM0001", uscc=FAR_FIRM, purpose="贷前审查"
    )

    with sessions() as session:
        facts, parents = load_query_facts(session, T0 - timedelta(days=1), T0 + timedelta(days=1))

    found = flag_anomalies(facts, branch_parents=parents)
    assert [a.kind for a in found] == [AnomalyKind.OTHER_BRANCH]
    assert "330200-01" in found[0].message
