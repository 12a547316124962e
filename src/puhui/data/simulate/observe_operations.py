"""人社 and 水电: insured headcount and contributions, electricity and water, and their arrears.

These follow *real* activity, which is why they betray data farming. Headcount reacts two
months late and sticks (firms hesitate to lay off); social-insurance arrears are the earliest
unpaid bill of a firm under strain, utility arrears among the latest (a firm pays for power to
keep producing). Shells have no meters and no insured staff.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from puhui.data.reference import divisions
from puhui.data.simulate.activity import Chunk, arrears_flags, lagged, present, run_length
from puhui.data.simulate.tables import build_table, take_strings
from puhui.data.simulate.world import World

SOCIAL_ARREARS_THRESHOLD = 1.5
UTILITY_ARREARS_THRESHOLD = 2.1
CONTRIBUTION_RATE = 0.33  # employer and employee shares together
SUMMER = np.array([1.0, 0.85, 0.95, 0.95, 1.0, 1.05, 1.15, 1.18, 1.05, 1.0, 0.98, 1.02])
WATER_SECTORS = ("industry", "hospitality", "agriculture")


def social_table(world: World, chunk: Chunk, rng: np.random.Generator) -> pa.Table:
    """social_monthly: sticky, lagged headcount; contributions; arrears under strain."""
    firms, tl = world.firms, world.timeline
    lo, hi, n, months = chunk.lo, chunk.hi, chunk.n, tl.months
    employees = firms.employees[lo:hi, None].astype(np.float64)
    owner_insured = (employees == 0) & (rng.random((n, 1)) < 0.35) & ~firms.is_shell[lo:hi, None]
    base = np.maximum(employees, owner_insured * 1.0)
    target = base * np.exp(0.3 * (lagged(chunk.h, 2) - firms.quality[lo:hi, None]))
    target = np.where(
        lagged(chunk.failed.astype(float), 1) > 0,
        target * np.exp(-0.4 * np.maximum(chunk.since_failure, 0)),
        target,
    )
    headcount = np.zeros((n, months), dtype=np.int64)
    current = np.round(target[:, 0])
    for t in range(months):
        gap = np.abs(target[:, t] - current)
        move = gap >= np.maximum(1.0, 0.1 * current)
        current = np.where(move, np.round(target[:, t]), current)
        headcount[:, t] = current
    wage_base = rng.uniform(4_500, 9_000, (n, 1))
    base_total = headcount * wage_base
    due = base_total * CONTRIBUTION_RATE
    late = arrears_flags(-chunk.h, SOCIAL_ARREARS_THRESHOLD, rng, 0.6, 0.3) & (headcount > 0)
    run = run_length(late)
    arrears = np.where(late, due * run * 1.005**run, 0.0)
    paid = np.where(late, due * rng.uniform(0.0, 0.4, (n, months)), due)

    registered = firms.has_social[lo:hi, None] | (
        firms.is_shell[lo:hi, None] & (rng.random((n, 1)) < 0.5)
    )
    rows, cols = present(chunk, chunk.alive & registered, rng, world.config.shares.monthly_missing)
    return build_table(
        "social_monthly",
        {
            "uscc": take_strings(chunk.uscc, rows),
            "month": tl.starts[cols],
            "insured_headcount": headcount[rows, cols],
            "contribution_base_total": base_total[rows, cols],
            "contribution_paid": np.round(paid[rows, cols], 2),
            "arrears_amount": arrears[rows, cols],
        },
    )


def utility_table(world: World, chunk: Chunk, rng: np.random.Generator) -> pa.Table:
    """utility_monthly: electricity follows real output (with a base load), water for plants."""
    firms, tl = world.firms, world.timeline
    lo, hi, n, months = chunk.lo, chunk.hi, chunk.n, tl.months
    intensity = np.array([d.kwh_per_10k_yuan for d in divisions()])[firms.division[lo:hi], None]
    habit = np.exp(rng.normal(0, 0.3, (n, 1)))
    kwh = chunk.revenue / 1e4 * intensity * habit * SUMMER[tl.calendar_month - 1]
    kwh = kwh * np.exp(rng.normal(0, 0.1, (n, months))) + rng.uniform(40, 200, (n, 1))
    price = rng.uniform(0.6, 0.9, (n, 1))
    fee = kwh * price
    wet = np.isin(firms.sector[lo:hi], WATER_SECTORS)[:, None] & (rng.random((n, 1)) < 0.6)
    tons = np.where(wet, kwh * rng.uniform(0.02, 0.2, (n, 1)), np.nan)
    water_fee = tons * rng.uniform(4.2, 5.5, (n, 1))
    late = arrears_flags(-chunk.h, UTILITY_ARREARS_THRESHOLD, rng, 0.4, 0.3)
    run = run_length(late)
    arrears = np.where(late, (fee + np.nan_to_num(water_fee)) * run, 0.0)

    metered = firms.has_utilities[lo:hi, None] & chunk.alive
    rows, cols = present(chunk, metered, rng, world.config.shares.monthly_missing)
    return build_table(
        "utility_monthly",
        {
            "uscc": take_strings(chunk.uscc, rows),
            "month": tl.starts[cols],
            "electricity_kwh": np.round(kwh[rows, cols], 1),
            "electricity_fee": fee[rows, cols],
            "water_tons": np.round(tons[rows, cols], 1),
            "water_fee": water_fee[rows, cols],
            "arrears_amount": arrears[rows, cols],
        },
    )
