"""行内数据: branches, staff, customers, monthly account flows and the loan book.

Account flows are the bank's own view of a customer's business: the share of real sales that
passes through its accounts, loan money coming in, repayments going out, balances that thin
under strain. Data farmers round-trip money through the account before applying, which lifts
inflows without adding payers, so the largest payer's share jumps.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from puhui.data.simulate.activity import Chunk, lagged, present
from puhui.data.simulate.repayment import CLASSES, STATUSES
from puhui.data.simulate.tables import build_table, take_strings
from puhui.data.simulate.world import World


def structure_tables(world: World) -> dict[str, pa.Table]:
    """bank_branch, bank_staff and bank_customer (entity tables, written once)."""
    bank, firms = world.bank, world.firms
    customers = np.flatnonzero(bank.customer)
    return {
        "bank_branch": build_table(
            "bank_branch",
            {
                "branch_id": bank.branch_id,
                "name": bank.branch_name,
                "level": bank.branch_level,
                "parent_branch_id": bank.branch_parent,
                "division_code": bank.branch_division,
            },
        ),
        "bank_staff": build_table(
            "bank_staff",
            {
                "staff_id": bank.staff_id,
                "name": bank.staff_name,
                "role": bank.staff_role,
                "branch_id": bank.branch_id[bank.staff_branch],
                "phone": bank.staff_phone,
            },
        ),
        "bank_customer": build_table(
            "bank_customer",
            {
                "uscc": firms.uscc[customers],
                "branch_id": bank.branch_id[bank.branch_of_firm[customers]],
                "account_manager_id": bank.staff_id[bank.account_manager[customers]],
                "opened_on": bank.opened_day[customers],
                "basic_account": bank.basic_account[customers],
                "payroll_service": bank.payroll_service[customers] & ~firms.is_shell[customers],
            },
        ),
    }


MONTHLY_SLICE = 500_000


def loan_tables(world: World) -> Iterator[tuple[str, pa.Table]]:
    """bank_loan, then bank_loan_monthly in slices (the whole book, written once).

    Strings are repeated with Arrow ``take`` from small dictionaries rather than materialised
    as NumPy unicode arrays, which keeps a million-firm book within a few hundred MB.
    """
    loans, firms, bank, lm = world.loans, world.firms, world.bank, world.loan_months
    disbursed = loans.disbursed_day.astype("datetime64[D]")
    month = disbursed.astype("datetime64[M]")
    day_of_month = (disbursed - month.astype("datetime64[D]")).astype(np.int64)
    maturity_month = month + loans.term
    month_length = (
        (maturity_month + 1).astype("datetime64[D]") - maturity_month.astype("datetime64[D]")
    ).astype(np.int64)
    maturity = maturity_month.astype("datetime64[D]").astype(np.int64) + np.minimum(
        day_of_month, month_length - 1
    )
    apps = world.apps
    application = np.where(
        loans.application >= 0, apps.application_id[np.maximum(loans.application, 0)], ""
    )
    yield (
        "bank_loan",
        build_table(
            "bank_loan",
            {
                "loan_id": world.loan_ids,
                "uscc": firms.uscc[loans.firm],
                "product_code": loans.product,
                "disbursed_on": loans.disbursed_day,
                "maturity_on": maturity,
                "principal": loans.principal,
                "annual_rate_bp": loans.rate_bp,
                "repayment_method": loans.method,
                "branch_id": bank.branch_id[bank.branch_of_firm[loans.firm]],
                "account_manager_id": bank.staff_id[bank.account_manager[loans.firm]],
                "application_id": application,
            },
        ),
    )
    loan_ids, usccs = pa.array(world.loan_ids), pa.array(firms.uscc)
    classes, statuses = pa.array(CLASSES), pa.array(STATUSES)
    for lo in range(0, len(lm.loan), MONTHLY_SLICE):
        rows = slice(lo, lo + MONTHLY_SLICE)
        yield (
            "bank_loan_monthly",
            build_table(
                "bank_loan_monthly",
                {
                    "loan_id": take_strings(loan_ids, lm.loan[rows]),
                    "uscc": take_strings(usccs, lm.firm[rows]),
                    "month": world.timeline.starts[lm.month[rows]],
                    "outstanding_principal": lm.outstanding[rows],
                    "scheduled_amount": lm.scheduled[rows],
                    "repaid_amount": lm.repaid[rows],
                    "overdue_days": lm.overdue_days[rows],
                    "overdue_amount": lm.overdue_amount[rows],
                    "classification": take_strings(classes, lm.classification[rows]),
                    "status": take_strings(statuses, lm.status[rows]),
                },
            ),
        )


def account_table(world: World, chunk: Chunk, rng: np.random.Generator) -> pa.Table:
    """bank_account_monthly for the chunk's customers, from the month they opened an account."""
    firms, bank, tl, lm, loans = (
        world.firms,
        world.bank,
        world.timeline,
        world.loan_months,
        world.loans,
    )
    lo, hi, n, months = chunk.lo, chunk.hi, chunk.n, tl.months
    quality = firms.quality[lo:hi, None]
    route = np.where(
        bank.basic_account[lo:hi], rng.uniform(0.55, 0.9, n), rng.uniform(0.1, 0.35, n)
    )[:, None]
    genuine = chunk.revenue * route * np.exp(rng.normal(0, 0.2, (n, months)))
    round_trip = genuine * (chunk.farming - 1.0)
    shell = firms.is_shell[lo:hi, None]
    genuine = np.where(shell, chunk.declared * 0.8, genuine)

    a, b = np.searchsorted(lm.firm, [lo, hi])
    repaid = np.zeros((n, months))
    np.add.at(repaid, (lm.firm[a:b] - lo, lm.month[a:b]), lm.repaid[a:b])
    mine = (loans.firm >= lo) & (loans.firm < hi)
    disbursed_month = loans.disbursed_month(tl)[mine]
    inside = disbursed_month >= 0
    loan_in = np.zeros((n, months))
    np.add.at(
        loan_in,
        (loans.firm[mine][inside] - lo, disbursed_month[inside]),
        loans.principal[mine][inside],
    )

    inflow = genuine + round_trip + loan_in
    spend = np.exp(rng.normal(np.log(0.97 + 0.03 * np.clip(-chunk.h, 0, 3)), 0.05))
    outflow = (genuine + round_trip) * spend + repaid + loan_in * rng.uniform(0.6, 1.0, (n, 1))
    buffer = rng.uniform(0.2, 0.8, (n, 1))
    balance = (
        chunk.revenue
        * route
        * buffer
        * np.exp(0.6 * (chunk.h - quality))
        * np.exp(rng.normal(0, 0.25, (n, months)))
    )
    balance = np.where(shell, genuine * 0.05, balance)
    average = balance * np.exp(rng.normal(0, 0.2, (n, months)))
    ticket = np.exp(rng.normal(np.log(20_000), 0.6, (n, 1)))
    inflow_count = rng.poisson(inflow / ticket) + (inflow > 0)
    outflow_count = rng.poisson(outflow / (ticket * 0.8)) + (outflow > 0)
    payers = np.clip(np.round(3 * np.sqrt(firms.revenue[lo:hi, None] / 1e6) * route * 2), 1, 80)
    counterparties = np.minimum(
        rng.poisson(payers * np.exp(0.3 * (chunk.h - quality))) + 1, inflow_count
    )
    counterparties = np.where(
        shell, np.minimum(inflow_count, rng.integers(1, 4, (n, months))), counterparties
    )
    top = np.clip(rng.uniform(0.7, 1.3, (n, months)) / np.maximum(counterparties, 1) ** 0.6, 0, 1)
    top = np.maximum(top, np.where(inflow > 0, (round_trip + loan_in) / np.maximum(inflow, 1), 0))
    top = np.where(counterparties <= 1, 1.0, np.clip(top, 1 / np.maximum(counterparties, 1), 1))
    top = np.where(inflow > 0, top, 0.0)
    wage = rng.uniform(5_000, 9_000, (n, 1))
    staff = firms.employees[lo:hi, None] * np.exp(0.3 * (lagged(chunk.h, 2) - quality))
    payroll = np.where(
        bank.payroll_service[lo:hi, None] & ~chunk.failed & ~shell, np.round(staff) * wage, 0.0
    )

    t_index = np.arange(months)[None, :]
    opened = bank.opened_day[lo:hi]
    opened_month = np.where(opened >= 0, tl.month_of_day(np.maximum(opened, 0)), months)
    open_now = bank.customer[lo:hi, None] & (t_index >= opened_month[:, None]) & chunk.alive
    rows, cols = present(chunk, open_now, rng, 0.002)
    return build_table(
        "bank_account_monthly",
        {
            "uscc": take_strings(chunk.uscc, rows),
            "month": tl.starts[cols],
            "inflow_amount": np.round(inflow[rows, cols], 2),
            "outflow_amount": np.round(outflow[rows, cols], 2),
            "inflow_count": inflow_count[rows, cols],
            "outflow_count": outflow_count[rows, cols],
            "month_end_balance": np.round(balance[rows, cols], 2),
            "average_daily_balance": np.round(average[rows, cols], 2),
            "inflow_counterparties": counterparties[rows, cols].astype(np.int64),
            "top_payer_share": np.round(top[rows, cols], 4),
            "payroll_amount": payroll[rows, cols],
        },
    )
