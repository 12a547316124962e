"""Ground truth (simulation only) and the application log, straight from the world.

``truth_enterprise`` and ``truth_application`` are what tests and model evaluation compare
against; no model may read them as inputs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from puhui.data.simulate.activity import Chunk
from puhui.data.simulate.fraud import FRAUD_TYPES
from puhui.data.simulate.health import NEVER
from puhui.data.simulate.tables import NULL_DAY, build_table
from puhui.data.simulate.world import World

PROSPECT_DEMAND = 0.25


def borrowers(world: World) -> np.ndarray:
    """Firms with a loan at this bank at some point in the window."""
    mask = np.zeros(world.firms.n, dtype=bool)
    mask[world.loan_months.firm] = True
    return mask


def enterprise_truth(
    world: World, chunk: Chunk, ever_borrowed_end: np.ndarray, borrower: np.ndarray
) -> pa.Table:
    """truth_enterprise rows for the chunk."""
    firms, tl = world.firms, world.timeline
    lo, hi = chunk.lo, chunk.hi
    is_borrower = borrower[lo:hi]
    active_at_end = firms.closed_month[lo:hi] >= tl.months
    prospect = (
        ~is_borrower
        & active_at_end
        & ~firms.is_shell[lo:hi]
        & (firms.credit_demand[lo:hi] >= PROSPECT_DEMAND)
    )
    population = np.where(is_borrower, "borrower", np.where(prospect, "prospect", "other"))
    default = world.default_month[lo:hi]
    first_month = np.clip(firms.founded_month[lo:hi], 0, tl.months - 1)
    ring = firms.ring[lo:hi]
    return build_table(
        "truth_enterprise",
        {
            "uscc": chunk.uscc,
            "population": population,
            "first_loan_candidate": ~ever_borrowed_end,
            "credit_demand": np.round(firms.credit_demand[lo:hi], 4),
            "default_month": np.where(
                default < NEVER, tl.month_start_days(np.minimum(default, tl.months)), NULL_DAY
            ),
            "fraud_type": FRAUD_TYPES[firms.fraud_type[lo:hi]],
            "ring_id": np.where(
                ring >= 0, np.char.add("RING", np.char.zfill(ring.astype(str), 5)), ""
            ),
            "health_start": np.round(chunk.h[np.arange(chunk.n), first_month], 4),
            "health_end": np.round(chunk.h[:, -1], 4),
        },
    )


def application_tables(world: World) -> dict[str, pa.Table]:
    """app_application and truth_application."""
    apps, firms, people, bank = world.apps, world.firms, world.people, world.bank
    month = apps.month
    default = world.default_month[apps.firm]
    defaulted = (default < NEVER) & (default >= month) & (default <= month + 12)
    return {
        "app_application": build_table(
            "app_application",
            {
                "application_id": apps.application_id,
                "uscc": firms.uscc[apps.firm],
                "applicant_id": people.id_number[apps.applicant],
                "product_code": apps.product,
                "channel": apps.channel,
                "applied_at": apps.applied_us,
                "requested_amount": apps.requested,
                "device_id": apps.device,
                "ip_address": apps.ip,
                "phone": apps.phone,
                "staff_id": np.where(apps.staff >= 0, bank.staff_id[np.maximum(apps.staff, 0)], ""),
                "decision": apps.decision,
                "approved_amount": apps.approved,
            },
        ),
        "truth_application": build_table(
            "truth_application",
            {
                "application_id": apps.application_id,
                "applied_at": apps.applied_us,
                "is_fraud": apps.fraud_type > 0,
                "fraud_type": FRAUD_TYPES[apps.fraud_type],
                "defaulted_within_12m": defaulted,
            },
        ),
    }
