"""Servicing on the store: repayments, the daily days-past-due and classification refresh, and
the application's servicing states (repaying / overdue / defaulted / settled) kept in step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.origination.service import OriginationService
from puhui.actions.origination.states import OriginationError
from puhui.actions.servicing.schedule import build_schedule, overdue_days, split_payment
from puhui.data.store.audit import append_audit
from puhui.data.store.origination_tables import (
    ApplicationState,
    Loan,
    LoanApplication,
    LoanRepayment,
    LoanStatus,
)
from puhui.data.store.tables import utc_now
from puhui.decisions.classification import ClassificationRules, classify

S = ApplicationState


class RepaymentError(OriginationError):
    """A repayment that cannot be booked (unknown or settled loan, non-positive amount)."""


@dataclass(frozen=True)
class RefreshSummary:
    loans: int
    overdue: int
    defaulted: int


class ServicingService:
    """Books repayments and refreshes days past due; moves applications through servicing."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        origination: OriginationService,
        rules: ClassificationRules | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sessions = session_factory
        self.origination = origination
        self.rules = rules or ClassificationRules()
        self.clock = clock

    def loan_for(self, application_id: str) -> Loan:
        with self.sessions() as session:
            loan = session.execute(
                select(Loan).where(Loan.application_id == application_id)
            ).scalar_one_or_none()
        if loan is None:
            raise RepaymentError(f"application {application_id} has no disbursed loan")
        return loan

    def repay(
        self, loan_id: str, amount: Decimal, paid_on: date, idempotency_key: str
    ) -> LoanRepayment:
        """Book a repayment once per key; interest first, then principal; settle at zero."""
        if amount <= 0:
            raise RepaymentError(f"loan {loan_id}: repayment amount must be positive, got {amount}")
        with self.sessions.begin() as session:
            done = session.execute(
                select(LoanRepayment).where(LoanRepayment.idempotency_key == idempotency_key)
            ).scalar_one_or_none()
            if done is not None:
                return done
            loan = session.execute(
                select(Loan).where(Loan.loan_id == loan_id).with_for_update()
            ).scalar_one_or_none()
            if loan is None:
                raise RepaymentError(f"no loan {loan_id}")
            if loan.status == LoanStatus.SETTLED:
                raise RepaymentError(f"loan {loan_id} is already settled")
            paid = _paid(session, loan_id)
            schedule = build_schedule(
                loan.principal,
                loan.annual_rate_bp,
                loan.term_months,
                loan.repayment_method,
                loan.disbursed_on,
            )
            principal, _ = split_payment(schedule, paid, amount, paid_on)
            principal = min(principal, loan.outstanding_principal)
            row = LoanRepayment(
                loan_id=loan_id,
                paid_on=paid_on,
                amount=amount,
                principal=principal,
                interest=amount - principal,
                idempotency_key=idempotency_key,
                recorded_at=self.clock(),
            )
            session.add(row)
            loan.outstanding_principal = loan.outstanding_principal - principal
            loan.updated_at = self.clock()
            if loan.outstanding_principal <= 0:
                loan.status = LoanStatus.SETTLED
                loan.overdue_days = 0
            append_audit(
                session,
                actor="core_banking",
                actor_role="system",
                action="servicing.repay",
                subject_type="loan",
                subject_id=loan_id,
                detail={"amount": str(amount), "principal": str(principal)},
                occurred_at=self.clock(),
            )
            application_id, settled = loan.application_id, loan.status == LoanStatus.SETTLED
        self._sync_application(application_id, settled=settled, overdue=0, defaulted=False)
        return row

    def refresh(self, as_of: date) -> RefreshSummary:
        """Recompute days past due and 五级分类 for every open loan as of ``as_of``."""
        changed: list[tuple[str, int, bool]] = []
        counts = {"loans": 0, "overdue": 0, "defaulted": 0}
        with self.sessions.begin() as session:
            loans = session.execute(select(Loan).where(Loan.status != LoanStatus.SETTLED)).scalars()
            paid_by_loan = dict(
                session.execute(
                    select(LoanRepayment.loan_id, func.sum(LoanRepayment.amount)).group_by(
                        LoanRepayment.loan_id
                    )
                ).all()
            )
            for loan in loans:
                counts["loans"] += 1
                schedule = build_schedule(
                    loan.principal,
                    loan.annual_rate_bp,
                    loan.term_months,
                    loan.repayment_method,
                    loan.disbursed_on,
                )
                paid = _as_money(paid_by_loan.get(loan.loan_id))
                days = overdue_days(schedule, paid, as_of)
                defaulted = days > self.rules.default_after_days
                status = (
                    LoanStatus.DEFAULTED
                    if defaulted
                    else LoanStatus.OVERDUE
                    if days > 0
                    else LoanStatus.REPAYING
                )
                counts["overdue"] += days > 0
                counts["defaulted"] += defaulted
                if (loan.overdue_days, loan.status) != (days, status.value):
                    loan.overdue_days = days
                    loan.status = status.value
                    loan.classification = classify(days, self.rules).value
                    loan.updated_at = self.clock()
                    changed.append((loan.application_id, days, defaulted))
        for application_id, days, defaulted in changed:
            self._sync_application(application_id, settled=False, overdue=days, defaulted=defaulted)
        return RefreshSummary(counts["loans"], counts["overdue"], counts["defaulted"])

    def _sync_application(
        self, application_id: str, *, settled: bool, overdue: int, defaulted: bool
    ) -> None:
        """Move the application to the servicing state the loan is in, if it is not there."""
        with self.sessions() as session:
            state = S(session.get(LoanApplication, application_id).state)  # type: ignore[union-attr]
        target = (
            S.SETTLED
            if settled
            else S.DEFAULTED
            if defaulted
            else S.OVERDUE
            if overdue > 0
            else S.REPAYING
        )
        path = {
            (S.DISBURSED, S.DEFAULTED): [S.OVERDUE, S.DEFAULTED],
            (S.REPAYING, S.DEFAULTED): [S.OVERDUE, S.DEFAULTED],
        }.get((state, target), [target])
        for step in path:
            if state == step or state in {S.SETTLED, S.DEFAULTED}:
                continue
            self.origination.set_servicing_state(
                application_id, step, {"overdue_days": overdue}, actor="servicing"
            )
            state = step


def _paid(session: Session, loan_id: str) -> Decimal:
    total = session.execute(
        select(func.sum(LoanRepayment.amount)).where(LoanRepayment.loan_id == loan_id)
    ).scalar_one()
    return _as_money(total)


def _as_money(value: object) -> Decimal:
    """A SUM over Money: Decimal yuan on servers, integer fen on SQLite (no type on aggregates)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, int):
        return Decimal(value) / 100
    return Decimal(str(value))
