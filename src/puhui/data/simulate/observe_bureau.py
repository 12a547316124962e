"""人民银行征信: enterprise and personal credit reports and who queried them.

The bureau sees every lender's book. A firm under strain draws more on its lines and takes
new lenders (microcredit, other banks), and its report is queried far more often (seeking
money) months before anything is overdue; after it stops paying, overdue days and the
non-performing balance grow with every lender at once. Owners lean on personal cards.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from puhui.data.simulate.activity import Chunk
from puhui.data.simulate.health import NEVER
from puhui.data.simulate.lending import overdue_days
from puhui.data.simulate.repayment import WRITTEN_OFF
from puhui.data.simulate.tables import build_table, take_strings
from puhui.data.simulate.timeline import MICROS_PER_DAY
from puhui.data.simulate.world import World

OUR_BANK = "B10000330"
INSTITUTION_TYPES = np.array(["bank", "microcredit", "consumer_finance", "guarantee", "other"])
INSTITUTION_PREFIX = np.array(["B", "M", "F", "G", "O"])
INSTITUTION_POOL = np.array([40, 30, 5, 10, 5])
INSTITUTION_MIX = np.array([0.5, 0.3, 0.05, 0.1, 0.05])


def _strain(h: np.ndarray, centre: float) -> np.ndarray:
    return 1 / (1 + np.exp(-3 * (-h - centre)))


def institutions(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Querying institutions other than this bank: (code, type)."""
    kind = rng.choice(len(INSTITUTION_TYPES), count, p=INSTITUTION_MIX)
    number = rng.integers(0, INSTITUTION_POOL[kind]) + 1 if count else np.array([], dtype=np.int64)
    code = np.char.add(
        INSTITUTION_PREFIX[kind], np.char.zfill((20_000_000 + number * 7919).astype(str), 8)
    )
    return code, INSTITUTION_TYPES[kind]


def _event_times(rng: np.random.Generator, world: World, month: np.ndarray) -> np.ndarray:
    """Timestamps in Beijing working hours (00:00–10:00 UTC) within a month, to the microsecond
    so that keys stay unique."""
    day = world.timeline.day_in_month(month, rng.random(len(month)))
    return day * MICROS_PER_DAY + rng.integers(0, 10 * 3_600_000_000, len(month))


def enterprise_tables(
    world: World, chunk: Chunk, rng: np.random.Generator
) -> tuple[dict[str, pa.Table], np.ndarray]:
    """bureau_enterprise_monthly and the chunk's bureau_enterprise_query rows (other lenders),
    and whether each firm has ever borrowed by the last month (首贷户 truth)."""
    firms, tl, lm = world.firms, world.timeline, world.loan_months
    lo, hi, n, months = chunk.lo, chunk.hi, chunk.n, tl.months
    days_limit = world.config.classification.substandard_days
    a, b = np.searchsorted(lm.firm, [lo, hi])
    r, c = lm.firm[a:b] - lo, lm.month[a:b]
    bank_balance = np.zeros((n, months))
    bank_overdue = np.zeros((n, months))
    bank_days = np.zeros((n, months), dtype=np.int64)
    bank_npl = np.zeros((n, months))
    bank_sm = np.zeros((n, months))
    np.add.at(bank_balance, (r, c), lm.outstanding[a:b])
    np.add.at(bank_overdue, (r, c), lm.overdue_amount[a:b])
    np.maximum.at(bank_days, (r, c), lm.overdue_days[a:b])
    np.add.at(bank_npl, (r, c), np.where(lm.overdue_days[a:b] > days_limit, lm.outstanding[a:b], 0))
    np.add.at(
        bank_sm,
        (r, c),
        np.where(
            (lm.overdue_days[a:b] > 0) & (lm.overdue_days[a:b] <= days_limit),
            lm.outstanding[a:b],
            0,
        ),
    )
    first_bank = np.full(n, NEVER, dtype=np.int64)
    np.minimum.at(first_bank, r, c)
    _keep_written_off_debts(world, a, b, lo, (bank_balance, bank_overdue, bank_days, bank_npl))

    # Other lenders: existing lines drawn harder under strain, plus emergency lenders.
    h = chunk.h
    failure = world.health.failure_month[lo:hi]
    base = firms.external_debt[lo:hi, None] * np.exp(0.08 * np.clip(-h, 0, 3))
    emergency_count = world.emergency.lenders_by(np.arange(months), lo, hi)
    emergency_balance = emergency_count * world.emergency.size[lo:hi, None]
    external = base + emergency_balance
    frozen_at = np.clip(failure, 0, months - 1)
    external = np.where(chunk.failed, external[np.arange(n), frozen_at][:, None], external)
    stop = np.where(failure < NEVER, failure, 0)
    ext_days = np.where(
        chunk.failed & (external > 0),
        overdue_days(tl, stop[:, None], firms.due_day[lo:hi, None], np.arange(months)[None, :]),
        0,
    )
    ext_overdue = np.where(
        ext_days > 0, external * np.minimum(1.0, 0.1 * (chunk.since_failure + 1)), 0.0
    )
    ext_lenders = np.where(
        firms.external_debt[lo:hi, None] > 0, firms.external_lenders[lo:hi, None], 0
    )

    t_index = np.arange(months)[None, :]
    ever = (
        firms.ever_borrowed[lo:hi, None] | (t_index >= first_bank[:, None]) | (emergency_count > 0)
    )
    guarantee = firms.guarantee_balance[lo:hi, None] * np.exp(rng.normal(0, 0.03, (n, months)))
    exists = (t_index >= firms.founded_month[lo:hi, None]) & (
        t_index < firms.closed_month[lo:hi, None] + 12
    )
    rows, cols = np.nonzero(exists & (rng.random((n, months)) >= 0.003))
    monthly = build_table(
        "bureau_enterprise_monthly",
        {
            "uscc": take_strings(chunk.uscc, rows),
            "month": tl.starts[cols],
            "lender_count": (ext_lenders + emergency_count + (bank_balance > 0))[rows, cols],
            "loan_balance": np.round((external + bank_balance)[rows, cols], -2),
            "overdue_amount": np.round((ext_overdue + bank_overdue)[rows, cols], 2),
            "max_overdue_days": np.maximum(ext_days, bank_days)[rows, cols],
            "non_performing_balance": np.round(
                (np.where(ext_days > days_limit, external, 0) + bank_npl)[rows, cols], -2
            ),
            "special_mention_balance": np.round(
                (np.where((ext_days > 0) & (ext_days <= days_limit), external, 0) + bank_sm)[
                    rows, cols
                ],
                -2,
            ),
            "guarantee_balance": np.round(guarantee[rows, cols], -2),
            "ever_borrowed": ever[rows, cols],
        },
    )

    alive = chunk.alive & (chunk.since_failure < 3)
    seeking = 0.04 * firms.credit_demand[lo:hi, None] + 0.25 * _strain(h, 1.3)
    post_loan = 0.08 * ext_lenders + 0.25 * (
        (bank_balance > 0) & np.isin(tl.calendar_month, [1, 4, 7, 10])
    )
    guarantor = 0.003 * (firms.guarantee_balance[lo:hi, None] > 0)
    parts = []
    for reason, rate in (
        ("loan_approval", seeking),
        ("post_loan", post_loan),
        ("guarantee_review", guarantor),
    ):
        counts = rng.poisson(np.where(alive, rate, 0.0))
        qr, qc = np.nonzero(counts)
        reps = counts[qr, qc]
        parts.append((np.repeat(qr, reps), np.repeat(qc, reps), reason))
    q_row = np.concatenate([p[0] for p in parts])
    q_col = np.concatenate([p[1] for p in parts])
    reason = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    code, kind = institutions(rng, len(q_row))
    ours = (
        (reason == "post_loan") & (bank_balance[q_row, q_col] > 0) & (rng.random(len(q_row)) < 0.5)
    )
    code = np.where(ours, OUR_BANK, code)
    kind = np.where(ours, "bank", kind)
    reason = np.where(kind == "guarantee", "guarantee_review", reason)
    queries = build_table(
        "bureau_enterprise_query",
        {
            "uscc": take_strings(chunk.uscc, q_row),
            "queried_at": _event_times(rng, world, q_col),
            "institution_code": code,
            "institution_type": kind,
            "reason": reason,
        },
    )
    return {"bureau_enterprise_monthly": monthly, "bureau_enterprise_query": queries}, ever[:, -1]


