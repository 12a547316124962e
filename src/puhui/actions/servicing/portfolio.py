"""普惠金融口径 · portfolio figures by branch: balance, borrowers, first-loan borrowers, NPL.

Inclusive small-micro scope: borrowers whose total credit at the bank is at most 10 million
yuan (configurable). NPL = 次级 + 可疑 + 损失 balance over the total balance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from puhui.data.store.origination_tables import Loan, LoanStatus
from puhui.decisions.classification import is_non_performing

INCLUSIVE_CREDIT_CAP = Decimal(10_000_000)


@dataclass(frozen=True)
class LoanPosition:
    branch_id: str | None
    uscc: str
    principal: Decimal
    outstanding: Decimal
    classification: str
    is_first_loan: bool


@dataclass(frozen=True)
class BranchFigures:
    branch_id: str
    loans: int
    balance: Decimal
    borrowers: int
    first_loan_borrowers: int
    npl_balance: Decimal
    inclusive_balance: Decimal
    inclusive_borrowers: int

    @property
    def npl_ratio(self) -> Decimal:
        if self.balance == 0:
            return Decimal(0)
        return (self.npl_balance / self.balance).quantize(Decimal("0.0001"))


def branch_figures(
    positions: Iterable[LoanPosition], inclusive_cap: Decimal = INCLUSIVE_CREDIT_CAP
) -> list[BranchFigures]:
    """One row per branch plus ``ALL``, over open loans' outstanding principal (pure)."""
    positions = [p for p in positions if p.outstanding > 0]
    credit: dict[str, Decimal] = {}
    for p in positions:
        credit[p.uscc] = credit.get(p.uscc, Decimal(0)) + p.principal
    groups: dict[str, list[LoanPosition]] = {}
    for p in positions:
        groups.setdefault(p.branch_id or "unassigned", []).append(p)
    groups["ALL"] = positions
    rows = []
    for branch, items in sorted(groups.items()):
        inclusive = [p for p in items if credit[p.uscc] <= inclusive_cap]
        rows.append(
            BranchFigures(
                branch_id=branch,
                loans=len(items),
                balance=sum((p.outstanding for p in items), Decimal(0)),
                borrowers=len({p.uscc for p in items}),
                first_loan_borrowers=len({p.uscc for p in items if p.is_first_loan}),
                npl_balance=sum(
                    (p.outstanding for p in items if is_non_performing(p.classification)),
                    Decimal(0),
                ),
                inclusive_balance=sum((p.outstanding for p in inclusive), Decimal(0)),
                inclusive_borrowers=len({p.uscc for p in inclusive}),
            )
        )
    return rows


def load_positions(session: Session) -> list[LoanPosition]:
    """Open loans from the store."""
    rows = session.execute(select(Loan).where(Loan.status != LoanStatus.SETTLED)).scalars()
    return [
        LoanPosition(
            r.branch_id,
            r.uscc,
            r.principal,
            r.outstanding_principal,
            r.classification,
            r.is_first_loan,
        )
        for r in rows
    ]
