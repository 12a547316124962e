"""The natural persons behind the firms: legal representatives, spouses and shareholders.

People are shared across firms the way they are in real life: an owner controls two to five
firms (usually in one city), spouses hold shares in family firms, and business partners sit
as shareholders in each other's companies. Identity numbers are valid (GB 11643-1999) and
fictitious: every sequence lies in 900–999.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from puhui.data.identifiers import make_id_numbers
from puhui.data.reference import county_codes
from puhui.data.simulate import names
from puhui.data.simulate.population import Firms

OWNER_FIRM_COUNTS = np.array([1, 2, 3, 4, 5])
OWNER_FIRM_WEIGHTS = np.array([0.86, 0.08, 0.035, 0.015, 0.01])
EDUCATION = np.array(["below_high_school", "high_school", "college", "bachelor", "postgraduate"])
EDUCATION_WEIGHTS = np.array([0.15, 0.3, 0.25, 0.24, 0.06])
ROLES = ("owner", "spouse", "partner", "straw_man", "organiser", "impostor")


@dataclass
class People:
    """One row per natural person named in a registration."""

    id_number: np.ndarray
    name: np.ndarray
    male: np.ndarray
    birth_day: np.ndarray
    phone: np.ndarray
    division_code: np.ndarray  # birthplace, as in the identity number
    residence: np.ndarray  # county of residence in Zhejiang (registrations show this)
    spouse: np.ndarray  # person index or -1
    marital_status: np.ndarray
    education: np.ndarray  # "" = not recorded
    first_credit_day: np.ndarray  # -1 = no credit history
    device: np.ndarray
    role: np.ndarray  # index into ROLES
    ring: np.ndarray

    @property
    def n(self) -> int:
        return len(self.id_number)

    def extend(self, other: People) -> People:
        return People.concat([self, other])

    @staticmethod
    def concat(parts: list[People]) -> People:
        return People(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(People)}
        )


@dataclass
class Shareholdings:
    """reg_shareholder rows before they are written."""

    firm: np.ndarray
    holder_is_person: np.ndarray
    holder: np.ndarray  # person index, or firm index for enterprise holders
    share: np.ndarray


def make_people(
    rng: np.random.Generator,
    phone_book: names.PhoneBook,
    home_division: np.ndarray,
    male: np.ndarray,
    age_years: np.ndarray,
    last_day: int,
    role: int,
) -> People:
    """Persons of one role; identity numbers come later, for everyone at once."""
    n = len(male)
    division = home_division.astype("<U6").copy()
    elsewhere = rng.random(n)
    zhejiang = np.array(sorted(county_codes()))
    division[elsewhere < 0.25] = zhejiang[rng.integers(0, len(zhejiang), n)][elsewhere < 0.25]
    division[elsewhere > 0.92] = names.OUT_OF_PROVINCE_DIVISIONS[
        rng.integers(0, len(names.OUT_OF_PROVINCE_DIVISIONS), n)
    ][elsewhere > 0.92]
    birth = (last_day - age_years * 365.25).astype(np.int64)
    age_at_22 = birth + int(22 * 365.25)
    has_credit = rng.random(n) < 0.82
    first_credit = np.where(
        has_credit,
        age_at_22 + (rng.random(n) * np.maximum(last_day - age_at_22, 1)).astype(np.int64),
        -1,
    )
    return People(
        id_number=np.full(n, "", dtype="<U18"),
        name=names.person_names(rng, n),
        male=male,
        birth_day=birth,
        phone=phone_book.take(n),
        division_code=division,
        residence=home_division.astype("<U6"),
        spouse=np.full(n, -1, dtype=np.int64),
        marital_status=np.full(n, "single", dtype="<U8"),
        education=np.where(
            rng.random(n) < 0.9, names.pick(rng, EDUCATION, n, EDUCATION_WEIGHTS), ""
        ),
        first_credit_day=np.minimum(first_credit, last_day),
        device=names.device_ids(rng, n),
        role=np.full(n, role, dtype=np.int8),
        ring=np.full(n, -1, dtype=np.int64),
    )


def assign_identity_numbers(people: People) -> None:
    """Valid, unique identity numbers (sequence 900–999, odd for men) for every person.

    Sequences are ranked within (division, birth date, sex); a crowded day moves a birthday.
    """
    division, male = people.division_code, people.male
    birth = people.birth_day.copy()
    while True:
        order = np.lexsort((male, birth, division))
        keys = np.stack(
            [division[order].astype("<U6"), birth[order].astype("<U8"), male[order].astype("<U1")],
            axis=1,
        )
        new_group = np.ones(len(order), dtype=bool)
        new_group[1:] = (keys[1:] != keys[:-1]).any(axis=1)
        group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(order)), 0))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order)) - group_start
        crowded = rank >= 50
        if not crowded.any():
            break
        birth[crowded] += 1
    sequence = 900 + 2 * rank + male.astype(np.int64)
    people.birth_day = birth
    people.id_number = make_id_numbers(division, birth.astype("datetime64[D]"), sequence)


def build_owners(
    rng: np.random.Generator, firms: Firms, phone_book: names.PhoneBook, last_day: int
) -> tuple[People, Shareholdings]:
    """Owners (legal representatives), their spouses and partners for every non-shell firm."""
    real = np.flatnonzero(~firms.is_shell)
    order = real[np.lexsort((rng.random(len(real)), firms.city[real]))]
    counts = names.pick(rng, OWNER_FIRM_COUNTS, len(order), OWNER_FIRM_WEIGHTS)
    block_ends = np.cumsum(counts)
    block_ends = block_ends[block_ends < len(order)]
    owner_of_slot = np.searchsorted(block_ends, np.arange(len(order)), side="right")
    owners = int(owner_of_slot[-1]) + 1 if len(order) else 0
    first_firm = order[np.r_[0, block_ends]][:owners]
    male = rng.random(owners) < 0.75
    age = np.clip(rng.normal(46, 9, owners), 24, 70)
    people = make_people(rng, phone_book, firms.county_code[first_firm], male, age, last_day, 0)
    firms.legal_rep = np.full(firms.n, -1, dtype=np.int64)
    firms.legal_rep[order] = owner_of_slot
    firms.contact_phone = people.phone[np.maximum(firms.legal_rep, 0)].copy()
    agent_phone = rng.random(firms.n) < 0.2  # registered through an agent or a clerk
    firms.contact_phone[agent_phone] = phone_book.take(int(agent_phone.sum()))

    married = rng.random(owners) < 0.78
    spouse_of = np.flatnonzero(married)
    spouses = make_people(
        rng,
        phone_book,
        people.residence[spouse_of],
        ~male[spouse_of],
        np.clip(age[spouse_of] + rng.normal(-1.5, 3, len(spouse_of)), 22, 75),
        last_day,
        1,
    )
    spouse_index = owners + np.arange(len(spouse_of))
    people = people.extend(spouses)
    people.spouse[spouse_of] = spouse_index
    people.spouse[spouse_index] = spouse_of
    people.marital_status[spouse_of] = "married"
    people.marital_status[spouse_index] = "married"
    single = np.flatnonzero(~married)
    older = age[single] > 50
    people.marital_status[single] = np.where(
        older & (rng.random(len(single)) < 0.3),
        "widowed",
        np.where(rng.random(len(single)) < 0.35, "divorced", "single"),
    )

    return _shareholdings(rng, firms, people, phone_book, last_day, owners)


def _shareholdings(
    rng: np.random.Generator,
    firms: Firms,
    people: People,
    phone_book: names.PhoneBook,
    last_day: int,
    owners: int,
) -> tuple[People, Shareholdings]:
    """Who holds each real firm: the owner, often the spouse, sometimes partners or a group firm."""
    real = np.flatnonzero(~firms.is_shell)
    owner = firms.legal_rep[real]
    kind = firms.entity_type[real]
    spouse = people.spouse[owner]
    family = (kind == "limited_company") & (spouse >= 0) & (rng.random(len(real)) < 0.45)
    partnered = (kind == "partnership") | (
        (kind == "limited_company") & (rng.random(len(real)) < 0.3)
    )
    # Partners: half are other owners in the province (the shared-people network), half new.
    partner_is_owner = rng.random(len(real)) < 0.5
    partner = np.where(partner_is_owner, rng.integers(0, owners, len(real)), -1)
    partner[partner == owner] = -1
    new_partner = partnered & (partner < 0)
    investors = make_people(
        rng,
        phone_book,
        firms.county_code[real[new_partner]],
        rng.random(new_partner.sum()) < 0.7,
        np.clip(rng.normal(48, 9, new_partner.sum()), 25, 72),
        last_day,
        2,
    )
    partner[new_partner] = people.n + np.arange(investors.n)
    people = people.extend(investors)
    investors_married = people.role == 2
    people.marital_status[investors_married] = np.where(
        rng.random(investors_married.sum()) < 0.8, "married", "single"
    )

    owner_share = np.where(kind == "sole_proprietorship", 1.0, rng.uniform(0.51, 0.9, len(real)))
    spouse_share = np.where(family, (1 - owner_share) * np.where(partnered, 0.5, 1.0), 0.0)
    partner_share = np.where(partnered, 1 - owner_share - spouse_share, 0.0)
    owner_share = 1 - spouse_share - partner_share

    # Group structure: a later firm of a multi-firm owner is partly held by the earlier one.
    by_owner = np.argsort(owner, kind="stable")
    repeat = np.r_[False, owner[by_owner][1:] == owner[by_owner][:-1]]
    previous_firm = np.r_[-1, real[by_owner][:-1]]
    chosen = repeat & (rng.random(len(real)) < 0.3)
    group_holder = np.full(len(real), -1, dtype=np.int64)
    group_holder[by_owner[chosen]] = previous_firm[chosen]
    group = (group_holder >= 0) & (kind == "limited_company")
    group_share = np.where(group, owner_share * 0.5, 0.0)
    owner_share = owner_share - group_share

    firm = np.concatenate([real, real[family], real[partnered], real[group]])
    is_person = np.concatenate(
        [np.ones(len(real) + family.sum() + partnered.sum(), bool), np.zeros(group.sum(), bool)]
    )
    holder = np.concatenate([owner, spouse[family], partner[partnered], group_holder[group]])
    share = np.concatenate(
        [owner_share, spouse_share[family], partner_share[partnered], group_share[group]]
    )
    return people, Shareholdings(firm=firm, holder_is_person=is_person, holder=holder, share=share)
