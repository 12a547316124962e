"""The applications fraud produces, each pattern with the traces a sentinel can find."""

from __future__ import annotations

import numpy as np

from puhui.data.simulate import names
from puhui.data.simulate.applications import (
    Applications,
    _own_applications,
    requested_amounts,
    timestamps,
)
from puhui.data.simulate.bank import Bank
from puhui.data.simulate.fraud import (
    DATA_FARMING,
    IDENTITY_THEFT,
    PROBING,
    SHELL,
    RealFirmFraud,
    RingIdentifiers,
    RingPlan,
)
from puhui.data.simulate.people import People, make_people
from puhui.data.simulate.population import Firms
from puhui.data.simulate.timeline import MICROS_PER_DAY, Timeline

PROBE_CHANNELS = np.array(["wechat", "zheliban", "open_api", "branch", "etax"])


def ring_applications(
    rng: np.random.Generator,
    firms: Firms,
    people: People,
    bank: Bank,
    timeline: Timeline,
    plan: RingPlan,
    shared: RingIdentifiers,
) -> Applications:
    """Each ring applies in one wave: days apart, same devices, phones and IP block."""
    members = np.flatnonzero(plan.shell_mask)
    again = members[rng.random(len(members)) < 0.2]  # a second try through another channel
    firm = np.concatenate([members, again])
    ring = plan.ring_of_firm[firm]
    n = len(firm)
    month = plan.apply_month[ring]
    offset = rng.integers(0, 20, n) + np.where(np.arange(n) >= len(members), 3, 0)
    applied = timestamps(rng, timeline, month, offset)
    phone = np.array([shared.phones[r][rng.integers(0, len(shared.phones[r]))] for r in ring])
    device = np.array([shared.devices[r][rng.integers(0, len(shared.devices[r]))] for r in ring])
    ip = names.ip_addresses(shared.ip_offsets[ring] + rng.integers(0, 256, n))
    # An intermediary (中介) often routes the whole ring through one account manager.
    broker = bank.any_account_manager(rng, firms.county_code[firm])
    ring_broker = np.array([broker[np.flatnonzero(ring == r)[0]] for r in range(plan.rings)])
    staff = np.where(rng.random(plan.rings)[ring] < 0.5, ring_broker[ring], -1)
    product = np.where(rng.random(n) < 0.7, "xiaowei_edai", "zheshang_edai")
    return Applications(
        firm=firm,
        applicant=firms.legal_rep[firm],
        product=product,
        channel=np.where(rng.random(n) < 0.6, "wechat", "open_api"),
        applied_us=applied,
        requested=np.round(rng.uniform(3e5, 1e6, n), -4),
        device=device,
        ip=ip,
        phone=phone,
        staff=staff.astype(np.int64),
        fraud_type=np.full(n, SHELL, dtype=np.int8),
        score_boost=np.zeros(n),
    )


def farming_applications(
    rng: np.random.Generator,
    firms: Firms,
    people: People,
    bank: Bank,
    timeline: Timeline,
    fraud: RealFirmFraud,
) -> Applications:
    """The application a data farmer has been preparing for: bigger amount, better-looking data."""
    apps = _own_applications(
        rng, firms, people, bank, timeline, fraud.farmers, fraud.farm_apply_month, DATA_FARMING
    )
    apps.requested = np.clip(
        np.round(
            firms.revenue[fraud.farmers]
            * fraud.farm_factor
            * rng.uniform(0.15, 0.3, len(fraud.farmers)),
            -4,
        ),
        50_000,
        3_000_000,
    )
    apps.score_boost = 0.6 * (fraud.farm_factor - 1) + 0.6
    return apps


def identity_theft_applications(
    rng: np.random.Generator,
    firms: Firms,
    people: People,
    bank: Bank,
    timeline: Timeline,
    fraud: RealFirmFraud,
    phone_book: names.PhoneBook,
) -> tuple[Applications, People]:
    """An impostor applies in a genuine firm's name from a phone and device never seen before."""
    victims = fraud.victims
    n = len(victims)
    impostors = make_people(
        rng,
        phone_book,
        firms.county_code[victims],
        rng.random(n) < 0.8,
        rng.uniform(22, 45, n),
        timeline.last_day,
        5,
    )
    first = people.n
    people = people.extend(impostors)
    elsewhere_city = (firms.city[victims] + rng.integers(1, 11, n)) % 11
    apps = Applications(
        firm=victims,
        applicant=first + np.arange(n),
        product=np.where(rng.random(n) < 0.8, "xiaowei_edai", "zheshang_edai"),
        channel=np.where(rng.random(n) < 0.5, "wechat", "open_api"),
        applied_us=timestamps(rng, timeline, fraud.theft_month),
        requested=requested_amounts(rng, firms.revenue[victims], 0.2, 0.4),
        device=names.device_ids(rng, n),
        ip=names.ip_addresses(names.city_ip_offsets(rng, elsewhere_city, 11)),
        phone=impostors.phone,
        staff=np.full(n, -1, dtype=np.int64),
        fraud_type=np.full(n, IDENTITY_THEFT, dtype=np.int8),
        score_boost=np.full(n, -0.6),  # device and phone checks catch some
    )
    return apps, people


def probing_applications(
    rng: np.random.Generator,
    firms: Firms,
    people: People,
    bank: Bank,
    timeline: Timeline,
    fraud: RealFirmFraud,
) -> Applications:
    """Bursts of 3–8 applications within days, amounts edited down, channels and staff rotated."""
    bursts = rng.integers(3, 9, len(fraud.probers))
    firm = np.repeat(fraud.probers, bursts)
    step = np.concatenate([np.arange(k) for k in bursts])
    n = len(firm)
    apps = _own_applications(
        rng, firms, people, bank, timeline, firm, np.repeat(fraud.probe_month, bursts), PROBING
    )
    start = apps.applied_us[np.r_[0, np.cumsum(bursts)[:-1]]]
    gaps = rng.integers(0, 4, n) * MICROS_PER_DAY + rng.integers(600, 20_000, n) * 1_000_000
    gaps[step == 0] = 0
    burst_of_row = np.repeat(np.arange(len(bursts)), bursts)
    apps.applied_us = np.minimum(
        start[burst_of_row] + _cumsum_within(gaps, bursts),
        timeline.last_day * MICROS_PER_DAY + 10 * 3_600_000_000,
    )
    opening = np.repeat(firms.revenue[fraud.probers] * rng.uniform(0.5, 0.8, len(bursts)), bursts)
    apps.requested = np.maximum(np.round(np.minimum(opening, 3_000_000) * 0.82**step, -4), 30_000)
    apps.channel = PROBE_CHANNELS[rng.integers(0, len(PROBE_CHANNELS), n)]
    rotate = rng.random(n) < 0.5
    apps.staff[rotate] = bank.any_account_manager(rng, firms.county_code[firm[rotate]])
    apps.score_boost = np.full(n, 0.2)
    return apps


def _cumsum_within(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    total = np.cumsum(values)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    before = np.repeat(total[starts] - values[starts], sizes)
    return total - before