def _keep_written_off_debts(
    world: World, a: int, b: int, lo: int, books: tuple[np.ndarray, ...]
) -> None:
    """A loan written off here leaves the bank's books, not the bureau: it stays a bad debt
    (呆账) with days overdue still counting, from the write-off month to the window's end."""
    lm, loans, tl = world.loan_months, world.loans, world.timeline
    balance, overdue, days, npl = books
    written = np.flatnonzero(lm.status[a:b] == WRITTEN_OFF) + a
    if not len(written):
        return
    principal = lm.outstanding[written - 1]  # the row before write-off is the same loan
    owed = np.maximum(lm.overdue_amount[written - 1], principal)  # the whole debt is called
    span = tl.months - lm.month[written]
    row = np.repeat(np.arange(len(written)), span)
    month = lm.month[written][row] + np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    firm = lm.firm[written][row] - lo
    loan = lm.loan[written][row]
    np.add.at(balance, (firm, month), principal[row])
    np.add.at(overdue, (firm, month), owed[row])
    np.add.at(npl, (firm, month), principal[row])
    late = overdue_days(tl, loans.stop_month[loan], world.firms.due_day[loans.firm[loan]], month)
    np.maximum.at(days, (firm, month), late)


def application_queries(world: World, rng: np.random.Generator) -> dict[str, pa.Table]:
    """This bank's authorised queries of the firm and the applicant at every application."""
    apps = world.apps
    lag = rng.integers(120, 3_600, apps.n) * 1_000_000 + rng.integers(0, 1_000_000, apps.n)
    firm_query = build_table(
        "bureau_enterprise_query",
        {
            "uscc": world.firms.uscc[apps.firm],
            "queried_at": apps.applied_us + lag,
            "institution_code": np.full(apps.n, OUR_BANK),
            "institution_type": np.full(apps.n, "bank"),
            "reason": np.full(apps.n, "loan_approval"),
        },
    )
    person_query = build_table(
        "bureau_person_query",
        {
            "person_id": world.people.id_number[apps.applicant],
            "queried_at": apps.applied_us + lag + 7_000_000,
            "institution_code": np.full(apps.n, OUR_BANK),
            "reason": np.full(apps.n, "loan_approval"),
        },
    )
    return {"bureau_enterprise_query": firm_query, "bureau_person_query": person_query}


def person_header_table(world: World) -> pa.Table:
    """bureau_person: marital status, spouse, education and first credit of every named person."""
    people = world.people
    named = np.flatnonzero(people.role != 5)
    spouse = people.spouse[named]
    return build_table(
        "bureau_person",
        {
            "person_id": people.id_number[named],
            "marital_status": people.marital_status[named],
            "spouse_id": np.where(spouse >= 0, people.id_number[np.maximum(spouse, 0)], ""),
            "education": people.education[named],
            "first_credit_on": np.where(
                people.first_credit_day[named] >= 0,
                people.first_credit_day[named],
                np.iinfo(np.int64).min,
            ),
        },
    )
