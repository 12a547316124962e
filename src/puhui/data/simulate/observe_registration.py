"""工商登记: enterprises as registered, the persons named, shareholders and changes.

Registration is mostly static. What moves: a struck-off status for failed firms (dated by
``status_since``, so point-in-time features can tell when it became visible), and the
change log, where a distressed firm is several times likelier to swap its legal
representative or shareholders (a classic warning sign), and shells often change theirs
shortly before their ring applies.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from puhui.data.reference import cities
from puhui.data.simulate import names
from puhui.data.simulate.activity import Chunk
from puhui.data.simulate.tables import NULL_DAY, build_table, take_strings
from puhui.data.simulate.world import World

CHANGE_TYPES = np.array(["legal_rep", "shareholder", "capital", "address", "name", "scope"])
YEARLY_CHANGE_RATES = np.array([0.015, 0.03, 0.02, 0.04, 0.01, 0.03])
DISTRESS_MULTIPLIER = np.array([5.0, 4.0, 1.0, 1.5, 1.0, 1.0])
SCOPE_CHANGES = np.array(
    [
        "增加：技术服务",
        "增加：货物进出口",
        "增加：互联网销售",
        "减少：餐饮服务",
        "增加：供应链管理服务",
        "增加：软件开发",
    ]
)


def enterprise_table(world: World, chunk: Chunk, rng: np.random.Generator) -> pa.Table:
    """reg_enterprise rows for the chunk (as registered at the end of the window)."""
    firms = world.firms
    lo, hi = chunk.lo, chunk.hi
    phone = firms.contact_phone[lo:hi].copy()
    phone[rng.random(chunk.n) < 0.05] = ""
    return build_table(
        "reg_enterprise",
        {
            "uscc": chunk.uscc,
            "name": firms.name[lo:hi],
            "legal_rep_id": world.people.id_number[firms.legal_rep[lo:hi]],
            "registered_capital": firms.registered_capital[lo:hi],
            "paid_in_capital": firms.paid_in_capital[lo:hi],
            "founded_on": firms.founded_day[lo:hi],
            "industry_code": firms.industry_code[lo:hi],
            "division_code": firms.county_code[lo:hi],
            "address": firms.address[lo:hi],
            "status": firms.status[lo:hi],
            "status_since": status_since(world, lo, hi),
            "size_class": firms.size_class[lo:hi],
            "entity_type": firms.entity_type[lo:hi],
            "contact_phone": phone,
        },
    )


def status_since(world: World, lo: int, hi: int) -> np.ndarray:
    """The day each firm's status took effect (吊销/注销/迁出), ``NULL_DAY`` while active.

    A firm is struck off or moves out in its ``closed_month`` (its last active month is the one
    before). The day within that month comes from the founding day, not from a new random
    draw, so the rest of the province stays byte-identical for a seed. A few movers are drawn a
    move-out month before they were founded (they never trade here): they move out on the day
    they are founded.
    """
    firms, tl = world.firms, world.timeline
    gone = firms.status[lo:hi] != "active"
    founded = firms.founded_day[lo:hi]
    month = np.where(gone, firms.closed_month[lo:hi], 0)
    day = np.maximum(tl.day_in_month(month, (founded % 28) / 28), founded)
    return np.where(gone, day, NULL_DAY)


def change_table(world: World, chunk: Chunk, rng: np.random.Generator) -> pa.Table:
    """reg_change_event: routine changes, more legal-rep and shareholder swaps under strain."""
    firms, tl, people = world.firms, world.timeline, world.people
    lo, hi, n, months = chunk.lo, chunk.hi, chunk.n, tl.months
    distress = (chunk.h < -1.3) & chunk.alive
    rows_parts, cols_parts, kind_parts = [], [], []
    for k in range(len(CHANGE_TYPES)):
        rate = YEARLY_CHANGE_RATES[k] / 12 * np.where(distress, DISTRESS_MULTIPLIER[k], 1.0)
        hit = chunk.alive & (rng.random((n, months)) < rate)
        r, c = np.nonzero(hit)
        rows_parts.append(r)
        cols_parts.append(c)
        kind_parts.append(np.full(len(r), k))
    shells = np.flatnonzero(firms.is_shell[lo:hi] & (rng.random(n) < 0.3))
    swap = world.rings.apply_month[firms.ring[lo:hi][shells]] - rng.integers(1, 4, len(shells))
    ok = (swap >= 0) & (swap >= firms.founded_month[lo:hi][shells])
    rows_parts.append(shells[ok])
    cols_parts.append(swap[ok])
    kind_parts.append(np.zeros(ok.sum(), dtype=np.int64))
    row = np.concatenate(rows_parts)
    col = np.concatenate(cols_parts)
    kind = np.concatenate(kind_parts)
    day = np.maximum(tl.day_in_month(col, rng.random(len(row))), firms.founded_day[lo:hi][row])
    key = np.unique(np.stack([row, day, kind]), axis=1, return_index=True)[1]
    row, day, kind = row[key], day[key], kind[key]

    m = len(row)
    current_rep = people.name[firms.legal_rep[lo:hi][row]]
    capital_after = firms.registered_capital[lo:hi][row]
    capital_before = np.round(capital_after * rng.uniform(0.2, 0.8, m), -4)
    city, county = _place_names(firms.county_code[lo:hi][row])
    before = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
        [
            names.person_names(rng, m),
            names.person_names(rng, m),
            np.char.add((capital_before / 1e4).astype(np.int64).astype(str), "万元"),
            names.addresses(rng, city, county),
            names.enterprise_names(rng, city, firms.industry_code[lo:hi][row]),
        ],
        default="",
    )
    after = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
        [
            current_rep,
            current_rep,
            np.char.add((capital_after / 1e4).astype(np.int64).astype(str), "万元"),
            firms.address[lo:hi][row],
            firms.name[lo:hi][row],
        ],
        default=SCOPE_CHANGES[rng.integers(0, len(SCOPE_CHANGES), m)] if m else "",
    )
    return build_table(
        "reg_change_event",
        {
            "uscc": take_strings(chunk.uscc, row),
            "changed_on": day,
            "change_type": CHANGE_TYPES[kind],
            "before_value": before,
            "after_value": after,
        },
    )


def _place_names(county_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """City and county names of county codes (for former names and addresses)."""
    lookup = {code: (city.name, name) for city in cities() for code, name in city.counties.items()}
    codes, inverse = np.unique(county_codes, return_inverse=True)
    city = np.array([lookup[c][0] for c in codes] or [""])[inverse] if len(codes) else codes
    county = np.array([lookup[c][1] for c in codes] or [""])[inverse] if len(codes) else codes
    return city, county


def person_table(world: World, rng: np.random.Generator) -> pa.Table:
    """reg_person: everyone named in a registration (impostors never are)."""
    people = world.people
    named = np.flatnonzero(people.role != 5)
    phone = people.phone[named].copy()
    phone[rng.random(len(named)) < 0.03] = ""
    return build_table(
        "reg_person",
        {
            "person_id": people.id_number[named],
            "name": people.name[named],
            "gender": np.where(people.male[named], "male", "female"),
            "birth_date": people.birth_day[named],
            "phone": phone,
            "division_code": people.residence[named],
        },
    )


def shareholder_table(world: World) -> pa.Table:
    """reg_shareholder: person and enterprise holders with their subscribed capital."""
    holdings, firms, people = world.holdings, world.firms, world.people
    holder_id = np.where(
        holdings.holder_is_person,
        people.id_number[np.where(holdings.holder_is_person, holdings.holder, 0)],
        firms.uscc[np.where(holdings.holder_is_person, 0, holdings.holder)],
    )
    return build_table(
        "reg_shareholder",
        {
            "uscc": firms.uscc[holdings.firm],
            "holder_type": np.where(holdings.holder_is_person, "person", "enterprise"),
            "holder_id": holder_id,
            "share_ratio": np.round(holdings.share, 4),
            "subscribed_capital": np.round(
                holdings.share * firms.registered_capital[holdings.firm], -2
            ),
        },
    )
