"""The bank's loan book: loans at the window start, loans from approved applications, renewals.

A loan stops being paid when its borrower fails (health below the failure level) or, for
fraud, shortly after the money arrives (bust-out). At maturity a loan in good standing is
renewed (续贷) or repaid. A firm *defaults* the first month any of its debts, here or with
other lenders, is more than ``substandard_days`` (90) days overdue.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from puhui.data.simulate.applications import Applications, _own_applications
from puhui.data.simulate.bank import Bank
from puhui.data.simulate.fraud import DATA_FARMING, IDENTITY_THEFT, SHELL
from puhui.data.simulate.health import NEVER, Health
from puhui.data.simulate.people import People
from puhui.data.simulate.population import Firms
from puhui.data.simulate.timeline import MICROS_PER_DAY, Timeline

LPR_BP = ((np.datetime64("2025-05", "M"), 300), (np.datetime64("1900-01", "M"), 345))
RENEWAL_RATE = 0.75


@dataclass
class Loans:
    """One row per loan (借据)."""

    firm: np.ndarray
    product: np.ndarray
    disbursed_day: np.ndarray
    term: np.ndarray  # months
    principal: np.ndarray
    rate_bp: np.ndarray
    method: np.ndarray
    application: np.ndarray  # index into the numbered applications, -1 if none
    stop_month: np.ndarray  # month payments stop (NEVER if they do not)
    outcome: np.ndarray  # "" (running), "repaid", "renewed"

    @property
    def n(self) -> int:
        return len(self.firm)

    def concat(self, other: Loans) -> Loans:
        return Loans(
            **{
                f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                for f in fields(self)
            }
        )

    def disbursed_month(self, timeline: Timeline) -> np.ndarray:
        return timeline.month_of_day(self.disbursed_day)

    def maturity_month(self, timeline: Timeline) -> np.ndarray:
        return self.disbursed_month(timeline) + self.term


def lpr_bp(month_start_day: np.ndarray) -> np.ndarray:
    """The 1-year LPR in basis points in force in a month (configuration defaults of DOMAIN.md)."""
    month = np.asarray(month_start_day).astype("datetime64[D]").astype("datetime64[M]")
    return np.where(month >= LPR_BP[0][0], LPR_BP[0][1], LPR_BP[1][1])


def _terms(rng: np.random.Generator, n: int, long_share: float) -> tuple[np.ndarray, np.ndarray]:
    long = rng.random(n) < long_share
    term = np.where(long, 36, 12)
    method = np.where(
        long,
        "equal_instalment",
        np.where(rng.random(n) < 0.4, "revolving", "interest_only_balloon"),
    )
    return term, method


def _price(rng: np.random.Generator, firms: Firms, firm: np.ndarray, day: np.ndarray) -> np.ndarray:
    """LPR plus a risk spread: weaker firms pay more (what the bank's pricing would see)."""
    spread = 80 + 60 * np.clip(-firms.quality[firm], -1.5, 2.5) + rng.normal(40, 25, len(firm))
    return np.clip(np.round(lpr_bp(day) + np.clip(spread, 20, 400)), 250, 2400).astype(np.int64)


def starting_loans(rng: np.random.Generator, firms: Firms, bank: Bank, timeline: Timeline) -> Loans:
    """Loans already on the books when the window opens (some firms hold two)."""
    holders = np.flatnonzero(bank.borrower_at_start)
    second = holders[rng.random(len(holders)) < 0.15]
    firm = np.concatenate([holders, second])
    n = len(firm)
    term, method = _terms(rng, n, 0.3)
    offset = (rng.random(n) * term).astype(np.int64)
    day = np.maximum(timeline.day_in_month(-offset, rng.random(n)), firms.founded_day[firm] + 60)
    product = np.where(rng.random(n) < 0.3, "offline_sme", "xiaowei_edai")
    principal = np.clip(np.round(firms.revenue[firm] * rng.uniform(0.08, 0.25, n), -4), 1e5, 1e7)
    np.minimum.at(bank.opened_day, firm, np.maximum(day - 30, firms.founded_day[firm]))
    return Loans(
        firm,
        product,
        day,
        term,
        principal,
        _price(rng, firms, firm, day),
        method,
        np.full(n, -1),
        np.full(n, NEVER),
        np.full(n, "", dtype="<U7"),
    )


def application_loans(
    rng: np.random.Generator, firms: Firms, bank: Bank, apps: Applications, timeline: Timeline
) -> Loans:
    """A loan for every approved application, paid out within days."""
    approved = np.flatnonzero(apps.decision == "approved")
    day = apps.applied_us[approved] // MICROS_PER_DAY + rng.integers(0, 6, len(approved))
    keep = day <= timeline.last_day
    approved, day = approved[keep], day[keep]
    firm = apps.firm[approved]
    term, method = _terms(rng, len(firm), 0.3)
    bank.become_customer(rng, firm, day)
    return Loans(
        firm,
        apps.product[approved],
        day,
        term,
        apps.approved[approved],
        _price(rng, firms, firm, day),
        method,
        approved,
        np.full(len(firm), NEVER),
        np.full(len(firm), "", dtype="<U7"),
    )


def apply_stops(
    rng: np.random.Generator,
    loans: Loans,
    firms: Firms,
    health: Health,
    fraud_of_loan: np.ndarray,
    timeline: Timeline,
) -> None:
    """When each loan stops being paid: at the borrower's failure, or at a fraud bust-out.

    Shells and absconding data farmers fail with their bust-out, so every other source sees
    the firm go dark; an identity-theft victim keeps trading and only this loan goes bad.
    """
    start = loans.disbursed_month(timeline)
    stop = health.failure_month[loans.firm].astype(np.int64)
    bust = (fraud_of_loan == SHELL) | (fraud_of_loan == IDENTITY_THEFT)
    farmer_bust = (fraud_of_loan == DATA_FARMING) & (rng.random(loans.n) < 0.45)
    bust_month = start + np.where(
        farmer_bust, rng.integers(3, 9, loans.n), rng.integers(1, 3, loans.n)
    )
    stop = np.where(bust | farmer_bust, np.minimum(stop, bust_month), stop)
    stop = np.maximum(stop, start + 1)
    loans.stop_month = np.where(stop <= loans.maturity_month(timeline), stop, NEVER)
    absconds = (farmer_bust | (fraud_of_loan == SHELL)) & (loans.stop_month < NEVER)
    np.minimum.at(health.failure_month, loans.firm[absconds], loans.stop_month[absconds])


def _roll_over(
    rng: np.random.Generator,
    batch: Loans,
    firms: Firms,
    people: People,
    bank: Bank,
    health: Health,
    timeline: Timeline,
    app_base: int,
) -> tuple[Loans, Applications]:
    """Loans of ``batch`` maturing in the window: 续贷 for firms in good standing, else repaid."""
    months = timeline.months
    maturity = batch.maturity_month(timeline)
    idx = np.flatnonzero((maturity >= 0) & (maturity < months) & (batch.stop_month == NEVER))
    firm, t = batch.firm[idx], maturity[idx]
    alive = health.failure_month[firm] > t
    healthy = alive & (health.h[firm, np.clip(t, 0, months - 1)] > -1.4) & ~firms.is_shell[firm]
    wants = healthy & (rng.random(len(idx)) < RENEWAL_RATE)
    asks = wants | (alive & ~healthy & (rng.random(len(idx)) < 0.5))
    batch.outcome[idx] = np.where(wants, "renewed", "repaid")
    apps = _own_applications(
        rng,
        firms,
        people,
        bank,
        timeline,
        firm[asks],
        t[asks],
        0,
        np.full(int(asks.sum()), "renewal", dtype="<U14"),
    )
    rolled = idx[wants]
    renewed_principal = np.round(batch.principal[rolled] * rng.uniform(0.9, 1.15, len(rolled)), -4)
    apps.requested = batch.principal[idx][asks]
    apps.requested[wants[asks]] = renewed_principal
    apps.decision = np.where(wants[asks], "approved", "rejected").astype("<U9")
    apps.approved = np.where(wants[asks], apps.requested, np.nan)
    app_index = app_base + (np.cumsum(asks) - 1)[wants]
    day_of_month = batch.disbursed_day[rolled] - timeline.month_start_days(
        batch.disbursed_month(timeline)[rolled]
    )
    day = np.minimum(
        timeline.month_start_days(maturity[rolled]) + day_of_month,
        timeline.month_end_days(maturity[rolled]),
    )
    apps.applied_us[wants[asks]] = np.minimum(
        apps.applied_us[wants[asks]], day * MICROS_PER_DAY - 3_600_000_000
    )
    n = len(rolled)
    term, method = _terms(rng, n, 0.0)
    nxt = Loans(
        batch.firm[rolled],
        np.full(n, "renewal", dtype="<U14"),
        day,
        term,
        renewed_principal,
        _price(rng, firms, batch.firm[rolled], day),
        method,
        app_index,
        np.full(n, NEVER),
        np.full(n, "", dtype="<U7"),
    )
    return nxt, apps


def build_loan_book(
    rng: np.random.Generator,
    firms: Firms,
    people: People,
    bank: Bank,
    health: Health,
    apps: Applications,
    timeline: Timeline,
) -> tuple[Loans, Applications]:
    """Every loan of the window and the renewal applications that rolled them over.

    ``apps`` are the decided genuine and fraudulent applications; renewal applications are
    appended after them, and each loan's ``application`` indexes that combined list.
    """
    book = starting_loans(rng, firms, bank, timeline).concat(
        application_loans(rng, firms, bank, apps, timeline)
    )
    fraud = np.where(book.application >= 0, apps.fraud_type[np.maximum(book.application, 0)], 0)
    apply_stops(rng, book, firms, health, fraud, timeline)
    batches, renewal_apps = [book], []
    app_base = apps.n
    batch = book
    while batch.n:
        batch, made = _roll_over(rng, batch, firms, people, bank, health, timeline, app_base)
        apply_stops(rng, batch, firms, health, np.zeros(batch.n, dtype=np.int8), timeline)
        app_base += made.n
        batches.append(batch)
        renewal_apps.append(made)
    loans = batches[0]
    for extra in batches[1:]:
        loans = loans.concat(extra)
    renewed = Applications.concat(renewal_apps)
    np.minimum.at(bank.opened_day, loans.firm, loans.disbursed_day)
    return loans, renewed


@dataclass
class EmergencyBorrowing:
    """New lenders (microcredit, other banks) a firm under strain turns to: up to two each."""

    first_month: np.ndarray  # NEVER if none
    second_month: np.ndarray
    size: np.ndarray  # yuan per new lender

    def lenders_by(self, month: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """(firms lo..hi, months): how many emergency lenders each firm has by each month."""
        month = np.asarray(month)[None, :]
        return (month >= self.first_month[lo:hi, None]).astype(np.int64) + (
            month >= self.second_month[lo:hi, None]
        )


def emergency_borrowing(
    rng: np.random.Generator, firms: Firms, health: Health
) -> EmergencyBorrowing:
    """Firms below −1.3 and not yet failed take a new lender with 12% chance a month (≤ 2)."""
    n, months = health.h.shape
    first = np.full(n, NEVER, dtype=np.int64)
    second = np.full(n, NEVER, dtype=np.int64)
    for t in range(months):
        open_ = (firms.founded_month <= t) & (firms.closed_month > t) & (health.failure_month > t)
        new = open_ & (health.h[:, t] < -1.3) & (second == NEVER) & (rng.random(n) < 0.12)
        second = np.where(new & (first < NEVER), t, second)
        first = np.where(new & (first == NEVER), t, first)
    return EmergencyBorrowing(first, second, firms.revenue * rng.uniform(0.03, 0.08, n))


def default_months(
    loans: Loans,
    firms: Firms,
    health: Health,
    emergency: EmergencyBorrowing,
    timeline: Timeline,
    substandard_days: int,
) -> np.ndarray:
    """First month any debt of the firm is more than ``substandard_days`` overdue (NEVER if none).

    Debts with other lenders (existing or taken in distress) stop at the firm's failure; this
    bank's loans at their own stop.
    """
    default = np.full(firms.n, NEVER, dtype=np.int64)
    stopped = loans.stop_month < NEVER
    loan_default = first_month_past(
        timeline, loans.stop_month[stopped], firms.due_day[loans.firm[stopped]], substandard_days
    )
    np.minimum.at(default, loans.firm[stopped], loan_default)
    external = ((firms.external_debt > 0) | (emergency.first_month <= health.failure_month)) & (
        health.failure_month < NEVER
    )
    ext_default = first_month_past(
        timeline, health.failure_month[external], firms.due_day[external], substandard_days
    )
    default[external] = np.minimum(default[external], ext_default)
    default[default >= timeline.months] = NEVER
    return default


def overdue_days(
    timeline: Timeline, stop: np.ndarray, due_day: np.ndarray, month: np.ndarray
) -> np.ndarray:
    """Days overdue at the end of ``month`` for a debt unpaid since its due day in ``stop``."""
    due = timeline.month_start_days(stop) + due_day - 1
    return np.maximum(timeline.month_end_days(month) - due + 1, 0)


def first_month_past(
    timeline: Timeline, stop: np.ndarray, due_day: np.ndarray, days: int
) -> np.ndarray:
    """First month whose end is more than ``days`` days past the missed due date."""
    month = stop.copy()
    for _ in range(days // 28 + 2):
        short = overdue_days(timeline, stop, due_day, month) <= days
        month = np.where(short, month + 1, month)
    return month
