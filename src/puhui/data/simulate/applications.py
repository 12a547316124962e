"""Online loan applications: who applies, when, for what, through which channel, and the verdict.

Genuine firms apply at a rate set by their latent credit demand, and more often when they are
short of money (distress). The bank's verdict reads a noisy view of health (its scorecard) and
penalises amounts out of line with revenue, so inflated data and edited amounts move it: that
is what data farming and probing exploit. Fraudulent applications come from :mod:`fraud`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from puhui.data.simulate import names
from puhui.data.simulate.bank import Bank
from puhui.data.simulate.health import Health
from puhui.data.simulate.people import People
from puhui.data.simulate.population import Firms
from puhui.data.simulate.timeline import MICROS_PER_DAY, Timeline

MONTHLY_APPLY_RATE = 0.022  # per unit of credit demand, for a firm not in distress
ONLINE_LIMIT = 3_000_000.0
APPROVE_SCORE = 0.3  # the scorecard cut-off, in health units
CHINA_OFFSET_MICROS = 8 * 3_600_000_000
PRODUCTS = np.array(
    [
        "xiaowei_edai",
        "keji_edai",
        "zheshang_edai",
        "waimao_edai",
        "liudishui_edai",
        "zhongbiao_edai",
        "zhengcai_edai",
        "renewal",
    ]
)
CHANNELS = np.array(
    [
        "wechat",
        "zheliban",
        "etax",
        "single_window",
        "procurement_platform",
        "supply_chain_platform",
        "open_api",
        "branch",
    ]
)
# Channel mix per product (rows follow PRODUCTS, columns CHANNELS).
CHANNEL_MIX = np.array(
    [
        [0.40, 0.25, 0.18, 0.00, 0.00, 0.02, 0.05, 0.10],
        [0.40, 0.30, 0.10, 0.00, 0.00, 0.00, 0.10, 0.10],
        [0.45, 0.30, 0.10, 0.00, 0.00, 0.00, 0.05, 0.10],
        [0.15, 0.05, 0.05, 0.70, 0.00, 0.00, 0.00, 0.05],
        [0.10, 0.10, 0.75, 0.00, 0.00, 0.00, 0.00, 0.05],
        [0.20, 0.10, 0.00, 0.00, 0.60, 0.00, 0.05, 0.05],
        [0.10, 0.05, 0.00, 0.00, 0.80, 0.00, 0.00, 0.05],
        [0.60, 0.10, 0.00, 0.00, 0.00, 0.00, 0.00, 0.30],
    ]
)


@dataclass
class Applications:
    """Application rows before they are sorted and numbered.

    The last four columns are filled as the application moves on (verdict, number, month);
    until then they are empty arrays.
    """

    firm: np.ndarray
    applicant: np.ndarray  # person index
    product: np.ndarray
    channel: np.ndarray
    applied_us: np.ndarray
    requested: np.ndarray
    device: np.ndarray
    ip: np.ndarray
    phone: np.ndarray
    staff: np.ndarray  # staff index or -1
    fraud_type: np.ndarray
    score_boost: np.ndarray  # how much better the application looks than the firm is
    decision: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="<U9"))
    approved: np.ndarray = field(default_factory=lambda: np.empty(0))  # NaN unless approved
    application_id: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="<U12"))
    month: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def n(self) -> int:
        return len(self.firm)

    def locate(self, timeline: Timeline) -> None:
        """Fill the window month of every application."""
        self.month = timeline.month_of_day(self.applied_us // MICROS_PER_DAY)

    def _columns(self) -> dict[str, np.ndarray]:
        """The columns that are filled (one value per application)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(Applications)
            if len(getattr(self, f.name)) == self.n
        }

    @staticmethod
    def concat(parts: list[Applications]) -> Applications:
        filled = set.intersection(*(set(p._columns()) for p in parts))
        return Applications(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(Applications)
                if f.name in filled
            }
        )

    def take(self, rows: np.ndarray) -> Applications:
        return Applications(**{name: values[rows] for name, values in self._columns().items()})


