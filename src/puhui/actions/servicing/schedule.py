"""Repayment schedules and days past due (pure, Decimal to the fen).

- 等额本息 ``equal_instalment``: the same monthly payment; interest on the remaining principal.
- 先息后本 ``interest_only_balloon``: monthly interest, all principal on the last date.
- 随借随还 ``revolving``: a line; puhui treats it as drawn in full at disbursal, monthly interest
  on the balance, principal due at maturity (early repayment any time).

Interest is monthly at annual_rate / 12 (no day count); the last instalment absorbs rounding.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from puhui.data.store.origination_tables import RepaymentMethod
from puhui.errors import PuhuiError

FEN = Decimal("0.01")


class ScheduleError(PuhuiError):
    """A schedule that cannot be built (non-positive principal or term, unknown method)."""


@dataclass(frozen=True)
class Instalment:
    number: int
    due_on: date
    principal: Decimal
    interest: Decimal

    @property
    def amount(self) -> Decimal:
        return self.principal + self.interest


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clipped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def build_schedule(
    principal: Decimal,
    annual_rate_bp: int,
    term_months: int,
    method: RepaymentMethod | str,
    start: date,
) -> list[Instalment]:
    """Monthly instalments from ``start`` (the disbursal date) for ``term_months``."""
    if principal <= 0 or term_months <= 0:
        raise ScheduleError(
            f"schedule needs a positive principal and term (got {principal}, {term_months})"
        )
    method = RepaymentMethod(method)
    rate = Decimal(annual_rate_bp) / Decimal(10000) / Decimal(12)
    dates = [add_months(start, n) for n in range(1, term_months + 1)]
    if method is RepaymentMethod.EQUAL_INSTALMENT:
        return _equal_instalment(principal, rate, dates)
    interest = (principal * rate).quantize(FEN, ROUND_HALF_UP)
    return [
        Instalment(n, due, principal if n == term_months else Decimal("0.00"), interest)
        for n, due in enumerate(dates, start=1)
    ]


def _equal_instalment(principal: Decimal, rate: Decimal, dates: Sequence[date]) -> list[Instalment]:
    n = len(dates)
    if rate == 0:
        payment = (principal / n).quantize(FEN, ROUND_HALF_UP)
    else:
        growth = (1 + rate) ** n
        payment = (principal * rate * growth / (growth - 1)).quantize(FEN, ROUND_HALF_UP)
    remaining = principal
    rows = []
    for number, due in enumerate(dates, start=1):
        interest = (remaining * rate).quantize(FEN, ROUND_HALF_UP)
        part = remaining if number == n else min(payment - interest, remaining)
        remaining -= part
        rows.append(Instalment(number, due, part, interest))
    return rows


def overdue_days(schedule: Sequence[Instalment], paid: Decimal, as_of: date) -> int:
    """Days past due: from the oldest instalment not covered by what was paid (payments fill
    instalments oldest first), counted to ``as_of``; 0 if everything due is paid."""
    covered = paid
    for instalment in schedule:
        if instalment.due_on >= as_of:
            return 0
        if covered >= instalment.amount:
            covered -= instalment.amount
            continue
        return (as_of - instalment.due_on).days
    return 0


def split_payment(
    schedule: Sequence[Instalment], paid_before: Decimal, amount: Decimal, paid_on: date
) -> tuple[Decimal, Decimal]:
    """(principal, interest) of a payment of ``amount`` after ``paid_before``: instalments due
    on or before ``paid_on`` are filled oldest first, interest before principal within each;
    anything beyond is early repayment of principal."""
    position, principal, interest = paid_before, Decimal(0), Decimal(0)
    remaining = amount
    for instalment in schedule:
        if remaining <= 0 or instalment.due_on > paid_on:
            break
        if position >= instalment.amount:
            position -= instalment.amount
            continue
        interest_left = max(instalment.interest - position, Decimal(0))
        take = min(interest_left, remaining)
        interest += take
        remaining -= take
        position = max(position - instalment.interest, Decimal(0))
        take = min(instalment.principal - position, remaining)
        principal += take
        remaining -= take
        position = Decimal(0)
    return principal + remaining, interest
