"""税务: monthly declarations, e-invoices, arrears, annual ratings, VAT refunds, invoice links.

What the tax bureau sees is *declared* revenue (inflated by data farmers, invented by shells);
purchase invoices follow *real* activity, so farming opens a gap between sales and purchases.
Tax arrears appear when strain passes a threshold, one month after the trouble (declarations
are filed for the month before), and pile up until paid.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from puhui.data.simulate.activity import Chunk, arrears_flags, lagged, present, run_length
from puhui.data.simulate.tables import NULL_INT, build_table, take_strings
from puhui.data.simulate.world import World

TAX_ARREARS_THRESHOLD = 1.75
SMALL_TAXPAYER_EXEMPT = 100_000  # monthly sales below which a small-scale taxpayer owes no VAT
LATE_FEE_PER_MONTH = 0.015


def tax_tables(world: World, chunk: Chunk, rng: np.random.Generator) -> dict[str, pa.Table]:
    """tax_monthly, tax_rating, tax_vat_refund and tax_invoice_link for one chunk of firms."""
    firms, tl = world.firms, world.timeline
    lo, hi, n, months = chunk.lo, chunk.hi, chunk.n, tl.months
    general = firms.general_taxpayer[lo:hi, None]
    declared = chunk.declared
    vat_rate = np.where(general, rng.uniform(0.025, 0.05, (n, 1)), 0.01)
    vat_due = np.where(general | (declared > SMALL_TAXPAYER_EXEMPT), declared * vat_rate, 0.0)
    strain = lagged(-chunk.h, 1)
    in_arrears = arrears_flags(strain, TAX_ARREARS_THRESHOLD, rng, 0.6, 0.3) & chunk.alive
    in_arrears &= ~firms.is_shell[lo:hi, None]
    run = run_length(in_arrears)
    unpaid = np.maximum(vat_due, 300.0 * in_arrears)
    arrears = np.where(in_arrears, _rolling_sum(unpaid, run) * (1 + LATE_FEE_PER_MONTH * run), 0.0)
    vat_paid = np.where(in_arrears, 0.0, vat_due * np.exp(rng.normal(0, 0.05, (n, months))))

    margin = np.clip(0.06 + 0.04 * chunk.h, -0.2, 0.2)
    quarter = _previous_quarter_sum(declared * margin)
    quarterly = np.isin(tl.calendar_month, [1, 4, 7, 10])[None, :]
    income_tax = np.where(quarterly & (quarter > 0) & ~in_arrears, quarter * 0.05, 0.0)

    credit_level = firms.revenue[lo:hi, None] * rng.uniform(0.01, 0.05, (n, 1))
    credit = np.where(
        firms.vat_credit[lo:hi, None], credit_level * np.exp(rng.normal(0, 0.2, (n, months))), 0.0
    )
    credit = np.where(general, credit, np.nan)

    b2b = np.where(np.isin(firms.sector[lo:hi], ["retail", "hospitality"]), 0.3, 0.92)[:, None]
    gross = 1 + np.where(general, 0.13, 0.01)
    issued_amount = declared * b2b * gross * np.exp(rng.normal(0, 0.05, (n, months)))
    ticket = np.exp(rng.normal(np.log(8_000), 0.7, (n, 1)))
    issued_count = rng.poisson(issued_amount / ticket)
    cost_share = rng.uniform(0.55, 0.8, (n, 1))
    purchases = chunk.revenue * cost_share * gross * np.exp(rng.normal(0, 0.15, (n, months)))
    purchases = np.where(firms.is_shell[lo:hi, None], declared * 0.9, purchases)
    received_count = rng.poisson(purchases / (ticket * 1.5))
    farming_after = lagged(chunk.farming, 1) > 1.0
    voided = rng.poisson(issued_count * np.where(farming_after, 0.12, 0.015))
    voided = np.where(rng.random((n, months)) < 0.03, NULL_INT, voided)

    rows, cols = present(chunk, chunk.alive, rng, world.config.shares.monthly_missing)
    monthly = build_table(
        "tax_monthly",
        {
            "uscc": take_strings(chunk.uscc, rows),
            "month": tl.starts[cols],
            "declared_revenue": np.round(declared[rows, cols]),
            "vat_paid": vat_paid[rows, cols],
            "income_tax_paid": income_tax[rows, cols],
            "vat_credit_balance": credit[rows, cols],
            "tax_arrears": arrears[rows, cols],
            "invoices_issued_count": issued_count[rows, cols],
            "invoices_issued_amount": issued_amount[rows, cols],
            "invoices_received_count": received_count[rows, cols],
            "invoices_received_amount": purchases[rows, cols],
            "invoices_voided_count": voided[rows, cols],
        },
    )
    return {
        "tax_monthly": monthly,
        "tax_rating": _ratings(world, chunk, in_arrears, rng),
        "tax_vat_refund": _refunds(world, chunk, credit, rng),
        "tax_invoice_link": _invoice_links(
            world, chunk, issued_amount, issued_count, purchases, received_count, rng
        ),
    }


def _rolling_sum(values: np.ndarray, run: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over the current run of arrears months."""
    total = np.cumsum(values, axis=1)
    start = np.arange(values.shape[1])[None, :] - run
    before = np.where(start >= 0, np.take_along_axis(total, np.maximum(start, 0), axis=1), 0.0)
    return total - before


