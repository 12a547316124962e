"""征信 for legal representatives: monthly personal reports and who queried them.

An owner's personal credit follows the weakest firm they represent: cards fill up and
personal business loans appear under strain, and most owners fall behind on their own
accounts within a few months of their firm's failure. A few sound owners are simply late once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from puhui.data.simulate.health import NEVER
from puhui.data.simulate.observe_bureau import institutions
from puhui.data.simulate.tables import build_table
from puhui.data.simulate.timeline import MICROS_PER_DAY
from puhui.data.simulate.world import World


@dataclass(frozen=True)
class Representatives:
    """Legal representatives and the firms each represents, grouped by person."""

    person: np.ndarray  # sorted unique person indices
    firm_order: np.ndarray  # firms sorted by their legal representative
    starts: np.ndarray  # start of each person's firms in firm_order


def representatives(world: World) -> Representatives:
    order = np.argsort(world.firms.legal_rep, kind="stable")
    reps = world.firms.legal_rep[order]
    person, starts = np.unique(reps, return_index=True)
    return Representatives(person, order, starts)


def person_tables(
    world: World, reps: Representatives, lo: int, hi: int, rng: np.random.Generator
) -> dict[str, pa.Table]:
    """bureau_person_monthly and bureau_person_query for representatives ``lo``..``hi``."""
    tl = world.timeline
    months = tl.months
    n = hi - lo
    ends = np.r_[reps.starts[1:], len(reps.firm_order)]
    firm_rows = reps.firm_order[reps.starts[lo] : ends[hi - 1]]
    h = np.minimum.reduceat(
        world.health.h[firm_rows].astype(np.float64), reps.starts[lo:hi] - reps.starts[lo], axis=0
    )
    failure = np.minimum.reduceat(
        world.health.failure_month[firm_rows], reps.starts[lo:hi] - reps.starts[lo]
    )
    person = reps.person[lo:hi]

    loans0 = rng.choice([0, 1, 2, 3], n, p=[0.35, 0.4, 0.18, 0.07])
    balance0 = loans0 * rng.uniform(1e5, 8e5, n)
    cards = np.minimum(rng.poisson(2.2, n), 8)
    limit = cards * rng.uniform(1e4, 8e4, n)
    habit = rng.normal(0, 0.35, n)
    business_loans = np.zeros((n, months), dtype=np.int64)
    business_balance = np.zeros((n, months))
    count = np.zeros(n, dtype=np.int64)
    owed = np.zeros(n)
    for t in range(months):
        new = (h[:, t] < -1.3) & (t < failure) & (count < 2) & (rng.random(n) < 0.1)
        count = count + new
        owed = owed + new * rng.uniform(5e4, 3e5, n)
        business_loans[:, t] = count
        business_balance[:, t] = owed
    amortise = 0.995 ** np.arange(months)[None, :]
    used_share = np.clip(
        0.15 + 0.2 * np.clip(-h, 0, 3) + habit[:, None] + rng.normal(0, 0.15, (n, months)), 0, 1
    )
    used = limit[:, None] * used_share

    personal_stop = np.where(
        (failure < NEVER) & (rng.random(n) < 0.6), failure + rng.integers(0, 3, n), NEVER
    )
    t_index = np.arange(months)[None, :]
    behind = t_index >= personal_stop[:, None]
    status = np.where(behind, np.minimum(t_index - personal_stop[:, None] + 1, 7), 0)
    slip = (rng.random((n, months)) < 0.01 / 12) & ~behind
    status = np.where(slip, 1, status)
    accounts = np.where(
        behind,
        1 + rng.binomial(np.maximum(cards + loans0 - 1, 0)[:, None], 0.5, (n, months)),
        np.where(slip, 1, 0),
    )
    overdue = np.where(
        behind,
        used * 0.3 + (balance0[:, None] + business_balance) * 0.02 * status,
        np.where(slip, used * 0.05, 0.0),
    )
    history = np.where(rng.random(n) < 0.03, rng.integers(1, 3, n), 0)
    history_fades = rng.integers(0, 24, n)
    worst = np.maximum(
        _trailing_max(status, 24), np.where(t_index < history_fades[:, None], history[:, None], 0)
    )
    monthly = build_table(
        "bureau_person_monthly",
        {
            "person_id": np.repeat(world.people.id_number[person], months),
            "month": np.tile(tl.starts, n),
            "loan_count": (loans0[:, None] + business_loans).ravel(),
            "loan_balance": np.round((balance0[:, None] * amortise + business_balance).ravel(), -2),
            "card_count": np.repeat(cards, months),
            "card_limit": np.repeat(np.round(limit, -3), months),
            "card_used": np.round(used.ravel(), 2),
            "overdue_accounts": accounts.ravel(),
            "overdue_amount": np.round(overdue.ravel(), 2),
            "worst_status_24m": worst.ravel(),
        },
    )

    seeking = 0.01 + 0.25 / (1 + np.exp(-3 * (-h - 1.3)))
    parts = []
    for reason, rate in (
        ("loan_approval", np.where(t_index < failure[:, None] + 3, seeking, 0.0)),
        ("card_approval", np.full((n, months), 0.01)),
        ("self_query", np.full((n, months), 0.004)),
        ("post_loan", np.where(loans0[:, None] + business_loans > 0, 0.03, 0.0)),
    ):
        counts = rng.poisson(rate)
        qr, qc = np.nonzero(counts)
        reps_ = counts[qr, qc]
        parts.append((np.repeat(qr, reps_), np.repeat(qc, reps_), reason))
    q_row = np.concatenate([p[0] for p in parts])
    q_col = np.concatenate([p[1] for p in parts])
    code, _ = institutions(rng, len(q_row))
    day = tl.day_in_month(q_col, rng.random(len(q_row)))
    queries = build_table(
        "bureau_person_query",
        {
            "person_id": world.people.id_number[person[q_row]],
            "queried_at": day * MICROS_PER_DAY + rng.integers(0, 14 * 3_600_000_000, len(q_row)),
            "institution_code": code,
            "reason": np.concatenate([np.full(len(p[0]), p[2]) for p in parts]),
        },
    )
    return {"bureau_person_monthly": monthly, "bureau_person_query": queries}


def _trailing_max(values: np.ndarray, window: int) -> np.ndarray:
    """Maximum over the last ``window`` months (inclusive) along axis 1."""
    out = values.copy()
    for lag in range(1, min(window, values.shape[1])):
        out[:, lag:] = np.maximum(out[:, lag:], values[:, :-lag])
    return out
