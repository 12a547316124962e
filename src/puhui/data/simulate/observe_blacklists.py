"""黑名单: the central bank's, the group's 神荼 and the bank's own.

- pboc: most dishonest debtors (firms and persons) from the court list, from their listing;
- group_shentu: a share of the phones, devices and straw men of fraud rings (some listed before
  their ring applies, when another bank of the group caught them first), impostors' phones
  after the theft is discovered, and unrelated entries from elsewhere in the country;
- internal: firms whose loans here were written off, with their legal representatives.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from puhui.data.simulate import names
from puhui.data.simulate.fraud import IDENTITY_THEFT
from puhui.data.simulate.repayment import WRITTEN_OFF
from puhui.data.simulate.tables import NULL_DAY, build_table
from puhui.data.simulate.world import World


def blacklist_table(world: World, dishonest: pa.Table, rng: np.random.Generator) -> pa.Table:
    """blacklist_entry from dishonest listings, fraud rings, impostors and write-offs."""
    tl, firms, people = world.timeline, world.firms, world.people
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, str]] = []

    party = dishonest.column("party_id").to_numpy(zero_copy_only=False)
    kind = dishonest.column("party_type").to_numpy(zero_copy_only=False)
    listed = (
        dishonest.column("listed_on").cast("int32").to_numpy(zero_copy_only=False).astype(np.int64)
    )
    shared = rng.random(len(party)) < 0.8
    parts.append(
        (
            "pboc",
            np.asarray(kind[shared]),
            np.asarray(party[shared]),
            listed[shared] + 7,
            "失信被执行人",
        )
    )

    share = world.config.fraud.blacklist_share
    for r in range(world.rings.rings):
        apply_day = int(tl.month_start_days(world.rings.apply_month[r]))
        early = rng.random() < 0.5
        day = apply_day - 60 if early else apply_day + 120
        phones = world.ring_ids.phones[r]
        devices = world.ring_ids.devices[r]
        straw = np.flatnonzero((people.ring == r) & (people.role == 3))
        for subject, values in (
            ("phone", phones),
            ("device", devices),
            ("person", people.id_number[straw]),
        ):
            chosen = values[rng.random(len(values)) < share]
            parts.append(
                (
                    "group_shentu",
                    np.full(len(chosen), subject),
                    chosen,
                    np.full(len(chosen), min(day, tl.last_day)),
                    "团伙欺诈关联",
                )
            )
    thefts = np.flatnonzero(world.apps.fraud_type == IDENTITY_THEFT)
    caught = thefts[rng.random(len(thefts)) < 0.5]
    caught_day = world.apps.applied_us[caught] // 86_400_000_000 + rng.integers(
        30, 200, len(caught)
    )
    keep = caught_day <= tl.last_day
    parts.append(
        (
            "group_shentu",
            np.full(keep.sum(), "phone"),
            world.apps.phone[caught][keep],
            caught_day[keep],
            "冒名申请",
        )
    )
    noise = max(5, firms.n // 500)
    parts.append(
        (
            "group_shentu",
            np.full(noise, "phone"),
            names.phones(rng.integers(0, names.PHONE_SPACE, noise)),
            tl.starts[0] - rng.integers(0, 1_000, noise),
            "外部欺诈情报",
        )
    )
    parts.append(
        (
            "group_shentu",
            np.full(noise, "ip"),
            names.ip_addresses(rng.integers(0, names.IP_SPACE, noise)),
            tl.starts[0] - rng.integers(0, 1_000, noise),
            "代理IP",
        )
    )

    lm = world.loan_months
    written = lm.status == WRITTEN_OFF
    firm = np.unique(lm.firm[written])
    first_write_off = np.full(firms.n, tl.months, dtype=np.int64)
    np.minimum.at(first_write_off, lm.firm[written], lm.month[written])
    day = tl.month_end_days(first_write_off[firm])
    parts.append(("internal", np.full(len(firm), "enterprise"), firms.uscc[firm], day, "核销"))
    parts.append(
        (
            "internal",
            np.full(len(firm), "person"),
            people.id_number[firms.legal_rep[firm]],
            day,
            "核销企业法定代表人",
        )
    )

    list_name = np.concatenate([np.full(len(p[1]), p[0]) for p in parts])
    subject_type = np.concatenate([p[1] for p in parts]).astype(str)
    value = np.concatenate([p[2] for p in parts]).astype(str)
    listed_on = np.minimum(np.concatenate([p[3] for p in parts]).astype(np.int64), tl.last_day)
    reason = np.concatenate([np.full(len(p[1]), p[4]) for p in parts])
    order = np.lexsort((listed_on, value, subject_type, list_name))
    key = np.char.add(
        np.char.add(list_name[order], "|"),
        np.char.add(np.char.add(subject_type[order], "|"), value[order]),
    )
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.array([], dtype=bool)
    keep = order[first]
    return build_table(
        "blacklist_entry",
        {
            "list_name": list_name[keep],
            "subject_type": subject_type[keep],
            "subject_value": value[keep],
            "listed_on": listed_on[keep],
            "removed_on": np.full(len(keep), NULL_DAY),
            "reason": reason[keep],
        },
    )
