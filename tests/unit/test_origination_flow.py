"""Origination on a SQLite store: every channel to every end state, idempotency, resuming after
a crash, the manual-review queue, disbursing once, servicing and the audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from origination_fakes import ScriptedSentinel, decision_service, firm, store_services, uscc
from sqlalchemy import func, select

from puhui.actions.consent.records import ConsentScope, VerificationEvidence, VerificationKind
from puhui.actions.consent.service import ConsentRequiredError, ConsentService, GrantRequest
from puhui.actions.consent.signing import Keyring, PublicKey, Signer
from puhui.actions.origination.decisioning import UnknownFirmError
from puhui.actions.origination.ports import InMemoryCoreBanking, LedgerConsentChecker
from puhui.actions.origination.service import (
    ApplicationRequest,
    OfferTermsError,
    OriginationService,
)
from puhui.actions.origination.states import (
    ALLOWED,
    END_STATES,
    IllegalTransitionError,
    check_transition,
)
from puhui.actions.origination.transitions import IdempotencyConflictError
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.origination_tables import (
    ApplicationState,
    ApplicationTransition,
    Channel,
    Loan,
    LoanApplication,
    SentinelVerdict,
)

S = ApplicationState
GOOD, VETO, REFER, FRAUD, CRASHY, RENEW = (uscc(n) for n in range(1, 7))
FIRMS = {
    RENEW: firm(loan_outstanding_principal_mean_1m=300_000, loan_overdue_days_max_12m=0),
    GOOD: firm(),
    VETO: firm(dishonest_count_24m=1),
    REFER: firm(),
    FRAUD: firm(),
    CRASHY: firm(),
}


@pytest.fixture(scope="module")
def sentinel() -> ScriptedSentinel:
    return ScriptedSentinel(verdicts={FRAUD: SentinelVerdict.REJECT})


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, sentinel: ScriptedSentinel):  # type: ignore[no-untyped-def]
    decisions = decision_service(FIRMS, scores={REFER: 45.0}, sentinel=sentinel)
    return store_services(tmp_path_factory.mktemp("store") / "store.db", decisions)


def _request(firm_uscc: str, channel: str = "wechat", **changes: object) -> ApplicationRequest:
    values: dict[str, object] = {
        "uscc": firm_uscc,
        "channel": channel,
        "requested_product": "xiaowei_edai",
        "requested_amount": Decimal("200000"),
        "phone": "13912345678",
        "device_id": "dev-0001",
        "ip_address": "10.0.0.8",
        "consent_id": "consent-0001",
    }
    values.update(changes)
    return ApplicationRequest(**values)  # type: ignore[arg-type]


def _to_offer(service: OriginationService, key: str, channel: str, firm_uscc: str = GOOD) -> str:
    row, created = service.submit(_request(firm_uscc, channel), key)
    assert created
    return service.advance(row.application_id).application_id


def _to_disbursed(services, key: str, channel: str) -> str:  # type: ignore[no-untyped-def]
    service = services[0]
    application_id = _to_offer(service, key, channel)
    service.accept(application_id, Decimal("120000"), 12, "equal_instalment")
    service.sign(application_id)
    service.disburse(application_id, disbursed_on=date(2026, 7, 1))
    return application_id


END_PATHS = ["settled", "defaulted", "declined", "withdrawn", "expired", "review_declined"]


@pytest.mark.parametrize("channel", [c.value for c in Channel])
@pytest.mark.parametrize("end", END_PATHS)
def test_applications_from_every_channel_reach_every_end_state(
    services, channel: str, end: str
) -> None:  # type: ignore[no-untyped-def]
    service, servicing, _ = services
    key = f"{channel}-{end}"
    if end == "settled":
        application_id = _to_disbursed(services, key, channel)
        loan = servicing.loan_for(application_id)
        servicing.repay(loan.loan_id, Decimal("130000"), date(2026, 8, 1), f"{key}-repay")
        expected = S.SETTLED
    elif end == "defaulted":
        application_id = _to_disbursed(services, key, channel)
        servicing.refresh(date(2026, 11, 15))  # first instalment 1 Aug unpaid: 106 days
        expected = S.DEFAULTED
        loan = servicing.loan_for(application_id)
        assert (loan.overdue_days, loan.classification) == (106, "substandard")
    elif end == "declined":
        row, _ = service.submit(_request(VETO, channel), key)
        application_id = service.advance(row.application_id).application_id
        expected = S.DECLINED
    elif end == "withdrawn":
        application_id = _to_offer(service, key, channel)
        service.withdraw(application_id)
        expected = S.WITHDRAWN
    elif end == "expired":
        application_id = _to_offer(service, key, channel)
        service.expire(application_id)
        expected = S.EXPIRED
    else:
        row, _ = service.submit(_request(REFER, channel), key)
        assert service.advance(row.application_id).state == S.REFERRED
        service.review(row.application_id, "decline", "R001", "thin file")
        application_id = row.application_id
        expected = S.DECLINED
    final = service.get(application_id)
    assert final.state == expected
    assert expected in END_STATES
    steps = service.transitions(application_id)
    assert [t.seq for t in steps] == list(range(1, len(steps) + 1))
    assert all(t.to_state in ALLOWED[S(t.from_state)] for t in steps if t.from_state)


def test_the_decision_carries_limit_rate_term_reasons_rules_and_model_versions(services) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    application_id = _to_offer(service, "decision-shape", "etax")
    row = service.get(application_id)
    assert row.state == S.OFFERED
    assert (row.offer_product, row.offer_limit, row.offer_rate_bp) == (
        "xiaowei_edai",
        Decimal("480000.00"),
        380,
    )
    assert row.offer_term_months == 12
    decision = row.decision or {}
    assert decision["model_versions"] == {"test_model": "3"}
    assert decision["reasons"] and isinstance(decision["fired_rules"], list)
    assert decision["sentinel"]["verdict"] == "pass"


def test_a_sentinel_reject_declines(services) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    row, _ = service.submit(_request(FRAUD), "fraud-1")
    row = service.advance(row.application_id)
    assert (row.state, row.sentinel_verdict) == (S.DECLINED, "reject")
    assert "sentinel.reject" in (row.decision or {})["fired_rules"]


def test_the_same_idempotency_key_yields_one_application(services) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    first, created = service.submit(_request(GOOD), "same-key-0001")
    again, created_again = service.submit(_request(GOOD), "same-key-0001")
    assert (created, created_again) == (True, False)
    assert again.application_id == first.application_id
    with pytest.raises(IdempotencyConflictError, match=r"same-key-0001.*different request body"):
        service.submit(_request(GOOD, requested_amount=Decimal("1")), "same-key-0001")


def test_a_repeated_step_with_its_key_is_done_once(services) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    row, _ = service.submit(_request(GOOD), "step-key-app")
    service.authorize(row.application_id, idempotency_key="auth-once")
    replay = service.authorize(row.application_id, idempotency_key="auth-once")
    assert replay.state == S.AUTHORIZED
    assert [t.action for t in service.transitions(row.application_id)] == ["submit", "authorize"]
    with pytest.raises(IdempotencyConflictError, match="used for authorize"):
        service.screen(row.application_id, idempotency_key="auth-once")


def test_illegal_transitions_are_refused_with_the_states_named(services) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    row, _ = service.submit(_request(GOOD), "illegal-1")
    with pytest.raises(IllegalTransitionError, match="from submitted to disbursed"):
        service.disburse(row.application_id)
    with pytest.raises(IllegalTransitionError, match="none \\(end state\\)"):
        check_transition("x", S.SETTLED, S.REPAYING)


def test_a_crash_between_steps_resumes_without_losing_or_repeating_anything(
    services, sentinel
) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    row, _ = service.submit(_request(CRASHY), "crash-1")
    sentinel.fail_for.add(CRASHY)
    with pytest.raises(RuntimeError, match="sentinel crashed"):
        service.advance(row.application_id)
    assert service.get(row.application_id).state == S.AUTHORIZED  # the authorize step stuck
    sentinel.fail_for.discard(CRASHY)
    resumed = service.advance(row.application_id)
    assert resumed.state == S.OFFERED
    actions = [t.action for t in service.transitions(row.application_id)]
    assert actions == ["submit", "authorize", "screen", "decide", "offer"]


class _CrashingBank(InMemoryCoreBanking):
    """Pays, then dies before the transaction commits (the worst moment)."""

    def __init__(self) -> None:
        super().__init__()
        self.crash = True

    def transfer(self, *, reference: str, uscc: str, amount: Decimal) -> str:
        paid = super().transfer(reference=reference, uscc=uscc, amount=amount)
        if self.crash:
            self.crash = False
            raise ConnectionError("process killed after the transfer")
        return paid


def test_a_crash_during_disbursal_pays_and_books_once(services) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    bank = _CrashingBank()
    crashing = OriginationService(
        service.sessions, service.decisions, service.consents, bank, clock=service.clock
    )
    application_id = _to_offer(crashing, "crash-disburse", "open_api")
    crashing.accept(application_id)
    crashing.sign(application_id)
    with pytest.raises(ConnectionError):
        crashing.disburse(application_id)
    assert crashing.get(application_id).state == S.CONTRACT_SIGNED
    assert crashing.disburse(application_id).state == S.DISBURSED
    assert len(bank.payments) == 1
    with pytest.raises(IllegalTransitionError, match="from disbursed to disbursed"):
        crashing.disburse(application_id)
    with service.sessions() as session:
        loans = session.execute(
            select(func.count()).select_from(Loan).where(Loan.application_id == application_id)
        ).scalar_one()
    assert loans == 1


def test_referrals_wait_in_the_manual_review_queue_until_resolved(services) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    row, _ = service.submit(_request(REFER), "review-approve")
    row = service.advance(row.application_id)
    assert row.state == S.REFERRED
    queued = {item.application_id for item in service.review_queue()}
    assert row.application_id in queued
    service.review(row.application_id, "approve", "R002", "strong tax record")
    assert row.application_id not in {item.application_id for item in service.review_queue()}
    offered = service.offer(row.application_id)
    assert offered.state == S.OFFERED
    assert offered.offer_limit == Decimal("480000.00")
    assert offered.offer_limit <= Decimal(500000)  # band D's cap


def test_accepted_terms_must_be_within_the_offer(services) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    application_id = _to_offer(service, "terms-1", "wechat")
    with pytest.raises(OfferTermsError, match="outside the offer"):
        service.accept(application_id, Decimal("999999999"))
    with pytest.raises(OfferTermsError, match="term_months 7 is not offered"):
        service.accept(application_id, Decimal("1000"), 7)


def test_an_unknown_firm_is_refused_before_anything_is_stored(services) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    with pytest.raises(UnknownFirmError, match="no row in the feature snapshot"):
        service.submit(_request(uscc(99)), "unknown-firm")
    with service.sessions() as session:
        assert (
            session.execute(
                select(LoanApplication).where(LoanApplication.idempotency_key == "unknown-firm")
            ).first()
            is None
        )


def test_every_transition_has_an_audit_entry_and_the_chain_holds(services) -> None:  # type: ignore[no-untyped-def]
    service = services[0]
    with service.sessions() as session:
        assert verify_audit_chain(session).ok  # type: ignore[attr-defined]
        from puhui.data.store.tables import AuditEvent

        audited = session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action.like("origination.%"))
        ).scalar_one()
        transitions = session.execute(
            select(func.count()).select_from(ApplicationTransition)
        ).scalar_one()
    assert audited == transitions


def test_authorization_checks_the_signed_consent(tmp_path: Path) -> None:
    t0 = datetime(2026, 7, 1, 9, tzinfo=UTC)
    decisions = decision_service({GOOD: firm()})
    service, _, _ = store_services(tmp_path / "store.db", decisions)
    signer = Signer.generate("k-test")
    keyring = Keyring([PublicKey(signer.key_id, signer.public_key, t0 - timedelta(days=365))])
    consents = ConsentService(service.sessions, keyring, signer=signer, clock=lambda: t0)
    grant = consents.grant(
        GrantRequest(
            scopes=[ConsentScope.ENTERPRISE_REPORT],
            purpose="贷前审查",
            staff_id="CM0001",
            channel="online",
            evidence=[
                VerificationEvidence(
                    kind=VerificationKind.THREE_FACTOR,
                    provider="local",
                    result_id="local-1",
                    evidence_hash="b" * 64,
                    checked_at=t0,
                )
            ],
            subject_uscc=GOOD,
        )
    )
    checked = OriginationService(
        service.sessions, decisions, LedgerConsentChecker(keyring), clock=lambda: t0
    )
    row, _ = checked.submit(_request(GOOD, consent_id="not-a-consent"), "consent-bad")
    with pytest.raises(Exception, match="not-a-consent is not on record"):
        checked.authorize(row.application_id)
    assert checked.authorize(row.application_id, grant.consent_id).state == S.AUTHORIZED
    later = OriginationService(
        service.sessions,
        decisions,
        LedgerConsentChecker(keyring),
        clock=lambda: t0 + timedelta(days=400),
    )
    row, _ = later.submit(_request(GOOD, consent_id=grant.consent_id), "consent-expired")
    with pytest.raises(ConsentRequiredError, match="expired"):
        later.authorize(row.application_id)


def test_a_renewal_names_the_loan_it_renews(services) -> None:  # type: ignore[no-untyped-def]
    service, servicing, _ = services
    first, _ = service.submit(_request(RENEW), "renew-first")
    service.advance(first.application_id)
    service.accept(first.application_id, Decimal("300000"))
    service.sign(first.application_id)
    service.disburse(first.application_id, disbursed_on=date(2025, 7, 1))
    old = servicing.loan_for(first.application_id)
    renewal, _ = service.submit(_request(RENEW, requested_product="renewal"), "renew-second")
    offered = service.advance(renewal.application_id)
    assert (offered.offer_product, offered.offer_rate_bp) == ("renewal", 355)  # 300+80-25
    service.accept(renewal.application_id, Decimal("300000"))
    service.sign(renewal.application_id)
    service.disburse(renewal.application_id, disbursed_on=date(2026, 7, 1))
    assert servicing.loan_for(renewal.application_id).renewal_of_loan_id == old.loan_id
