"""Credit reports as the bureau serves them (企业/个人信用报告), and the bureau interface.

The shapes are the parts of a PBoC report that puhui's decisions read: current balances and
arrears, classification, guarantees, a monthly history and the recent query count (many
recent queries by other lenders is itself a risk signal). Money is ``Decimal`` yuan.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from puhui.data.identifiers import mask_id_number
from puhui.errors import PuhuiError


class BureauError(PuhuiError):
    """The bureau could not serve a report."""


class SubjectNotInBureauError(BureauError):
    """The bureau holds no report for this firm or person as of the date asked."""


class EnterpriseMonth(BaseModel):
    model_config = ConfigDict(frozen=True)

    month: date
    lender_count: int
    loan_balance: Decimal
    overdue_amount: Decimal
    max_overdue_days: int


class EnterpriseReport(BaseModel):
    """企业信用报告 as of a date: the latest month on file and up to 24 months of history."""

    model_config = ConfigDict(frozen=True)

    uscc: str
    as_of: date
    report_month: date
    lender_count: int
    loan_balance: Decimal
    overdue_amount: Decimal
    max_overdue_days: int
    non_performing_balance: Decimal
    special_mention_balance: Decimal
    guarantee_balance: Decimal
    ever_borrowed: bool
    queries_last_12_months: int
    history: tuple[EnterpriseMonth, ...]


class PersonalReport(BaseModel):
    """个人信用报告 as of a date (legal representatives, spouses, shareholders)."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    as_of: date
    report_month: date | None
    marital_status: str
    education: str | None
    first_credit_on: date | None
    loan_count: int
    loan_balance: Decimal
    card_count: int
    card_limit: Decimal
    card_used: Decimal
    overdue_accounts: int
    overdue_amount: Decimal
    worst_status_24m: int
    queries_last_12_months: int

    @property
    def masked_person_id(self) -> str:
        return mask_id_number(self.person_id)


class CreditBureau(Protocol):
    """What the gateway needs from a bureau connection (simulated here; PBoC's front-end in
    production)."""

    def enterprise_report(self, uscc: str, as_of: date) -> EnterpriseReport: ...

    def personal_report(self, person_id: str, as_of: date) -> PersonalReport: ...
