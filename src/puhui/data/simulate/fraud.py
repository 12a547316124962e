"""Fraud: shell-company rings, data farming (养数据), identity theft (冒名) and probing (套模型).

Counts are fixed from the number of firms and months (not drawn), so the fraud rate of a
province is stable from seed to seed. Each pattern leaves the traces a sentinel looks for:

- rings: new firms, tiny paid-in capital, no insured staff, no utilities, sharing people,
  phones, an address and devices, invoicing each other, applying within days of each other;
- data farming: tax revenue, invoices and bank inflows inflated for 3–6 months before the
  application while electricity, headcount and counterparties do not move;
- identity theft: the applicant is not the legal representative and uses an unknown phone,
  device and IP address;
- probing: several applications within days with edited amounts, across channels and staff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from puhui.data.simulate import names
from puhui.data.simulate.config import SimulationConfig
from puhui.data.simulate.health import NEVER, Health
from puhui.data.simulate.people import People, Shareholdings, make_people
from puhui.data.simulate.population import Firms

NONE, SHELL, DATA_FARMING, IDENTITY_THEFT, PROBING = range(5)
FRAUD_TYPES = np.array(["none", "shell", "data_farming", "identity_theft", "probing"])


@dataclass
class RingPlan:
    """Which firms are shells, in which ring, and when each ring applies."""

    shell_mask: np.ndarray
    ring_of_firm: np.ndarray
    founded_month: np.ndarray  # per firm; meaningful for shells only
    apply_month: np.ndarray  # per ring
    rings: int


@dataclass
class RingIdentifiers:
    """What ring members share: phones, devices, IP block (per ring)."""

    phones: list[np.ndarray]
    devices: list[np.ndarray]
    ip_offsets: np.ndarray


@dataclass
class RealFirmFraud:
    """Genuine firms that commit (or suffer) application fraud, with the month it happens."""

    farmers: np.ndarray
    farm_apply_month: np.ndarray
    farm_months: np.ndarray  # how many months were farmed before applying
    farm_factor: np.ndarray
    victims: np.ndarray
    theft_month: np.ndarray
    probers: np.ndarray
    probe_month: np.ndarray


def scaled_count(per_10k: float, config: SimulationConfig) -> int:
    """Events per 10,000 firms per 36 months, scaled to this province; at least one."""
    return max(1, round(per_10k * config.enterprises / 1e4 * config.months / 36))


def plan_rings(config: SimulationConfig, rng: np.random.Generator) -> RingPlan:
    """Shell firms and their rings; each ring applies in one wave in the later window."""
    n, months = config.enterprises, config.months
    rules = config.fraud
    rings = scaled_count(rules.rings_per_10k, config) if rules.rings_per_10k > 0 else 0
    sizes = rng.integers(rules.ring_size_min, rules.ring_size_max + 1, rings)
    total = int(min(sizes.sum(), n // 20))
    members = rng.choice(n, total, replace=False)
    ring_of_firm = np.full(n, -1, dtype=np.int64)
    ring_of_firm[members] = np.repeat(np.arange(rings), sizes)[:total]
    apply_month = rng.integers(min(12, months - 4), months - 2, rings)
    founded = np.zeros(n, dtype=np.int64)
    shells = ring_of_firm >= 0
    founded[shells] = apply_month[ring_of_firm[shells]] - rng.integers(3, 16, shells.sum())
    return RingPlan(shells, ring_of_firm, founded, apply_month, rings)


def build_ring_people(
    rng: np.random.Generator,
    firms: Firms,
    plan: RingPlan,
    phone_book: names.PhoneBook,
    people: People,
    last_day: int,
) -> tuple[People, Shareholdings, RingIdentifiers]:
    """Straw men and an organiser per ring; shared phones, devices, IP block and address."""
    firms.ring = plan.ring_of_firm.copy()
    firms.address = firms.address.astype(f"<U{firms.address.dtype.itemsize // 4 + 12}")
    hold_firm, hold_person, hold_share = [], [], []
    ring_phones, ring_devices = [], []
    ip_offsets = rng.integers(0, names.IP_SPACE - 256, plan.rings)
    shells = np.flatnonzero(plan.ring_of_firm >= 0)
    recruited: list[People] = []
    base = people.n
    for r in range(plan.rings):
        members = shells[plan.ring_of_firm[shells] == r]
        straw_count = max(1, (len(members) + 1) // 2)
        county = firms.county_code[members[:1]].repeat(straw_count + 1)
        recruits = make_people(
            rng,
            phone_book,
            county,
            rng.random(straw_count + 1) < 0.7,
            np.r_[rng.uniform(21, 30, straw_count // 2 + 1), rng.uniform(58, 68, straw_count)][
                : straw_count + 1
            ],
            last_day,
            3,
        )
        recruits.role[-1] = 4  # the organiser
        recruits.ring[:] = r
        shared_phones = recruits.phone[: rng.integers(1, 3)].copy()
        recruits.phone[:straw_count] = shared_phones[
            rng.integers(0, len(shared_phones), straw_count)
        ]
        shared_devices = names.device_ids(rng, int(rng.integers(1, 3)))
        recruits.device[:] = shared_devices[rng.integers(0, len(shared_devices), recruits.n)]
        recruited.append(recruits)
        straw = base + rng.integers(0, straw_count, len(members))
        firms.legal_rep[members] = straw
        firms.contact_phone[members] = shared_phones[
            rng.integers(0, len(shared_phones), len(members))
        ]
        room = rng.integers(201, 299, len(members)).astype(str)
        same_room = rng.random(len(members)) < 0.6
        building = firms.address[members[0]].split("幢")[0]
        if "幢" not in firms.address[members[0]]:
            building = firms.address[members[0]] + "1"
        firms.address[members] = np.where(
            same_room,
            f"{building}幢{room[0]}室",
            np.char.add(np.char.add(building + "幢", room), "室"),
        )
        organiser = base + straw_count
        organiser_share = rng.uniform(0.4, 0.7, len(members))
        hold_firm += [members, members]
        hold_person += [straw, np.full(len(members), organiser)]
        hold_share += [1 - organiser_share, organiser_share]
        ring_phones.append(shared_phones)
        ring_devices.append(shared_devices)
        base += recruits.n
    people = People.concat([people, *recruited])  # once, not once per ring
    firms.address = names.compact(firms.address)
    holdings = Shareholdings(
        firm=np.concatenate(hold_firm) if hold_firm else np.array([], dtype=np.int64),
        holder_is_person=np.ones(sum(len(f) for f in hold_firm), dtype=bool),
        holder=np.concatenate(hold_person) if hold_person else np.array([], dtype=np.int64),
        share=np.concatenate(hold_share) if hold_share else np.array([]),
    )
    return people, holdings, RingIdentifiers(ring_phones, ring_devices, ip_offsets)


def choose_real_fraud(
    config: SimulationConfig, firms: Firms, health: Health, rng: np.random.Generator
) -> RealFirmFraud:
    """Pick data farmers (weaker firms), identity-theft victims and probers among real firms."""
    months = config.months
    rules = config.fraud
    real = ~firms.is_shell & (firms.founded_month <= 0)

    def pick(count: int, weights: np.ndarray, taken: np.ndarray) -> np.ndarray:
        pool = np.flatnonzero(real & ~taken)
        w = weights[pool] / weights[pool].sum()
        return rng.choice(pool, min(count, len(pool)), replace=False, p=w)

    taken = np.zeros(firms.n, dtype=bool)
    weak = np.exp(-1.2 * firms.quality)
    farmers = pick(scaled_count(rules.data_farming_per_10k, config), weak, taken)
    taken[farmers] = True
    victims = pick(scaled_count(rules.identity_theft_per_10k, config), np.ones(firms.n), taken)
    taken[victims] = True
    probers = pick(scaled_count(rules.probing_per_10k, config), weak, taken)

    def month_before_failure(chosen: np.ndarray, earliest: int) -> np.ndarray:
        latest = np.minimum(health.failure_month[chosen], months) - 1
        low = np.minimum(earliest, latest)
        return np.maximum(low + (rng.random(len(chosen)) * (latest - low + 1)).astype(np.int64), 0)

    farm_months = rng.integers(3, 7, len(farmers))
    firms.fraud_type[farmers] = DATA_FARMING
    firms.fraud_type[victims] = IDENTITY_THEFT
    firms.fraud_type[probers] = PROBING
    return RealFirmFraud(
        farmers=farmers,
        farm_apply_month=month_before_failure(farmers, 7),
        farm_months=farm_months,
        farm_factor=rng.uniform(1.6, 3.0, len(farmers)),
        victims=victims,
        theft_month=month_before_failure(victims, 1),
        probers=probers,
        probe_month=month_before_failure(probers, 1),
    )


def farming_multiplier(fraud: RealFirmFraud, lo: int, hi: int, months: int) -> np.ndarray:
    """(hi-lo, T) factor on declared revenue, invoices and inflows; 1 outside farming months.

    The inflation ramps up towards the application month and falls back right after it.
    """
    result = np.ones((hi - lo, months))
    inside = (fraud.farmers >= lo) & (fraud.farmers < hi)
    for firm, apply, span, factor in zip(
        fraud.farmers[inside],
        fraud.farm_apply_month[inside],
        fraud.farm_months[inside],
        fraud.farm_factor[inside],
        strict=True,
    ):
        start = max(apply - span, 0)
        ramp = np.linspace(1.0 + (factor - 1) / span, factor, apply - start + 1)
        result[firm - lo, start : apply + 1] = ramp
    return result


def ring_never_fails(health: Health, plan: RingPlan) -> None:
    """Shells do not fail through health; their fate is the bust-out after a loan."""
    health.failure_month[plan.shell_mask] = NEVER