def timestamps(
    rng: np.random.Generator,
    timeline: Timeline,
    month: np.ndarray,
    day_offset: np.ndarray | None = None,
) -> np.ndarray:
    """Application times: a day in the month (plus an offset), 08:00–22:59 Beijing time, as UTC."""
    day = timeline.day_in_month(month, rng.random(len(month)))
    if day_offset is not None:
        day = np.minimum(day + day_offset, timeline.last_day)
    seconds = rng.integers(8 * 3600, 23 * 3600, len(month))
    return day * MICROS_PER_DAY + seconds * 1_000_000 - CHINA_OFFSET_MICROS


def choose_products(rng: np.random.Generator, firms: Firms, firm: np.ndarray) -> np.ndarray:
    """The product a firm's profile points to (科技e贷 for sci-tech firms and so on)."""
    u = rng.random(len(firm))
    product = np.where(rng.random(len(firm)) < 0.7, "xiaowei_edai", "zheshang_edai").astype("<U14")
    rules = [
        (firms.wins_procurement[firm] & (u < 0.25), "zhengcai_edai"),
        (firms.wins_procurement[firm] & (u >= 0.25) & (u < 0.5), "zhongbiao_edai"),
        (firms.vat_credit[firm] & (u < 0.4), "liudishui_edai"),
        (firms.is_exporter[firm] & (u < 0.45), "waimao_edai"),
        (firms.is_scitech[firm] & (u < 0.5), "keji_edai"),
    ]
    for mask, name in rules:
        product[mask] = name
    return product


def choose_channels(rng: np.random.Generator, product: np.ndarray) -> np.ndarray:
    index = np.searchsorted(PRODUCTS, product, sorter=np.argsort(PRODUCTS))
    index = np.argsort(PRODUCTS)[index]
    cumulative = np.cumsum(CHANNEL_MIX, axis=1)[index]
    pick = (rng.random(len(product))[:, None] > cumulative).sum(axis=1)
    return CHANNELS[np.minimum(pick, len(CHANNELS) - 1)]


def requested_amounts(
    rng: np.random.Generator, revenue: np.ndarray, low: float = 0.08, high: float = 0.3
) -> np.ndarray:
    raw = revenue * rng.uniform(low, high, len(revenue))
    return np.clip(np.round(raw, -4), 30_000, ONLINE_LIMIT)


def genuine_applications(
    rng: np.random.Generator,
    firms: Firms,
    people: People,
    bank: Bank,
    health: Health,
    timeline: Timeline,
    chunk_size: int,
) -> Applications:
    """Applications of genuine firms, month by month, driven by credit demand and distress."""
    firm_parts, month_parts = [], []
    months = timeline.months
    t = np.arange(months)
    for lo in range(0, firms.n, chunk_size):
        hi = min(lo + chunk_size, firms.n)
        h = health.h[lo:hi]
        alive = (t >= firms.founded_month[lo:hi, None] + 1) & (t < firms.closed_month[lo:hi, None])
        failed = t >= health.failure_month[lo:hi, None]
        distress = np.clip(-(h + 0.8), 0, 2.5)
        rate = MONTHLY_APPLY_RATE * firms.credit_demand[lo:hi, None] * (1 + 1.2 * distress)
        rate = (
            rate
            * np.where(failed, 0.3, 1.0)
            * np.where(bank.borrower_at_start[lo:hi, None], 0.4, 1)
        )
        rate = np.where(alive & ~firms.is_shell[lo:hi, None], rate, 0.0)
        count = rng.poisson(rate)
        rows, cols = np.nonzero(count)
        reps = count[rows, cols]
        firm_parts.append(np.repeat(rows + lo, reps))
        month_parts.append(np.repeat(cols, reps))
    firm = np.concatenate(firm_parts)
    month = np.concatenate(month_parts)
    return _own_applications(rng, firms, people, bank, timeline, firm, month, 0)


