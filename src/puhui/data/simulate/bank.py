"""The bank itself: one 分行 per city, one 支行 per county, their staff and their customers.

Account managers (客户经理) are sized to the customers of their sub-branch; every customer has
one. Larger and older firms are likelier to bank here, and borrowers at the window start are
chosen among customers with better (noisily observed) quality, as a lender would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from puhui.data.reference import cities
from puhui.data.simulate import names
from puhui.data.simulate.config import SimulationConfig
from puhui.data.simulate.population import Firms

CUSTOMERS_PER_ACCOUNT_MANAGER = 150
HEAD_OFFICE_ROLES = {"model_developer": 3, "auditor": 2, "integration_engineer": 2, "admin": 1}


@dataclass
class Bank:
    """Branches, staff and the bank relationship of every firm."""

    branch_id: np.ndarray
    branch_name: np.ndarray
    branch_level: np.ndarray
    branch_parent: np.ndarray  # "" for a 分行
    branch_division: np.ndarray
    staff_id: np.ndarray
    staff_name: np.ndarray
    staff_role: np.ndarray
    staff_branch: np.ndarray  # index into branches
    staff_phone: np.ndarray
    customer: np.ndarray  # per firm
    branch_of_firm: np.ndarray  # sub-branch index per firm (its county)
    account_manager: np.ndarray  # staff index per firm (-1 if not a customer)
    opened_day: np.ndarray  # -1 if not a customer
    basic_account: np.ndarray
    payroll_service: np.ndarray
    borrower_at_start: np.ndarray
    county_managers: dict[str, np.ndarray]  # county code -> staff indices of its CMs

    def any_account_manager(self, rng: np.random.Generator, county: np.ndarray) -> np.ndarray:
        """A random account manager of each county's sub-branch (for referrals)."""
        result = np.empty(len(county), dtype=np.int64)
        for code in np.unique(county):
            rows = np.flatnonzero(county == code)
            pool = self.county_managers[str(code)]
            result[rows] = pool[rng.integers(0, len(pool), len(rows))]
        return result

    def become_customer(
        self, rng: np.random.Generator, firms: np.ndarray, days: np.ndarray
    ) -> None:
        """Open accounts for firms that borrow without having banked here before."""
        new = ~self.customer[firms]
        firms, days = firms[new], days[new]
        firms, first = np.unique(firms, return_index=True)
        self.customer[firms] = True
        self.opened_day[firms] = days[first]
        counties = self.branch_division[self.branch_of_firm[firms]]
        self.account_manager[firms] = self.any_account_manager(rng, counties)


def build_bank(
    config: SimulationConfig,
    firms: Firms,
    rng: np.random.Generator,
    phone_book: names.PhoneBook,
    start_day: int,
    last_day: int,
) -> Bank:
    """Branches and staff sized to the province, and each firm's relationship with the bank."""
    city_list = cities()
    ids, labels, levels, parents, divisions_ = [], [], [], [], []
    for spec in city_list:
        short = spec.name.removesuffix("市")
        ids.append(f"BR{spec.code}")
        labels.append(f"{short}分行")
        levels.append("branch")
        parents.append("")
        divisions_.append(spec.code)
        for code, county in spec.counties.items():
            ids.append(f"BR{code}")
            labels.append(f"{short}{county}支行")
            levels.append("sub_branch")
            parents.append(f"BR{spec.code}")
            divisions_.append(code)
    branch_id = np.array(ids)
    branch_division = np.array(divisions_)
    branch_index = {code: i for i, code in enumerate(divisions_)}
    branch_of_firm = (
        np.array([branch_index[c] for c in firms.county_code]) if firms.n else np.array([])
    )

    shares = config.shares
    larger = firms.size_class != "micro"
    appeal = (1 + 0.8 * larger + 0.3 * np.clip(firms.age_years, 0, 10) / 10) * ~firms.is_shell
    customer = rng.random(firms.n) < np.clip(shares.bank_customer * appeal / appeal.mean(), 0, 0.95)
    established = firms.founded_month <= -3
    score = firms.quality + rng.normal(0, 0.8, firms.n)
    eligible = customer & established & ~firms.is_shell
    wanted = round(shares.borrower_at_start * firms.n)
    ranked = np.flatnonzero(eligible)[np.argsort(-score[eligible], kind="stable")]
    pool = ranked[: min(len(ranked), int(wanted * 3))]
    borrower = np.zeros(firms.n, dtype=bool)
    borrower[rng.permutation(pool)[:wanted]] = True
    firms.ever_borrowed |= borrower

    staff_rows: list[tuple[str, int]] = []
    county_managers: dict[str, list[int]] = {}
    customers_per_branch = np.bincount(branch_of_firm[customer], minlength=len(branch_id))
    for b, level in enumerate(levels):
        if level == "branch":
            staff_rows += [("branch_manager", b), ("risk_officer", b), ("risk_officer", b)]
            if divisions_[b] == city_list[0].code:
                for role, count in HEAD_OFFICE_ROLES.items():
                    staff_rows += [(role, b)] * count
            continue
        managers = max(2, int(np.ceil(customers_per_branch[b] / CUSTOMERS_PER_ACCOUNT_MANAGER)))
        staff_rows.append(("branch_manager", b))
        county_managers[divisions_[b]] = list(range(len(staff_rows), len(staff_rows) + managers))
        staff_rows += [("account_manager", b)] * managers
    staff_count = len(staff_rows)

    opened = np.full(firms.n, -1, dtype=np.int64)
    span = np.maximum(start_day - np.maximum(firms.founded_day, start_day - 15 * 365), 30)
    before_start = firms.founded_day < start_day
    opened[customer & before_start] = (start_day - rng.random(firms.n) * span).astype(np.int64)[
        customer & before_start
    ]
    late = customer & ~before_start
    opened[late] = firms.founded_day[late] + rng.integers(10, 200, late.sum())
    too_late = late & (opened > last_day)
    customer &= ~too_late
    opened[too_late] = -1
    bank = Bank(
        branch_id=branch_id,
        branch_name=np.array(labels),
        branch_level=np.array(levels),
        branch_parent=np.array(parents),
        branch_division=branch_division,
        staff_id=np.array([f"S{100001 + i}" for i in range(staff_count)]),
        staff_name=names.person_names(rng, staff_count),
        staff_role=np.array([role for role, _ in staff_rows]),
        staff_branch=np.array([b for _, b in staff_rows]),
        staff_phone=phone_book.take(staff_count),
        customer=customer,
        branch_of_firm=branch_of_firm,
        account_manager=np.full(firms.n, -1, dtype=np.int64),
        opened_day=opened,
        basic_account=np.zeros(firms.n, dtype=bool),
        payroll_service=np.zeros(firms.n, dtype=bool),
        borrower_at_start=borrower,
        county_managers={k: np.array(v) for k, v in county_managers.items()},
    )
    served = np.flatnonzero(customer)
    bank.account_manager[served] = bank.any_account_manager(rng, firms.county_code[served])
    bank.basic_account = rng.random(firms.n) < np.where(borrower, 0.75, 0.4)
    bank.payroll_service = (firms.employees >= 5) & (rng.random(firms.n) < 0.35)
    return bank
