"""Origination use cases on the operational store: each step is one transaction that moves the
application by a conditional update (``WHERE version = :seen``), records a transition row and an
audit event, so a crash between steps leaves a consistent, resumable state and a step is never
done twice.

Idempotency: ``submit`` is keyed by the caller's idempotency key (same key and body → the same
application; same key, different body → refused). Every other step takes an optional key; a
repeat returns the application as that step left it. Disbursal locks the row (``SELECT … FOR
UPDATE`` where the backend has it) and the loan's ``application_id`` is unique, so two
concurrent disbursals pay once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.origination.decisioning import DecisionService
from puhui.actions.origination.ports import (
    ConsentChecker,
    CoreBanking,
    CreditReports,
    InMemoryCoreBanking,
)
from puhui.actions.origination.states import (
    AUTOMATIC_NEXT,
    OriginationError,
)
from puhui.actions.origination.transitions import (
    IdempotencyConflictError,
    StateMachine,
    Step,
    UnknownApplicationError,
)
from puhui.actions.servicing.schedule import add_months
from puhui.adapters.bureau.reports import SubjectNotInBureauError
from puhui.data.identifiers import mask_phone
from puhui.data.store.origination_tables import (
    ApplicationState,
    ApplicationTransition,
    DecisionOutcome,
    Loan,
    LoanApplication,
    LoanClass,
    LoanStatus,
    ManualReview,
    ReviewResolution,
    SentinelVerdict,
)
from puhui.data.store.tables import Enterprise, utc_now
from puhui.decisions.bureau_facts import report_facts
from puhui.decisions.engine import offer_dict
from puhui.decisions.screening import ScreeningRequest, ScreeningResult
from puhui.observability.metrics import DECISIONS

S = ApplicationState


class OfferTermsError(OriginationError):
    """Accepted terms outside the offer (amount above the limit, a term not offered…)."""


@dataclass(frozen=True)
class ApplicationRequest:
    """What an applicant submits (validated at the edge; see ``api/origination_schemas``)."""

    uscc: str
    channel: str
    requested_product: str | None = None
    requested_amount: Decimal | None = None
    requested_term_months: int | None = None
    phone: str | None = None
    device_id: str | None = None
    ip_address: str | None = None
    consent_id: str | None = None

    def fingerprint(self) -> str:
        """sha256 of the canonical body, to tell a replay from a different request."""
        body = {k: (str(v) if v is not None else None) for k, v in self.__dict__.items()}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def hash_phone(phone: str) -> str:
    return hashlib.sha256(f"puhui-phone:{phone}".encode()).hexdigest()


class NoQueryStaffError(OriginationError):
    """Nobody to run the bureau query under: the firm has no account manager and no online
    query user is configured."""


class OriginationService:
    """Drives applications through the state machine; hand it the store, the decision service,
    the consent checker and the core banking adapter.

    With ``reports`` (the bureau gateway), authorization also fetches the enterprise credit
    report under the consent, as the firm's account manager or else ``online_staff_id`` (the
    bank's online query user); its facts join the decision.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        decisions: DecisionService,
        consents: ConsentChecker,
        core_banking: CoreBanking | None = None,
        *,
        reports: CreditReports | None = None,
        online_staff_id: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.sessions = session_factory
        self.reports = reports
        self.online_staff_id = online_staff_id
        self.decisions = decisions
        self.consents = consents
        self.core_banking = core_banking or InMemoryCoreBanking()
        self.clock = clock
        self._machine = StateMachine(session_factory, clock)
        self.new_id = new_id

    # --- intake -----------------------------------------------------------------------------

    def submit(
        self, request: ApplicationRequest, idempotency_key: str, actor: str = "applicant"
    ) -> tuple[LoanApplication, bool]:
        """The application for this key, and whether this call created it."""
        fingerprint = request.fingerprint()
        existing = self._by_key(idempotency_key, fingerprint)
        if existing is not None:
            return existing, False
        self.decisions.facts(request.uscc)  # unknown firms are refused before anything is stored
        now = self.clock()
        application_id = self.new_id()
        row = LoanApplication(
            application_id=application_id,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            channel=request.channel,
            uscc=request.uscc,
            requested_product=request.requested_product,
            requested_amount=request.requested_amount,
            requested_term_months=request.requested_term_months,
            phone_hash=hash_phone(request.phone) if request.phone else None,
            phone_masked=mask_phone(request.phone) if request.phone else None,
            device_id=request.device_id,
            ip_address=request.ip_address,
            branch_id=self.decisions.facts(request.uscc).branch_id,
            state=S.SUBMITTED,
            version=1,
            consent_id=request.consent_id,
            created_at=now,
            updated_at=now,
        )
        try:
            with self.sessions.begin() as session:
                session.add(row)
                session.flush()
                session.add(
                    ApplicationTransition(
                        application_id=application_id,
                        seq=1,
                        from_state=None,
                        to_state=S.SUBMITTED,
                        action="submit",
                        occurred_at=now,
                        actor=actor,
                        idempotency_key=idempotency_key,
                        detail={"channel": request.channel},
                    )
                )
                self._machine.audit(session, row, "submit", actor, "applicant", now, {})
        except IntegrityError:
            # A concurrent submit with the same key won; answer with its application.
            existing = self._by_key(idempotency_key, fingerprint)
            if existing is None:
                raise
            return existing, False
        return row, True

    def _by_key(self, key: str, fingerprint: str) -> LoanApplication | None:
        with self.sessions() as session:
            row = session.execute(
                select(LoanApplication).where(LoanApplication.idempotency_key == key)
            ).scalar_one_or_none()
        if row is not None and row.request_hash != fingerprint:
            raise IdempotencyConflictError(
                f"idempotency key {key!r} was used for application {row.application_id} with a "
                "different request body"
            )
        return row

    def get(self, application_id: str) -> LoanApplication:
        with self.sessions() as session:
            row = session.get(LoanApplication, application_id)
        if row is None:
            raise UnknownApplicationError(f"no application {application_id}")
        return row

    def transitions(self, application_id: str) -> list[ApplicationTransition]:
        with self.sessions() as session:
            return list(
                session.execute(
                    select(ApplicationTransition)
                    .where(ApplicationTransition.application_id == application_id)
                    .order_by(ApplicationTransition.seq)
                ).scalars()
            )

    # --- steps ------------------------------------------------------------------------------

    def authorize(
        self, application_id: str, consent_id: str | None = None, **step: Any
    ) -> LoanApplication:
        """submitted → authorized, once the consent (given now or at submit) checks out."""

        def check(session: Session, row: LoanApplication) -> None:
            chosen = consent_id or row.consent_id
            if not chosen:
                raise OriginationError(
                    f"application {row.application_id}: authorize needs a consent id"
                )
            self.consents.check(session, consent_id=chosen, uscc=row.uscc, at=self.clock())

        app = self.get(application_id)
        chosen = consent_id or app.consent_id
        detail: dict[str, Any] = {"consent_id": chosen}
        if self.reports is not None and app.state == S.SUBMITTED and chosen:
            detail.update(self._fetch_report(app, chosen))
        return self._machine.move(
            application_id,
            Step("authorize", **step),
            S.AUTHORIZED,
            values={"consent_id": chosen},
            detail=detail,
            before=check,
        )

    def _fetch_report(self, app: LoanApplication, consent_id: str) -> dict[str, Any]:
        """Query the enterprise report through the gateway once the consent checks out.

        A firm the bureau has no file on (白户, a true first borrower) is recorded as such; any
        other bureau failure stops the step so it can be retried.
        """
        assert self.reports is not None
        with self.sessions() as session:
            self.consents.check(session, consent_id=consent_id, uscc=app.uscc, at=self.clock())
            staff_id = self._query_staff(session, app)
        purpose = f"贷前审查 loan application {app.application_id}"
        try:
            answer = self.reports.enterprise_report(
                staff_id=staff_id, uscc=app.uscc, purpose=purpose
            )
        except SubjectNotInBureauError:
            return {"bureau_query_staff": staff_id, "bureau_report": None}
        report = answer.report.model_dump(mode="json", exclude={"history"})
        return {
            "bureau_query_id": answer.query_id,
            "bureau_query_staff": staff_id,
            "bureau_report": report_facts(report),
        }

    def _query_staff(self, session: Session, app: LoanApplication) -> str:
        manager = session.execute(
            select(Enterprise.account_manager_id).where(Enterprise.uscc == app.uscc)
        ).scalar_one_or_none()
        staff_id = manager or self.online_staff_id
        if not staff_id:
            raise NoQueryStaffError(
                f"application {app.application_id}: firm {app.uscc} has no account manager and "
                "no online query user is configured (PUHUI_BUREAU_STAFF_ID)"
            )
        return staff_id

    def bureau_facts(self, application_id: str) -> dict[str, float] | None:
        """The report facts recorded when the application was authorized (None: no report)."""
        with self.sessions() as session:
            detail = session.execute(
                select(ApplicationTransition.detail)
                .where(
                    ApplicationTransition.application_id == application_id,
                    ApplicationTransition.action == "authorize",
                )
                .order_by(ApplicationTransition.seq.desc())
                .limit(1)
            ).scalar_one_or_none()
        return (detail or {}).get("bureau_report") or None

    def screen(self, application_id: str, **step: Any) -> LoanApplication:
        """authorized → screened, with the sentinel's verdict."""
        app = self.get(application_id)
        facts = self.decisions.facts(app.uscc)
        result = self.decisions.screen(
            ScreeningRequest(
                app.application_id,
                app.uscc,
                app.channel,
                app.device_id,
                app.ip_address,
                app.phone_hash,
                facts.features,
                requested_amount=app.requested_amount,
                requested_product=app.requested_product,
                applied_at=app.created_at,
            )
        )
        return self._machine.move(
            application_id,
            Step("screen", **step),
            S.SCREENED,
            values={"sentinel_verdict": result.verdict.value},
            detail={
                "verdict": result.verdict.value,
                "hits": list(result.hits),
                "note": result.note,
            },
        )

    def decide(self, application_id: str, **step: Any) -> LoanApplication:
        """screened → decided (approve) / declined / referred (into the manual-review queue)."""
        app = self.get(application_id)
        verdict = SentinelVerdict(app.sentinel_verdict or SentinelVerdict.PASS)
        decision = self.decisions.decide(
            app.uscc,
            screening=ScreeningResult(verdict, (), "sentinel verdict recorded at screening"),
            requested_product=app.requested_product,
            requested_amount=app.requested_amount,
            report_facts=self.bureau_facts(application_id),
        )
        DECISIONS.labels(outcome=decision.outcome.value).inc()
        target = {
            DecisionOutcome.APPROVE: S.DECIDED,
            DecisionOutcome.DECLINE: S.DECLINED,
            DecisionOutcome.REFER: S.REFERRED,
        }[decision.outcome]
        body = decision.to_dict()

        def queue(session: Session, row: LoanApplication) -> None:
            if target is S.REFERRED:
                session.add(
                    ManualReview(
                        application_id=row.application_id,
                        queued_at=self.clock(),
                        reason="; ".join(decision.reasons)[:300],
                        branch_id=row.branch_id,
                    )
                )

        return self._machine.move(
            application_id,
            Step("decide", **step),
            target,
            values={"decision_outcome": decision.outcome.value, "decision": body},
            detail={
                "outcome": decision.outcome.value,
                "fired_rules": list(decision.fired_rules),
                "model_versions": dict(decision.model_versions),
                "score_source": decision.score.source,
            },
            after=queue,
        )

    def review(
        self,
        application_id: str,
        resolution: ReviewResolution | str,
        reviewer: str,
        note: str | None = None,
        **step: Any,
    ) -> LoanApplication:
        """人工审批: referred → decided (approve) or declined; closes the queue item."""
        resolution = ReviewResolution(resolution)
        target = S.DECIDED if resolution is ReviewResolution.APPROVE else S.DECLINED

        def close(session: Session, row: LoanApplication) -> None:
            item = session.execute(
                select(ManualReview).where(ManualReview.application_id == row.application_id)
            ).scalar_one()
            item.resolved_at = self.clock()
            item.resolved_by = reviewer
            item.resolution = resolution.value
            item.note = note

        step.setdefault("actor", reviewer)
        step.setdefault("actor_role", "risk_officer")
        return self._machine.move(
            application_id,
            Step("review", **step),
            target,
            values={"decision_outcome": "approve" if target is S.DECIDED else "decline"},
            detail={"resolution": resolution.value, "note": note},
            after=close,
        )

    def offer(self, application_id: str, **step: Any) -> LoanApplication:
        """decided → offered: the requested product when eligible, else the best-ranked offer."""
        app = self.get(application_id)
        offers = (app.decision or {}).get("offers") or []
        if not offers:
            # Approved on review from a band that offered nothing: re-match at today's snapshot.
            offers = self._rematch(app.uscc)
        if not offers:
            raise OriginationError(f"application {application_id}: no product to offer")
        chosen = next((o for o in offers if o["product"] == app.requested_product), offers[0])
        return self._machine.move(
            application_id,
            Step("offer", **step),
            S.OFFERED,
            values={
                "offer_product": chosen["product"],
                "offer_limit": Decimal(chosen["limit"]),
                "offer_rate_bp": int(chosen["rate_bp"]),
                "offer_term_months": int(chosen["term_months"]),
                "offer_repayment_method": chosen["repayment_method"],
            },
            detail={
                "product": chosen["product"],
                "limit": chosen["limit"],
                "rate_bp": chosen["rate_bp"],
            },
        )

    def _rematch(self, uscc: str) -> list[dict[str, Any]]:
        match, _ = self.decisions.match(uscc)
        return [offer_dict(offer) for offer in match.offers]

    def accept(
        self,
        application_id: str,
        amount: Decimal | None = None,
        term_months: int | None = None,
        repayment_method: str | None = None,
        **step: Any,
    ) -> LoanApplication:
        """offered → accepted: the firm takes up to the limit, on an offered term and method."""
        app = self.get(application_id)
        limit = app.offer_limit or Decimal(0)
        chosen = amount if amount is not None else min(app.requested_amount or limit, limit)
        if chosen <= 0 or chosen > limit:
            raise OfferTermsError(
                f"application {application_id}: amount {chosen} is outside the offer (0, {limit}]"
            )
        spec = self.decisions.catalog.product(app.offer_product or "")
        term = term_months or app.offer_term_months
        method = repayment_method or app.offer_repayment_method
        if term not in spec.term_months:
            raise OfferTermsError(
                f"application {application_id}: term_months {term} is not offered by "
                f"{spec.code} (offered: {', '.join(map(str, spec.term_months))})"
            )
        if method not in {m.value for m in spec.repayment_methods}:
            raise OfferTermsError(
                f"application {application_id}: repayment_method {method} is not offered by "
                f"{spec.code}"
            )
        return self._machine.move(
            application_id,
            Step("accept", **step),
            S.ACCEPTED,
            values={
                "accepted_amount": chosen,
                "offer_term_months": term,
                "offer_repayment_method": method,
            },
            detail={"amount": str(chosen), "term_months": term, "repayment_method": method},
        )

    def sign(
        self, application_id: str, contract_id: str | None = None, **step: Any
    ) -> LoanApplication:
        """accepted → contract_signed (电子合同)."""
        contract = contract_id or f"HT-{application_id[:8].upper()}"
        return self._machine.move(
            application_id,
            Step("sign", **step),
            S.CONTRACT_SIGNED,
            values={"contract_id": contract},
            detail={"contract_id": contract},
        )

    def disburse(
        self, application_id: str, disbursed_on: date | None = None, **step: Any
    ) -> LoanApplication:
        """contract_signed → disbursed: books the loan and pays it out, once."""
        day = disbursed_on or self.clock().date()

        def book(session: Session, row: LoanApplication) -> None:
            assert row.accepted_amount is not None and row.offer_term_months is not None
            facts = self.decisions.facts(row.uscc)
            reference = f"DB-{row.application_id}"
            renewed = None
            if self.decisions.catalog.product(row.offer_product or "").kind == "renewal":
                # 续贷: the new loan names the firm's open loan it renews (the oldest maturing).
                renewed = session.execute(
                    select(Loan.loan_id)
                    .where(Loan.uscc == row.uscc, Loan.status != LoanStatus.SETTLED)
                    .order_by(Loan.maturity_date)
                    .limit(1)
                ).scalar_one_or_none()
            now = self.clock()
            loan = Loan(
                loan_id=self.new_id(),
                application_id=row.application_id,
                uscc=row.uscc,
                branch_id=row.branch_id,
                product_code=row.offer_product or "",
                principal=row.accepted_amount,
                annual_rate_bp=row.offer_rate_bp or 0,
                term_months=row.offer_term_months,
                repayment_method=row.offer_repayment_method or "equal_instalment",
                disbursed_on=day,
                maturity_date=add_months(day, row.offer_term_months),
                outstanding_principal=row.accepted_amount,
                status=LoanStatus.REPAYING,
                overdue_days=0,
                classification=LoanClass.NORMAL.value,
                is_first_loan=facts.is_first_loan,
                renewal_of_loan_id=renewed,
                disbursal_reference=reference,
                created_at=now,
                updated_at=now,
            )
            session.add(loan)
            session.flush()  # the unique application_id refuses a second loan here
            # The core system dedups by reference, so a retry after a crash pays once.
            self.core_banking.transfer(
                reference=reference, uscc=row.uscc, amount=row.accepted_amount
            )

        return self._machine.move(
            application_id,
            Step("disburse", **step),
            S.DISBURSED,
            detail={"disbursed_on": day.isoformat()},
            after=book,
            lock=True,
        )

    def withdraw(
        self, application_id: str, reason: str = "applicant withdrew", **step: Any
    ) -> LoanApplication:
        return self._machine.move(
            application_id, Step("withdraw", **step), S.WITHDRAWN, detail={"reason": reason}
        )

    def expire(self, application_id: str, **step: Any) -> LoanApplication:
        return self._machine.move(application_id, Step("expire", **step), S.EXPIRED)

    def set_servicing_state(
        self, application_id: str, target: ApplicationState, detail: Mapping[str, Any], **step: Any
    ) -> LoanApplication:
        """For servicing: disbursed/repaying/overdue → repaying/overdue/defaulted/settled."""
        action = {
            S.REPAYING: "repaying",
            S.OVERDUE: "overdue",
            S.DEFAULTED: "default",
            S.SETTLED: "settle",
        }[target]
        return self._machine.move(application_id, Step(action, **step), target, detail=detail)

    # --- resume -----------------------------------------------------------------------------

    def advance(self, application_id: str, consent_id: str | None = None) -> LoanApplication:
        """Run the bank's automatic steps from wherever the application stands (after a crash
        too) until it needs the applicant, a reviewer, or is decided."""
        row = self.get(application_id)
        while S(row.state) in AUTOMATIC_NEXT:
            action = AUTOMATIC_NEXT[S(row.state)]
            if action == "authorize":
                row = self.authorize(application_id, consent_id)
            else:
                row = getattr(self, action)(application_id)
        return row

    def review_queue(self, branch_id: str | None = None) -> list[ManualReview]:
        """Open manual reviews, oldest first (optionally one branch's)."""
        with self.sessions() as session:
            query = select(ManualReview).where(ManualReview.resolved_at.is_(None))
            if branch_id:
                query = query.where(ManualReview.branch_id == branch_id)
            return list(session.execute(query.order_by(ManualReview.queued_at)).scalars())