def _own_applications(
    rng: np.random.Generator,
    firms: Firms,
    people: People,
    bank: Bank,
    timeline: Timeline,
    firm: np.ndarray,
    month: np.ndarray,
    fraud_type: int,
    product: np.ndarray | None = None,
) -> Applications:
    """Applications by the firm's own legal representative from their usual phone and device."""
    n = len(firm)
    applicant = firms.legal_rep[firm]
    phone = people.phone[applicant].copy()
    use_contact = rng.random(n) < 0.1
    phone[use_contact] = firms.contact_phone[firm[use_contact]]
    device = people.device[applicant].copy()
    other_device = rng.random(n) < 0.1
    device[other_device] = names.device_ids(rng, int(other_device.sum()))
    staff = np.full(n, -1, dtype=np.int64)
    customer = bank.customer[firm]
    own_cm = customer & (rng.random(n) < 0.6)
    staff[own_cm] = bank.account_manager[firm[own_cm]]
    referred = ~customer & (rng.random(n) < 0.25)
    staff[referred] = bank.any_account_manager(rng, firms.county_code[firm[referred]])
    product = choose_products(rng, firms, firm) if product is None else product
    return Applications(
        firm=firm,
        applicant=applicant,
        product=product,
        channel=choose_channels(rng, product),
        applied_us=timestamps(rng, timeline, month),
        requested=requested_amounts(rng, firms.revenue[firm]),
        device=device,
        ip=names.ip_addresses(names.city_ip_offsets(rng, firms.city[firm], 11)),
        phone=phone,
        staff=staff,
        fraud_type=np.full(n, fraud_type, dtype=np.int8),
        score_boost=np.zeros(n),
    )


def decide(
    rng: np.random.Generator, apps: Applications, firms: Firms, health: Health, timeline: Timeline
) -> None:
    """The bank's verdict: a noisy scorecard view of health, an amount check and hard rules.

    Firms already past their failure month show overdue debt at the bureau and are declined.
    """
    apps.locate(timeline)
    month = np.clip(apps.month, 0, timeline.months - 1)
    h = health.h[apps.firm, month].astype(np.float64)
    # A shell's data are invented: the scorecard sees a thin but tidy made-up profile.
    h = np.where(firms.is_shell[apps.firm], rng.normal(0.0, 0.6, apps.n), h)
    leverage = apps.requested / np.maximum(firms.revenue[apps.firm], 1.0)
    score = h + apps.score_boost + rng.normal(0, 0.8, apps.n) - 2.5 * np.maximum(leverage - 0.3, 0)
    failed = apps.month >= health.failure_month[apps.firm]
    decision = np.where(
        score > APPROVE_SCORE,
        "approved",
        np.where(score > APPROVE_SCORE - 0.5, "referred", "rejected"),
    )
    decision = decision.astype("<U9")
    decision[failed & (rng.random(apps.n) < 0.97)] = "rejected"
    decision[rng.random(apps.n) < 0.04] = "withdrawn"
    apps.decision = decision
    cut = np.round(apps.requested * rng.uniform(0.6, 1.0, apps.n), -4)
    apps.approved = np.where(decision == "approved", np.maximum(cut, 10_000), np.nan)


def stop_probing_at_approval(apps: Applications, probing: int) -> Applications:
    """Probing ends once an application gets through: later tries in the burst never happen.

    The opening two tries ask for far more than the data support and are always declined, so
    every burst shows the edited, repeated attempts the sentinel looks for.
    """
    rows = np.flatnonzero(apps.fraud_type == probing)
    rows = rows[np.lexsort((apps.applied_us[rows], apps.firm[rows]))]
    if not len(rows):
        return apps
    firm = apps.firm[rows]
    first = np.r_[True, firm[1:] != firm[:-1]]
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    position = np.arange(len(rows)) - starts[group]
    opening = rows[(position < 2) & (apps.decision[rows] == "approved")]
    apps.decision[opening] = "rejected"
    apps.approved[opening] = np.nan
    approved = (apps.decision[rows] == "approved").astype(np.int64)
    before = np.cumsum(approved) - approved
    drop = rows[(before - before[starts][group]) > 0]
    return apps.take(np.setdiff1d(np.arange(apps.n), drop))


def number(apps: Applications) -> Applications:
    """Sort by time and give every application its id (AP + 10 digits)."""
    order = np.lexsort((apps.firm, apps.applied_us))
    ordered = apps.take(order)
    ordered.application_id = np.char.add(
        "AP", np.char.zfill(np.arange(1, apps.n + 1).astype(str), 10)
    )
    return ordered
