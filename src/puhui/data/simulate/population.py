"""The enterprises of the province: where they are, what they do, how big and old they are.

Cities and industries follow the reference weights; ages are exponential (many young firms,
a long tail of old ones); revenue is log-normal around the industry median and headcount
follows revenue per employee, so the 工信部 size classes come out mostly micro, some small and
few medium. Shell companies (fraud rings) are part of the population from the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from puhui.data.identifiers import make_usccs
from puhui.data.reference import cities, classify_size, divisions
from puhui.data.simulate import names
from puhui.data.simulate.config import SimulationConfig
from puhui.data.simulate.health import NEVER, initial_quality
from puhui.data.simulate.timeline import Timeline

ENTITY_TYPES = np.array(["limited_company", "sole_proprietorship", "partnership"])
ENTITY_WEIGHTS = np.array([0.9, 0.06, 0.04])
PROCUREMENT_SECTORS = {"construction", "software", "business_services", "other"}
SHELL_DIVISIONS = ("F51", "L72", "I65", "M75")
USCC_SERIAL_SPACE = 31**8


@dataclass
class Firms:
    """One row per enterprise; arrays indexed by firm number."""

    uscc: np.ndarray
    name: np.ndarray
    address: np.ndarray
    city: np.ndarray
    county_code: np.ndarray
    division: np.ndarray
    industry_code: np.ndarray
    sector: np.ndarray
    founded_day: np.ndarray
    founded_month: np.ndarray
    age_years: np.ndarray  # at the window start (negative: founded later)
    revenue: np.ndarray  # annual revenue in a normal year (yuan)
    employees: np.ndarray  # insured headcount in a normal month
    size_class: np.ndarray
    entity_type: np.ndarray
    registered_capital: np.ndarray
    paid_in_capital: np.ndarray  # NaN = not disclosed
    quality: np.ndarray
    is_exporter: np.ndarray
    export_ratio: np.ndarray
    is_scitech: np.ndarray
    general_taxpayer: np.ndarray
    vat_credit: np.ndarray
    has_utilities: np.ndarray
    has_social: np.ndarray
    wins_procurement: np.ndarray
    supplies_core: np.ndarray
    ever_borrowed: np.ndarray  # at the window start
    external_debt: np.ndarray  # balance with other lenders (yuan, 0 = none)
    external_lenders: np.ndarray
    guarantee_balance: np.ndarray
    credit_demand: np.ndarray
    growth: np.ndarray  # trend of annual revenue (log per year)
    is_shell: np.ndarray
    ring: np.ndarray  # ring number or -1
    fraud_type: np.ndarray  # 0 none, 1 shell, 2 data farming, 3 identity theft, 4 probing
    due_day: np.ndarray  # day of month debts fall due
    contact_phone: np.ndarray = field(default_factory=lambda: np.array([], dtype="<U11"))
    legal_rep: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    closed_month: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    status: np.ndarray = field(default_factory=lambda: np.array([], dtype="<U9"))

    @property
    def n(self) -> int:
        return len(self.uscc)


def _nice_capital(raw: np.ndarray) -> np.ndarray:
    """Registered capital snapped to the round figures founders choose (10万, 50万, 100万 …)."""
    steps = np.array([1e5, 3e5, 5e5, 1e6, 2e6, 3e6, 5e6, 1e7, 2e7, 5e7, 1e8])
    index = np.searchsorted(steps, raw)
    return steps[np.clip(index, 0, len(steps) - 1)]


def build_firms(
    config: SimulationConfig,
    timeline: Timeline,
    rng: np.random.Generator,
    shell_mask: np.ndarray,
    shell_founded_month: np.ndarray,
) -> Firms:
    """Every enterprise's static attributes (fraud rings already decided by ``shell_mask``)."""
    n = config.enterprises
    shares = config.shares
    city_list, div_list = cities(), divisions()
    city = rng.choice(len(city_list), n, p=_normalised([c.weight for c in city_list]))
    division = rng.choice(len(div_list), n, p=_normalised([d.weight for d in div_list]))
    shell_divisions = np.array([i for i, d in enumerate(div_list) if d.code in SHELL_DIVISIONS])
    division[shell_mask] = rng.choice(shell_divisions, shell_mask.sum())
    county_code = np.empty(n, dtype="<U6")
    county_name = np.empty(n, dtype="<U12")
    for c, spec in enumerate(city_list):
        members = np.flatnonzero(city == c)
        codes = np.array(list(spec.counties))
        pick = rng.integers(0, len(codes), len(members))
        county_code[members] = codes[pick]
        county_name[members] = np.array(list(spec.counties.values()))[pick]
    city_names = np.array([c.name for c in city_list])[city]

    age_end = np.clip(rng.exponential(10.0, n), 0.08, 45.0)
    founded_day = timeline.last_day - (age_end * 365.25).astype(np.int64)
    shell_days = timeline.day_in_month(shell_founded_month, rng.random(n))
    founded_day = np.where(shell_mask, shell_days, founded_day)
    founded_month = timeline.month_of_day(founded_day)
    age_start = (timeline.starts[0] - founded_day) / 365.25

    median = np.array([d.revenue_median for d in div_list])[division] * shares.revenue_scale
    youth = np.clip((age_start + 1.0) / 5.0, 0.15, 1.0) ** 0.7
    revenue = median * youth * np.exp(rng.normal(0, 1.2, n))
    per_employee = np.array([d.revenue_per_employee for d in div_list])[division]
    employees = np.floor(revenue / per_employee * np.exp(rng.normal(0, 0.5, n))).astype(np.int64)
    revenue[shell_mask] = rng.uniform(2e6, 8e6, shell_mask.sum())  # what they will declare
    employees[shell_mask] = 0
    sector = np.array([d.sector for d in div_list])[division]
    size_class = classify_size(sector, employees, revenue)

    larger = size_class != "micro"
    registered = _nice_capital(revenue * np.exp(rng.normal(-0.8, 0.8, n)))
    registered[shell_mask] = _nice_capital(rng.uniform(1e6, 5e6, shell_mask.sum()))
    paid_fraction = rng.choice([0.0, 0.2, 0.5, 1.0], n, p=[0.35, 0.15, 0.2, 0.3])
    paid = np.where(rng.random(n) < 0.4, np.nan, registered * paid_fraction)
    paid[shell_mask] = np.where(rng.random(shell_mask.sum()) < 0.5, 0.0, 1e4)
    entity_type = ENTITY_TYPES[rng.choice(3, n, p=ENTITY_WEIGHTS)]
    entity_type[shell_mask] = "limited_company"

    quality = initial_quality(rng, age_start, larger, config.health)
    exporter_bias = np.array([c.exporter_bias for c in city_list])[city]
    export_p = np.array([d.export_share for d in div_list])[division] * exporter_bias
    is_exporter = (
        rng.random(n) < export_p * shares.exporter_scale * (0.6 + 0.8 * larger)
    ) & ~shell_mask
    scitech_p = np.array([d.scitech_share for d in div_list])[division]
    is_scitech = (rng.random(n) < scitech_p * (0.7 + 0.8 * larger)) & ~shell_mask
    general_taxpayer = (revenue > 5e6) | (rng.random(n) < 0.15)
    manufacturing = np.char.startswith(np.array([d.code for d in div_list])[division], "C")
    vat_credit = general_taxpayer & manufacturing & (rng.random(n) < 0.35)
    procurement = np.isin(sector, list(PROCUREMENT_SECTORS))
    wins_procurement = procurement & (rng.random(n) < 0.12 + 0.1 * larger) & ~shell_mask
    supplies_core = (manufacturing | (sector == "wholesale")) & (rng.random(n) < 0.08) & ~shell_mask

    borrow_p = np.clip(
        shares.ever_borrowed * (0.55 + 0.6 * np.clip(age_start, 0, 10) / 10 + 0.3 * larger), 0, 0.97
    )
    ever_borrowed = (rng.random(n) < borrow_p) & ~shell_mask
    has_external = ever_borrowed & (rng.random(n) < 0.8)
    external_lenders = np.where(
        has_external, rng.choice([1, 2, 3, 4], n, p=[0.5, 0.3, 0.15, 0.05]), 0
    )
    external_debt = np.where(
        has_external, np.round(revenue * rng.uniform(0.05, 0.35, n) / 1e4) * 1e4 + 1e5, 0.0
    )
    guarantee = np.where(
        ever_borrowed & (rng.random(n) < 0.15),
        np.round(revenue * rng.uniform(0.05, 0.4, n), -4),
        0.0,
    )
    growth = rng.normal(0, 1, n)
    demand = 1 / (1 + np.exp(-(-1.0 + 0.7 * growth + 0.5 * manufacturing + 0.4 * (age_start < 3))))

    uscc_serials = names.unique_offsets(rng, n, USCC_SERIAL_SPACE)
    fraud_type = np.where(shell_mask, 1, 0).astype(np.int8)
    return Firms(
        uscc=make_usccs(county_code, uscc_serials),
        name=names.enterprise_names(
            rng, city_names, np.array([d.code for d in div_list])[division]
        ),
        address=names.addresses(rng, city_names, county_name),
        city=city,
        county_code=county_code,
        division=division,
        industry_code=np.array([d.code for d in div_list])[division],
        sector=sector,
        founded_day=founded_day,
        founded_month=founded_month,
        age_years=age_start,
        revenue=revenue,
        employees=employees,
        size_class=size_class,
        entity_type=entity_type,
        registered_capital=registered,
        paid_in_capital=paid,
        quality=quality,
        is_exporter=is_exporter,
        export_ratio=np.where(is_exporter, rng.uniform(0.2, 0.9, n), 0.0),
        is_scitech=is_scitech,
        general_taxpayer=general_taxpayer,
        vat_credit=vat_credit,
        has_utilities=(rng.random(n) < shares.utilities_matched) & ~shell_mask,
        has_social=(rng.random(n) < shares.social_registered) & ~shell_mask,
        wins_procurement=wins_procurement,
        supplies_core=supplies_core,
        ever_borrowed=ever_borrowed,
        external_debt=external_debt,
        external_lenders=external_lenders,
        guarantee_balance=guarantee,
        credit_demand=demand,
        growth=0.03 + 0.08 * growth,
        is_shell=shell_mask.copy(),
        ring=np.full(n, -1, dtype=np.int64),
        fraud_type=fraud_type,
        due_day=rng.integers(1, 26, n),
        closed_month=np.full(n, NEVER, dtype=np.int64),
    )


def _normalised(weights: list[float]) -> np.ndarray:
    values = np.asarray(weights, dtype=float)
    return values / values.sum()