def _previous_quarter_sum(values: np.ndarray) -> np.ndarray:
    total = np.cumsum(values, axis=1)
    shifted = np.zeros_like(total)
    shifted[:, 1:] = total[:, :-1]
    three_back = np.zeros_like(total)
    three_back[:, 4:] = total[:, :-4]
    return shifted - three_back


def _ratings(
    world: World, chunk: Chunk, in_arrears: np.ndarray, rng: np.random.Generator
) -> pa.Table:
    """纳税信用等级 for each year, published in April of the next year (M for new firms)."""
    firms, tl = world.firms, world.timeline
    lo, hi = chunk.lo, chunk.hi
    years = np.arange(tl.year[0] - 1, tl.year[-1] + 1)
    rows_firm, rows_year, rows_rating, rows_day = [], [], [], []
    founded_year = (
        firms.founded_day[lo:hi].astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
        + 1970
    )
    for year in years:
        published = np.datetime64(f"{year + 1}-04-10").astype(np.int64) + rng.integers(
            0, 20, chunk.n
        )
        in_year = tl.year == year
        eligible = (founded_year <= year) & (published <= tl.last_day)
        if in_year.any():
            eligible &= chunk.alive[:, in_year].any(axis=1)
            score = chunk.h[:, in_year].mean(axis=1) - 0.8 * in_arrears[:, in_year].any(axis=1)
        else:
            score = firms.quality[lo:hi] + rng.normal(0, 0.3, chunk.n)
        score = score + rng.normal(0, 0.5, chunk.n)
        rating = np.where(
            score > 0.9, "A", np.where(score > -0.6, "B", np.where(score > -1.7, "C", "D"))
        )
        rating = np.where(founded_year >= year, "M", rating)
        rating = np.where(firms.is_shell[lo:hi], np.where(founded_year >= year, "M", "B"), rating)
        keep = np.flatnonzero(eligible)
        rows_firm.append(keep)
        rows_year.append(np.full(len(keep), year))
        rows_rating.append(rating[keep])
        rows_day.append(published[keep])
    firm = np.concatenate(rows_firm)
    return build_table(
        "tax_rating",
        {
            "uscc": take_strings(chunk.uscc, firm),
            "rating_year": np.concatenate(rows_year),
            "rating": np.concatenate(rows_rating),
            "published_on": np.concatenate(rows_day),
        },
    )


