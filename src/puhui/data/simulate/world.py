"""The whole simulated province before any source observes it: the causal chain in order.

population → fraud rings → people → bank → health → fraud by genuine firms → applications and
verdicts → loan book and repayment → defaults and closures. The observation modules then read
this world chunk by chunk; nothing here writes files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from puhui.data.identifiers import make_usccs
from puhui.data.simulate import applications as apply_
from puhui.data.simulate import fraud as fraud_
from puhui.data.simulate import fraud_applications as fraud_apps
from puhui.data.simulate import names
from puhui.data.simulate.bank import Bank, build_bank
from puhui.data.simulate.config import SimulationConfig
from puhui.data.simulate.health import NEVER, Health, simulate_health
from puhui.data.simulate.lending import (
    EmergencyBorrowing,
    Loans,
    build_loan_book,
    default_months,
    emergency_borrowing,
)
from puhui.data.simulate.people import (
    People,
    Shareholdings,
    assign_identity_numbers,
    build_owners,
)
from puhui.data.simulate.population import Firms, build_firms
from puhui.data.simulate.repayment import LoanMonths, loan_months
from puhui.data.simulate.timeline import Timeline, stream

Step = Callable[[str], None]


@dataclass
class World:
    """Everything the sources will observe."""

    config: SimulationConfig
    timeline: Timeline
    firms: Firms
    people: People
    holdings: Shareholdings
    bank: Bank
    health: Health
    rings: fraud_.RingPlan
    ring_ids: fraud_.RingIdentifiers
    real_fraud: fraud_.RealFirmFraud
    apps: apply_.Applications
    loans: Loans
    loan_ids: np.ndarray
    loan_months: LoanMonths
    emergency: EmergencyBorrowing
    default_month: np.ndarray
    core_uscc: np.ndarray  # large core enterprises outside the SME population
    core_name: np.ndarray


def build_world(config: SimulationConfig, step: Step | None = None) -> World:
    """Run the causal model end to end (deterministic for ``config.seed``)."""
    note = step or (lambda _: None)
    seed = config.seed
    timeline = Timeline(config.end_month, config.months)
    n = config.enterprises

    note("population")
    rings = fraud_.plan_rings(config, stream(seed, "rings"))
    firms = build_firms(
        config, timeline, stream(seed, "firms"), rings.shell_mask, rings.founded_month
    )
    phone_book = names.PhoneBook(stream(seed, "phones"), 3 * n + 10_000)
    people, holdings = build_owners(stream(seed, "owners"), firms, phone_book, timeline.last_day)
    people, ring_holdings, ring_ids = fraud_.build_ring_people(
        stream(seed, "ring-people"), firms, rings, phone_book, people, timeline.last_day
    )
    holdings = Shareholdings(
        firm=np.concatenate([holdings.firm, ring_holdings.firm]),
        holder_is_person=np.concatenate(
            [holdings.holder_is_person, ring_holdings.holder_is_person]
        ),
        holder=np.concatenate([holdings.holder, ring_holdings.holder]),
        share=np.concatenate([holdings.share, ring_holdings.share]),
    )
    bank = build_bank(
        config, firms, stream(seed, "bank"), phone_book, int(timeline.starts[0]), timeline.last_day
    )

    note("health")
    health = simulate_health(
        stream(seed, "health"),
        firms.quality,
        firms.division,
        firms.city,
        firms.founded_month,
        firms.is_shell,
        config.months,
        config.health,
    )
    fraud_.ring_never_fails(health, rings)
    _close_firms(stream(seed, "closures"), firms, health, rings, timeline)
    failure_before_lending = health.failure_month.copy()
    real_fraud = fraud_.choose_real_fraud(config, firms, health, stream(seed, "real-fraud"))

    note("applications")
    rng = stream(seed, "applications")
    genuine = apply_.genuine_applications(
        rng, firms, people, bank, health, timeline, config.chunk_size
    )
    ring_apps = fraud_apps.ring_applications(rng, firms, people, bank, timeline, rings, ring_ids)
    farm_apps = fraud_apps.farming_applications(rng, firms, people, bank, timeline, real_fraud)
    theft_apps, people = fraud_apps.identity_theft_applications(
        rng, firms, people, bank, timeline, real_fraud, phone_book
    )
    probe_apps = fraud_apps.probing_applications(rng, firms, people, bank, timeline, real_fraud)
    apps = apply_.Applications.concat([genuine, ring_apps, farm_apps, theft_apps, probe_apps])
    apply_.decide(rng, apps, firms, health, timeline)
    apps = apply_.stop_probing_at_approval(apps, fraud_.PROBING)

    note("lending")
    rng = stream(seed, "lending")
    loans, renewal_apps = build_loan_book(rng, firms, people, bank, health, apps, timeline)
    combined = apply_.Applications.concat([apps, renewal_apps])
    combined.locate(timeline)
    numbered = apply_.number(combined)
    position = np.empty(combined.n, dtype=np.int64)
    position[np.lexsort((combined.firm, combined.applied_us))] = np.arange(combined.n)
    loans.application = np.where(
        loans.application >= 0, position[np.maximum(loans.application, 0)], -1
    )
    del apps, renewal_apps, combined, position  # the numbered copy is all that is kept
    order = np.lexsort((loans.firm, loans.disbursed_day))
    loans = Loans(**{k: v[order] for k, v in vars(loans).items()})
    loan_ids = np.char.add("LN", np.char.zfill(np.arange(1, loans.n + 1).astype(str), 10))
    months = loan_months(rng, loans, firms, health, timeline, config.classification)
    emergency = emergency_borrowing(stream(seed, "emergency-borrowing"), firms, health)
    default = default_months(
        loans, firms, health, emergency, timeline, config.classification.substandard_days
    )
    absconded = health.failure_month != failure_before_lending
    _close_firms(stream(seed, "closures-after-fraud"), firms, health, rings, timeline, absconded)
    assign_identity_numbers(people)

    # Core enterprises are provincial groups (division 330000), so never an SME's code.
    core = max(5, n // 2000)
    core_rng = stream(seed, "core-enterprises")
    core_uscc = make_usccs(np.full(core, "330000"), names.unique_offsets(core_rng, core, 31**8))
    core_name = np.char.add(np.char.add("浙江", names.trade_names(core_rng, core)), "集团有限公司")
    return World(
        config,
        timeline,
        firms,
        people,
        holdings,
        bank,
        health,
        rings,
        ring_ids,
        real_fraud,
        numbered,
        loans,
        loan_ids,
        months,
        emergency,
        default,
        core_uscc,
        core_name,
    )


def _close_firms(
    rng: np.random.Generator,
    firms: Firms,
    health: Health,
    rings: fraud_.RingPlan,
    timeline: Timeline,
    only: np.ndarray | None = None,
) -> None:
    """Failed firms are struck off 8–24 months after failing; dormant shells within a year;
    a few healthy firms move out of the province. ``only`` re-closes firms whose fate changed."""
    n, months = firms.n, timeline.months
    failed = health.failure_month < NEVER
    closing = np.where(failed, health.failure_month + rng.integers(8, 25, n), NEVER)
    dormant = np.where(
        rings.shell_mask,
        rings.apply_month[np.maximum(rings.ring_of_firm, 0)] + rng.integers(4, 13, n),
        NEVER,
    )
    closing = np.maximum(np.minimum(closing, dormant), firms.founded_month + 1)
    if only is None:
        firms.status = np.full(n, "active", dtype="<U9")
        movers = ~failed & ~rings.shell_mask & (rng.random(n) < 0.003)
        firms.closed_month = np.where(movers, rng.integers(1, months, n), closing)
        firms.status[movers] = "moved_out"
        only = ~movers
    firms.closed_month[only] = np.minimum(firms.closed_month[only], closing[only])
    struck = only & (firms.closed_month <= months - 1) & (firms.status != "moved_out")
    firms.status[struck] = np.where(rng.random(n) < 0.6, "revoked", "cancelled")[struck]
