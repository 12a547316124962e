"""Month-end performance of every loan: balance, what was due, what was paid, days overdue.

Schedules follow the repayment method (等额本息 annuity, 按月付息到期还本 balloon, or a
revolving line whose drawn share rises as health falls). Before a loan stops, a firm under
strain sometimes misses a payment and catches up the next month (a cured delinquency); after
it stops nothing is paid, the overdue amount and days grow, and the five-category
classification follows the day thresholds until the loan is written off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from puhui.data.simulate.config import ClassificationRules
from puhui.data.simulate.health import NEVER, Health
from puhui.data.simulate.lending import Loans, first_month_past, overdue_days
from puhui.data.simulate.population import Firms
from puhui.data.simulate.timeline import Timeline

CLASSES = np.array(["normal", "special_mention", "substandard", "doubtful", "loss"])
STATUSES = np.array(["active", "repaid", "renewed", "written_off"])
ACTIVE, REPAID, RENEWED, WRITTEN_OFF = range(4)
LOAN_BLOCK = 25_000


@dataclass
class LoanMonths:
    """bank_loan_monthly rows, ordered by firm, loan and month."""

    loan: np.ndarray
    firm: np.ndarray
    month: np.ndarray
    outstanding: np.ndarray
    scheduled: np.ndarray
    repaid: np.ndarray
    overdue_days: np.ndarray
    overdue_amount: np.ndarray
    classification: np.ndarray  # codes into CLASSES
    status: np.ndarray  # codes into STATUSES


def classify_codes(
    days: np.ndarray, recently_missed: np.ndarray, rules: ClassificationRules
) -> np.ndarray:
    """五级分类 as codes into CLASSES: >loss 损失, >doubtful 可疑, >substandard 次级, >0 关注.

    A loan that missed a payment in the last two months stays 关注 after catching up.
    """
    level = np.where(
        days > rules.loss_days,
        4,
        np.where(
            days > rules.doubtful_days,
            3,
            np.where(
                days > rules.substandard_days, 2, np.where((days > 0) | recently_missed, 1, 0)
            ),
        ),
    )
    return level.astype(np.int8)


def classify(
    days: np.ndarray, recently_missed: np.ndarray, rules: ClassificationRules
) -> np.ndarray:
    """五级分类 names (正常 normal … 损失 loss) for days overdue."""
    return CLASSES[classify_codes(days, recently_missed, rules)]


def loan_months(
    rng: np.random.Generator,
    loans: Loans,
    firms: Firms,
    health: Health,
    timeline: Timeline,
    rules: ClassificationRules,
) -> LoanMonths:
    """Every loan's rows from its first window month until it closes or the window ends.

    Loans are processed in blocks so the temporaries of a million-firm book stay small.
    """
    months = timeline.months
    disbursed = loans.disbursed_month(timeline)
    maturity = loans.maturity_month(timeline)
    stopped = loans.stop_month < NEVER
    loss_month = np.full(loans.n, NEVER, dtype=np.int64)
    loss_month[stopped] = first_month_past(
        timeline, loans.stop_month[stopped], firms.due_day[loans.firm[stopped]], rules.loss_days
    )
    write_off = np.where(stopped, loss_month + rng.integers(1, 7, loans.n), NEVER)
    first = np.maximum(disbursed, 0)
    last = np.where(stopped, np.minimum(write_off, months - 1), np.minimum(maturity, months - 1))
    count = np.maximum(last - first + 1, 0)
    schedule = _Schedule(disbursed, maturity, first, count, write_off)
    blocks = [
        _block(
            rng,
            np.arange(lo, min(lo + LOAN_BLOCK, loans.n)),
            loans,
            schedule,
            firms,
            health,
            timeline,
            rules,
        )
        for lo in range(0, loans.n, LOAN_BLOCK)
    ]
    parts = {
        name: np.concatenate([getattr(b, name) for b in blocks]) if blocks else np.array([])
        for name in LoanMonths.__dataclass_fields__
    }
    order = np.lexsort((parts["month"], parts["loan"], parts["firm"]))
    return LoanMonths(**{name: values[order] for name, values in parts.items()})


@dataclass(frozen=True)
class _Schedule:
    disbursed: np.ndarray
    maturity: np.ndarray
    first: np.ndarray
    count: np.ndarray
    write_off: np.ndarray


def _block(
    rng: np.random.Generator,
    chosen: np.ndarray,
    loans: Loans,
    schedule: _Schedule,
    firms: Firms,
    health: Health,
    timeline: Timeline,
    rules: ClassificationRules,
) -> LoanMonths:
    """Rows of the loans ``chosen`` (a contiguous block of loan numbers)."""
    months = timeline.months
    disbursed, maturity = schedule.disbursed, schedule.maturity
    count = schedule.count[chosen]
    row_loan = np.repeat(chosen, count)
    offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    t = schedule.first[row_loan] + offsets
    k = t - disbursed[row_loan]  # payments made so far
    n_term = loans.term[row_loan]
    principal = loans.principal[row_loan]
    rate = loans.rate_bp[row_loan] / 10_000 / 12
    method = loans.method[row_loan]
    firm = loans.firm[row_loan]
    h = health.h[firm, np.clip(t, 0, months - 1)].astype(np.float64)

    annuity = principal * rate / (1 - (1 + rate) ** -n_term)
    growth = (1 + rate) ** np.minimum(k, n_term)
    instalment_balance = np.maximum(principal * growth - annuity * (growth - 1) / rate, 0)
    drawn_share = np.clip(0.55 - 0.2 * h + rng.normal(0, 0.08, len(t)), 0.15, 1.0)
    balance = np.where(
        method == "equal_instalment",
        instalment_balance,
        np.where(method == "revolving", principal * drawn_share, principal),
    )
    at_maturity = k >= n_term
    interest = np.where(method == "equal_instalment", 0.0, balance * rate)
    scheduled = np.where(method == "equal_instalment", annuity, interest)
    scheduled = np.where(
        at_maturity & (method != "equal_instalment"), balance + interest, scheduled
    )
    scheduled = np.where((k <= 0) | (k > n_term), 0.0, scheduled)
    balance = np.where(at_maturity, 0.0, balance)

    stop = loans.stop_month[row_loan]
    unpaid = t >= stop
    # The balance stays where it was when payments stopped (a revolving line is drawn in full).
    k_stop = np.where(unpaid, stop - disbursed[row_loan], 1)
    growth_stop = (1 + rate) ** np.clip(k_stop - 1, 0, n_term)
    frozen = np.where(
        method == "equal_instalment",
        np.maximum(principal * growth_stop - annuity * (growth_stop - 1) / rate, 0),
        np.where(method == "revolving", principal * 0.95, principal),
    )
    cumulative = _cumsum_from(scheduled, unpaid, row_loan)
    months_unpaid = np.where(unpaid, t - stop + 1, 0)
    overdue_amount = np.where(
        unpaid, np.minimum(cumulative, frozen * (1 + rate * months_unpaid)), 0.0
    )
    days = np.where(
        unpaid, overdue_days(timeline, np.where(unpaid, stop, 0), firms.due_day[firm], t), 0
    )
    repaid = np.where(unpaid, 0.0, scheduled)
    outstanding = np.where(unpaid, frozen, balance)

    # Cured delinquencies: a payment missed under strain and caught up the month after.
    strain = (h < -1.2) & ~unpaid & (k >= 1) & (k < n_term)
    missed = strain & (rng.random(len(t)) < 0.25) | (
        ~unpaid & (k >= 1) & (k < n_term) & (rng.random(len(t)) < 0.002)
    )
    missed &= scheduled > 0
    short_days = np.maximum(
        timeline.ends[np.clip(t, 0, months - 1)]
        - (timeline.starts[np.clip(t, 0, months - 1)] + firms.due_day[firm] - 1)
        + 1,
        1,
    )
    days = np.where(missed, short_days, days)
    overdue_amount = np.where(missed, scheduled, overdue_amount)
    catch_up = _earlier(missed, row_loan, 1)
    previous_due = np.r_[0.0, scheduled[:-1]] if len(t) else scheduled
    repaid = np.where(missed, 0.0, repaid + np.where(catch_up & ~unpaid, previous_due, 0.0))
    recently = catch_up | _earlier(missed, row_loan, 2)

    status = np.zeros(len(t), dtype=np.int8)
    closing = (t == maturity[row_loan]) & ~unpaid
    status[closing] = np.where(loans.outcome[row_loan][closing] == "renewed", RENEWED, REPAID)
    written = unpaid & (t == schedule.write_off[row_loan])
    status[written] = WRITTEN_OFF
    classification = classify_codes(days, recently, rules)
    outstanding = np.where(written | closing, 0.0, outstanding)
    overdue_amount = np.where(written, 0.0, overdue_amount)

    return LoanMonths(
        loan=row_loan,
        firm=firm,
        month=t,
        outstanding=np.round(outstanding, 2),
        scheduled=np.round(scheduled, 2),
        repaid=np.round(repaid, 2),
        overdue_days=days.astype(np.int64),
        overdue_amount=np.round(overdue_amount, 2),
        classification=classification,
        status=status,
    )


def _earlier(flags: np.ndarray, row_loan: np.ndarray, lag: int) -> np.ndarray:
    """``flags`` of the same loan ``lag`` months earlier (False where there is no such row)."""
    out = np.zeros(len(flags), dtype=bool)
    if len(flags) > lag:
        out[lag:] = flags[:-lag] & (row_loan[lag:] == row_loan[:-lag])
    return out


def _cumsum_from(values: np.ndarray, active: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` over the ``active`` rows of each group."""
    masked = np.where(active, values, 0.0)
    total = np.cumsum(masked)
    starts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(group)])
    before = np.repeat(total[starts] - masked[starts], sizes)
    return total - before