def _refunds(world: World, chunk: Chunk, credit: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """留抵退税: firms carrying a VAT credit get part of it refunded at some quarter ends."""
    tl = world.timeline
    quarter_end = np.isin(tl.calendar_month, [3, 6, 9, 12])[None, :]
    chosen = quarter_end & (np.nan_to_num(credit) > 0) & chunk.alive & ~chunk.failed
    chosen &= rng.random(credit.shape) < 0.12
    rows, cols = np.nonzero(chosen)
    global_firm = rows + chunk.lo
    ids = np.char.add(
        np.char.add("TR", np.char.zfill(global_firm.astype(str), 8)),
        np.char.zfill(cols.astype(str), 3),
    )
    return build_table(
        "tax_vat_refund",
        {
            "refund_id": ids,
            "uscc": take_strings(chunk.uscc, rows),
            "refunded_on": tl.starts[cols] + rng.integers(5, 25, len(rows)),
            "amount": np.round(credit[rows, cols] * rng.uniform(0.6, 1.0, len(rows))),
        },
    )


def _invoice_links(
    world: World,
    chunk: Chunk,
    issued: np.ndarray,
    issued_count: np.ndarray,
    purchases: np.ndarray,
    received_count: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    """Yearly totals with each firm's main customers and suppliers (stable relationships).

    Suppliers of a core enterprise sell to it; ring members invoice each other in a circle;
    a data farmer's extra sales all go to one related party.
    """
    firms, tl = world.firms, world.timeline
    lo, hi, n, total = chunk.lo, chunk.hi, chunk.n, world.firms.n
    years = np.unique(tl.year)
    starts = np.searchsorted(tl.year, years)
    genuine = issued / np.maximum(chunk.farming, 1.0)
    by_year = {
        "sold": np.add.reduceat(genuine, starts, axis=1),
        "excess": np.add.reduceat(issued - genuine, starts, axis=1),
        "bought": np.add.reduceat(purchases, starts, axis=1),
        "sold_count": np.add.reduceat(issued_count, starts, axis=1),
        "bought_count": np.add.reduceat(received_count, starts, axis=1),
    }
    period_end = np.minimum(tl.year_end_day(years), tl.last_day)

    slots = 7  # 4 customer slots, 2 supplier slots, 1 related party
    step = rng.integers(1, max((total - 2) // slots, 1) + 1, (n, 1))
    offset = 1 + (rng.integers(0, total - 1, (n, 1)) + np.arange(slots) * step) % (total - 1)
    partner = world.firms.uscc[(np.arange(lo, hi)[:, None] + offset) % total]
    core = firms.supplies_core[lo:hi]
    partner[core, 0] = world.core_uscc[np.arange(lo, hi)[core] % len(world.core_uscc)]
    retail = np.isin(firms.sector[lo:hi], ["retail", "hospitality"])
    customers = np.where(retail, rng.integers(0, 2, n), rng.integers(2, 5, n))
    suppliers = rng.integers(1, 3, n)
    share = rng.dirichlet(np.ones(6), n) * rng.uniform(0.5, 0.85, (n, 1))
    real = ~firms.is_shell[lo:hi]
    parts: list[dict[str, np.ndarray]] = []

    def emit(
        local: np.ndarray,
        slot: int | np.ndarray,
        year: int,
        direction: str,
        count: np.ndarray,
        amount: np.ndarray,
    ) -> None:
        """Queue rows for firms ``local``; ``slot`` is a partner column or explicit USCCs."""
        keep = amount > 0
        parts.append(
            {
                "firm": local[keep],
                "cp": partner[local[keep], slot] if np.ndim(slot) == 0 else slot[keep],
                "year": np.full(keep.sum(), years[year]),
                "end": np.full(keep.sum(), period_end[year]),
                "dir": np.full(keep.sum(), direction),
                "count": np.maximum(count[keep], 1).astype(np.int64),
                "amount": np.round(amount[keep], 2),
            }
        )

    local = np.arange(n)
    neighbours = _ring_neighbours(world, chunk)
    for y in range(len(years)):
        for j in range(4):
            sel = local[real & (j < customers)]
            emit(
                sel,
                j,
                y,
                "sale",
                by_year["sold_count"][sel, y] * share[sel, j],
                by_year["sold"][sel, y] * share[sel, j],
            )
        for j in (4, 5):
            sel = local[real & (j - 4 < suppliers)]
            emit(
                sel,
                j,
                y,
                "purchase",
                by_year["bought_count"][sel, y] * share[sel, j],
                by_year["bought"][sel, y] * share[sel, j],
            )
        sel = local[by_year["excess"][:, y] > 0]
        emit(sel, 6, y, "sale", by_year["excess"][sel, y] / 50_000, by_year["excess"][sel, y])
        for local_shell, buyer, seller in neighbours:
            one = np.array([local_shell])
            amount = by_year["sold"][one, y] + by_year["excess"][one, y]
            count = by_year["sold_count"][one, y]
            emit(one, np.array([firms.uscc[buyer]]), y, "sale", count, amount * 0.8)
            emit(one, np.array([firms.uscc[seller]]), y, "purchase", count, amount * 0.7)
    if not parts:
        parts.append(
            {
                k: np.array([], dtype=d)
                for k, d in (
                    ("firm", np.int64),
                    ("cp", "<U18"),
                    ("year", np.int64),
                    ("end", np.int64),
                    ("dir", "<U8"),
                    ("count", np.int64),
                    ("amount", np.float64),
                )
            }
        )
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return build_table(
        "tax_invoice_link",
        {
            "uscc": take_strings(chunk.uscc, merged["firm"]),
            "counterparty_uscc": merged["cp"],
            "year": merged["year"],
            "period_end": merged["end"],
            "direction": merged["dir"],
            "invoice_count": merged["count"],
            "amount": merged["amount"],
        },
    )


def _ring_neighbours(world: World, chunk: Chunk) -> list[tuple[int, int, int]]:
    """(local shell, the member it sells to, the member it buys from) for rings in the chunk."""
    firms = world.firms
    shells = np.flatnonzero(world.rings.ring_of_firm >= 0)
    result = []
    for local in np.flatnonzero(firms.is_shell[chunk.lo : chunk.hi]):
        members = shells[world.rings.ring_of_firm[shells] == firms.ring[chunk.lo + local]]
        if len(members) < 2:
            continue
        position = int(np.searchsorted(members, chunk.lo + local))
        result.append(
            (
                int(local),
                int(members[(position + 1) % len(members)]),
                int(members[(position - 1) % len(members)]),
            )
        )
    return result
