"""法院 and 环保: lawsuits, enforcement, the dishonest-debtor list and environmental penalties.

Every firm gets sued now and then. Under strain, suppliers and employees sue more (unpaid
bills and wages, private loans), typically one to six months before a default; after the
default the lenders sue, win, enforce, and about half the debtors end up on the
失信被执行人 list, often with their legal representative. Environmental stop-production
orders are the same events that knock health down in :mod:`health`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from puhui.data.simulate.activity import Chunk, lagged
from puhui.data.simulate.health import NEVER
from puhui.data.simulate.tables import NULL_DAY, build_table
from puhui.data.simulate.world import World

CASES_PER_CHUNK = 1_000_000
COMMERCIAL_CAUSES = np.array(["买卖合同纠纷", "承揽合同纠纷", "服务合同纠纷", "租赁合同纠纷"])
DISTRESS_CAUSES = np.array(["买卖合同纠纷", "民间借贷纠纷", "劳动争议", "建设工程施工合同纠纷"])
DISHONEST_BEHAVIOUR = np.array(
    [
        "有履行能力而拒不履行生效法律文书确定义务",
        "违反财产报告制度",
        "违反限制消费令",
        "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
    ]
)
VIOLATIONS = np.array(["air", "water", "solid_waste", "noise", "permit", "other"])


def _case_numbers(day: np.ndarray, county: np.ndarray, kind: str, serial: np.ndarray) -> np.ndarray:
    year = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    court = np.char.add("浙", np.char.zfill((county.astype(np.int64) % 10_000).astype(str), 4))
    head = np.char.add(np.char.add("(", year.astype(str)), ")")
    return np.char.add(
        np.char.add(np.char.add(head, court), kind), np.char.add(serial.astype(str), "号")
    )


def court_tables(world: World, chunk: Chunk, rng: np.random.Generator) -> dict[str, pa.Table]:
    """court_case, court_enforcement and court_dishonest for one chunk of firms."""
    firms, tl = world.firms, world.timeline
    lo, hi, months = chunk.lo, chunk.hi, tl.months
    real = ~firms.is_shell[lo:hi, None]
    active = chunk.alive & real
    strain = 1 / (1 + np.exp(-3 * (-lagged(chunk.h, 1) - 1.6)))
    before_end = chunk.since_failure < 6
    rates = {
        "background": np.where(active, 0.004, 0.0),
        "distress": np.where(active & before_end, 0.07 * strain, 0.0),
        "plaintiff": np.where(active & ~chunk.failed, 0.003, 0.0),
    }
    rows_parts, cols_parts, kind_parts = [], [], []
    for kind, rate in rates.items():
        count = rng.poisson(rate)
        r, c = np.nonzero(count)
        reps = count[r, c]
        rows_parts.append(np.repeat(r, reps))
        cols_parts.append(np.repeat(c, reps))
        kind_parts.append(np.full(reps.sum(), kind))
    default = world.default_month[lo:hi]
    sued = np.flatnonzero(default < NEVER)
    suit_month = default[sued] + rng.integers(0, 4, len(sued))
    keep = suit_month < months
    rows_parts.append(sued[keep])
    cols_parts.append(suit_month[keep])
    kind_parts.append(np.full(keep.sum(), "lender"))
    row = np.concatenate(rows_parts)
    col = np.concatenate(cols_parts)
    kind = np.concatenate(kind_parts)
    m = len(row)
    if m >= CASES_PER_CHUNK // 2:
        raise ValueError("too many court cases in one chunk for unique case numbers")

    revenue = firms.revenue[lo:hi][row]
    filed = tl.starts[col] + rng.integers(0, 28, m)
    lender = kind == "lender"
    cause = np.where(
        kind == "distress",
        DISTRESS_CAUSES[rng.integers(0, 4, m)],
        COMMERCIAL_CAUSES[rng.integers(0, 4, m)],
    )
    cause = np.where(lender, "金融借款合同纠纷", cause)
    case_type = np.where(
        cause == "劳动争议", "labor", np.where(cause == "民间借贷纠纷", "civil", "commercial")
    )
    debt = firms.external_debt[lo:hi][row] + revenue * 0.15
    claim = np.where(
        lender,
        debt,
        revenue
        * np.where(kind == "distress", rng.uniform(0.02, 0.15, m), rng.uniform(0.005, 0.05, m)),
    )
    judged = filed + rng.integers(60, 240, m)
    decided = judged <= tl.last_day
    u = rng.random(m)
    defendant_outcome = np.where(
        u < 0.55, "lost", np.where(u < 0.8, "settled", np.where(u < 0.9, "won", "withdrawn"))
    )
    lender_outcome = np.where(u < 0.85, "lost", "settled")
    plaintiff_outcome = np.where(
        u < 0.6, "won", np.where(u < 0.85, "settled", np.where(u < 0.95, "withdrawn", "lost"))
    )
    outcome = np.where(
        lender, lender_outcome, np.where(kind == "plaintiff", plaintiff_outcome, defendant_outcome)
    )
    outcome = np.where(decided, outcome, "pending")
    county = firms.county_code[lo:hi][row]
    numbers = _case_numbers(filed, county, "民初", chunk.index * CASES_PER_CHUNK + np.arange(m) + 1)
    role = np.where(kind == "plaintiff", "plaintiff", "defendant")

    # The legal representative is sued as guarantor in most lender suits.
    guarantor = lender & (rng.random(m) < 0.6)
    person = world.people.id_number[firms.legal_rep[lo:hi][row[guarantor]]]
    cases = build_table(
        "court_case",
        {
            "case_no": np.r_[numbers, numbers[guarantor]],
            "party_id": np.r_[firms.uscc[lo:hi][row], person],
            "party_type": np.r_[np.full(m, "enterprise"), np.full(guarantor.sum(), "person")],
            "party_role": np.r_[role, np.full(guarantor.sum(), "defendant")],
            "case_type": np.r_[case_type, case_type[guarantor]],
            "cause": np.r_[cause, cause[guarantor]],
            "filed_on": np.r_[filed, filed[guarantor]],
            "claim_amount": np.round(np.r_[claim, claim[guarantor]], -2),
            "judged_on": np.where(
                np.r_[decided, decided[guarantor]], np.r_[judged, judged[guarantor]], NULL_DAY
            ),
            "outcome": np.r_[outcome, outcome[guarantor]],
        },
    )

    # Enforcement follows lost cases: always for lenders, sometimes for trade disputes.
    lost = (outcome == "lost") & (role == "defendant")
    enforced = lost & (lender | (rng.random(m) < 0.25))
    e = np.flatnonzero(enforced)
    e_filed = judged[e] + rng.integers(20, 90, len(e))
    keep = e_filed <= tl.last_day
    e, e_filed = e[keep], e_filed[keep]
    e_numbers = _case_numbers(
        e_filed,
        county[e],
        "执",
        chunk.index * CASES_PER_CHUNK + CASES_PER_CHUNK // 2 + np.arange(len(e)) + 1,
    )
    failed_firm = lender[e]
    v = rng.random(len(e))
    status = np.where(
        failed_firm,
        np.where(v < 0.55, "terminated", np.where(v < 0.9, "open", "closed")),
        np.where(v < 0.7, "closed", "open"),
    )
    closed_on = e_filed + rng.integers(90, 300, len(e))
    status = np.where((status != "open") & (closed_on > tl.last_day), "open", status)
    e_person = guarantor[e]
    e_party = np.r_[
        firms.uscc[lo:hi][row[e]], world.people.id_number[firms.legal_rep[lo:hi][row[e[e_person]]]]
    ]
    enforcement = build_table(
        "court_enforcement",
        {
            "case_no": np.r_[e_numbers, e_numbers[e_person]],
            "party_id": e_party,
            "party_type": np.r_[np.full(len(e), "enterprise"), np.full(e_person.sum(), "person")],
            "filed_on": np.r_[e_filed, e_filed[e_person]],
            "amount": np.round(np.r_[claim[e], claim[e][e_person]], -2),
            "closed_on": np.r_[
                np.where(status != "open", closed_on, NULL_DAY),
                np.where(status != "open", closed_on, NULL_DAY)[e_person],
            ],
            "status": np.r_[status, status[e_person]],
        },
    )

    listed = failed_firm & (status != "closed") & (rng.random(len(e)) < 0.55)
    listed_on = e_filed + rng.integers(30, 120, len(e))
    listed &= listed_on <= tl.last_day
    person_too = listed & (rng.random(len(e)) < 0.5)
    d = np.flatnonzero(listed)
    p = np.flatnonzero(person_too)
    removed = np.where(
        rng.random(len(d) + len(p)) < 0.05, np.r_[listed_on[d], listed_on[p]] + 180, NULL_DAY
    )
    removed = np.where(removed > tl.last_day, NULL_DAY, removed)
    dishonest = build_table(
        "court_dishonest",
        {
            "case_no": np.r_[e_numbers[d], e_numbers[p]],
            "party_id": np.r_[
                firms.uscc[lo:hi][row[e[d]]],
                world.people.id_number[firms.legal_rep[lo:hi][row[e[p]]]],
            ],
            "party_type": np.r_[np.full(len(d), "enterprise"), np.full(len(p), "person")],
            "listed_on": np.r_[listed_on[d], listed_on[p]],
            "removed_on": removed,
            "behaviour": DISHONEST_BEHAVIOUR[rng.integers(0, 4, len(d) + len(p))],
        },
    )
    return {"court_case": cases, "court_enforcement": enforcement, "court_dishonest": dishonest}


def environment_table(world: World, chunk: Chunk, rng: np.random.Generator) -> pa.Table:
    """env_penalty: the stop-production orders of the health process plus ordinary fines."""
    firms, tl = world.firms, world.timeline
    lo, hi = chunk.lo, chunk.hi
    health = world.health
    mine = (health.suspension_firm >= lo) & (health.suspension_firm < hi)
    s_row, s_col = health.suspension_firm[mine] - lo, health.suspension_month[mine]
    polluting = np.isin(firms.industry_code[lo:hi], ["C13", "C17", "C19", "C26", "C29", "C33"])[
        :, None
    ]
    rate = np.where(chunk.alive, np.where(polluting, 0.0025, 0.0002), 0.0)
    fine_row, fine_col = np.nonzero(rng.random(rate.shape) < rate)
    row = np.r_[s_row, fine_row]
    col = np.r_[s_col, fine_col]
    suspended = np.r_[np.ones(len(s_row), bool), np.zeros(len(fine_row), bool)]
    decided = tl.starts[col] + rng.integers(0, 28, len(row))
    year = decided.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    serial = chunk.index * CASES_PER_CHUNK + np.arange(len(row)) + 1
    ids = np.char.add(
        np.char.add(np.char.add("浙环罚〔", year.astype(str)), "〕"),
        np.char.add(serial.astype(str), "号"),
    )
    fine = np.where(suspended, rng.uniform(1e5, 1e6, len(row)), rng.uniform(1e4, 2e5, len(row)))
    return build_table(
        "env_penalty",
        {
            "penalty_id": ids,
            "uscc": firms.uscc[lo:hi][row],
            "decided_on": decided,
            "violation": VIOLATIONS[rng.integers(0, len(VIOLATIONS), len(row))],
            "fine_amount": np.round(fine, -3),
            "production_suspended": suspended,
        },
    )
