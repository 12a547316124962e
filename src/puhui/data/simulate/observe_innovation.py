"""专利, 科创名单 and 园区: patents, sci-tech designations and industrial parks.

Only sci-tech firms patent and get listed; patenting slows with health and granted patents
lapse when a failed firm stops paying the annual fees. Parks hold manufacturers and tech firms
of their county; firms leave when they are struck off.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from puhui.data.reference import cities
from puhui.data.simulate.activity import Chunk
from puhui.data.simulate.tables import NULL_DAY, build_table, take_strings
from puhui.data.simulate.world import World

PATENT_TYPES = np.array(["invention", "utility_model", "design"])
PATENT_TYPE_DIGIT = np.array(["1", "2", "3"])
PATENTS_PER_CHUNK = 100_000
PATENT_WEIGHTS = np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5])


def patent_numbers(years: np.ndarray, kinds: np.ndarray, serials: np.ndarray) -> np.ndarray:
    """CNIPA application numbers: CN + year + type digit + 7-digit serial + '.' + check digit."""
    body = np.char.add(
        np.char.add(years.astype(str), PATENT_TYPE_DIGIT[kinds]),
        np.char.zfill(serials.astype(str), 7),
    )
    body = np.ascontiguousarray(body.astype("<U12"))
    digits = body.view("<U1").reshape(len(body), 12).astype(np.int64)
    check = (digits * PATENT_WEIGHTS).sum(axis=1) % 11
    check_char = np.where(check == 10, "X", check.astype(str))
    return np.char.add(np.char.add(np.char.add("CN", body), "."), check_char)


def patent_table(world: World, chunk: Chunk, rng: np.random.Generator) -> pa.Table:
    """ip_patent: a back catalogue before the window and new applications inside it."""
    firms, tl = world.firms, world.timeline
    lo, hi, months = chunk.lo, chunk.hi, tl.months
    local = np.flatnonzero(firms.is_scitech[lo:hi])
    larger = firms.size_class[lo:hi][local] != "micro"
    history = rng.poisson(1.5 + 3 * larger)
    start = tl.starts[0]
    founded = firms.founded_day[lo:hi][local]
    old_firm = np.repeat(local, np.where(founded < start - 180, history, 0))
    old_founded = firms.founded_day[lo:hi][old_firm]
    old_day = old_founded + (rng.random(len(old_firm)) * (start - old_founded)).astype(np.int64)

    rate = np.zeros((chunk.n, months))
    rate[local] = 0.05 * np.exp(0.4 * np.minimum(chunk.h[local], 1.0)) * (1 + larger[:, None])
    rate = np.where(chunk.alive & ~chunk.failed, rate, 0.0)
    counts = rng.poisson(rate)
    rows, cols = np.nonzero(counts)
    reps = counts[rows, cols]
    new_firm = np.repeat(rows, reps)
    new_day = tl.starts[np.repeat(cols, reps)] + rng.integers(0, 28, reps.sum())

    firm = np.r_[old_firm, new_firm]
    applied = np.r_[old_day, new_day]
    kind = rng.choice(3, len(firm), p=[0.3, 0.5, 0.2])
    wait = np.where(
        kind == 0,
        rng.integers(540, 1100, len(firm)),
        np.where(kind == 1, rng.integers(180, 360, len(firm)), rng.integers(120, 240, len(firm))),
    )
    rejected = (kind == 0) & (rng.random(len(firm)) < 0.15) & (applied + wait <= tl.last_day)
    granted_day = applied + wait
    granted = ~rejected & (granted_day <= tl.last_day)
    failure = world.health.failure_month[lo:hi][firm]
    lapse_day = tl.month_start_days(np.minimum(failure, months * 4) + 6)
    lapsed = granted & (failure < months) & (lapse_day <= tl.last_day)
    lapsed |= granted & (applied < tl.last_day - 8 * 365) & (rng.random(len(firm)) < 0.3)
    status = np.where(
        rejected, "rejected", np.where(lapsed, "lapsed", np.where(granted, "granted", "pending"))
    )
    if len(firm) >= PATENTS_PER_CHUNK:
        raise ValueError("too many patents in one chunk for unique application numbers")
    year = applied.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    numbers = patent_numbers(year, kind, chunk.index * PATENTS_PER_CHUNK + np.arange(len(firm)))
    return build_table(
        "ip_patent",
        {
            "patent_no": numbers,
            "uscc": take_strings(chunk.uscc, firm),
            "patent_type": PATENT_TYPES[kind],
            "applied_on": applied,
            "granted_on": np.where(granted, granted_day, NULL_DAY),
            "status": status,
        },
    )


def scitech_table(world: World, chunk: Chunk, rng: np.random.Generator) -> pa.Table:
    """ip_scitech_list: yearly 科技型中小企业, three-year 高新技术企业, 专精特新 and 小巨人."""
    firms, tl = world.firms, world.timeline
    lo, hi = chunk.lo, chunk.hi
    local = np.flatnonzero(firms.is_scitech[lo:hi])
    larger = firms.size_class[lo:hi][local] != "micro"
    parts: list[tuple[np.ndarray, str, str, np.ndarray, np.ndarray]] = []
    for year in np.unique(tl.year):
        in_year = tl.year == year
        start = np.datetime64(f"{year}-05-15").astype(np.int64) + rng.integers(0, 45, len(local))
        listed = chunk.alive[local][:, in_year].all(axis=1) & (start <= tl.last_day)
        listed &= ~chunk.failed[local][:, in_year].any(axis=1) & (rng.random(len(local)) < 0.7)
        end = np.full(len(local), np.datetime64(f"{year}-12-31").astype(np.int64))
        parts.append((local[listed], "tech_sme", "provincial", start[listed], end[listed]))
    for kind, level, share, bias in (
        ("high_tech", "national", 0.35, 0.2),
        ("specialized_sme", "provincial", 0.1, 0.25),
        ("little_giant", "national", 0.01, 0.05),
    ):
        chosen = rng.random(len(local)) < share + bias * larger
        start = tl.starts[0] - rng.integers(-600, 1_100, len(local))
        start = np.maximum(start, firms.founded_day[lo:hi][local] + 365)
        keep = chosen & (start <= tl.last_day)
        parts.append((local[keep], kind, level, start[keep], start[keep] + 3 * 365))
    firm = np.concatenate([p[0] for p in parts])
    return build_table(
        "ip_scitech_list",
        {
            "uscc": take_strings(chunk.uscc, firm),
            "list_type": np.concatenate([np.full(len(p[0]), p[1]) for p in parts]),
            "level": np.concatenate([np.full(len(p[0]), p[2]) for p in parts]),
            "start_on": np.concatenate([p[3] for p in parts]),
            "end_on": np.concatenate([p[4] for p in parts]),
        },
    )


def park_table() -> pa.Table:
    """park: an industrial park per county, a high-tech zone every third county and a national
    or provincial development zone per city."""
    ids, names_, divisions_, types, levels = [], [], [], [], []
    for c, city in enumerate(cities()):
        ids.append(f"PK{city.code}01")
        names_.append(f"{city.name.removesuffix('市')}经济技术开发区")
        divisions_.append(city.code)
        types.append("economic_development_zone")
        levels.append("national" if c < 6 else "provincial")
        for k, (code, county) in enumerate(city.counties.items()):
            ids.append(f"PK{code}01")
            names_.append(f"{county}小微企业园")
            divisions_.append(code)
            types.append("industrial_park")
            levels.append("municipal")
            if k % 3 == 0:
                ids.append(f"PK{code}02")
                names_.append(f"{county}高新技术产业园区")
                divisions_.append(code)
                types.append("high_tech_zone")
                levels.append("provincial")
            if k % 4 == 1:
                ids.append(f"PK{code}03")
                names_.append(f"{county}科技企业孵化器")
                divisions_.append(code)
                types.append("incubator")
                levels.append("municipal")
    return build_table(
        "park",
        {
            "park_id": np.array(ids),
            "name": np.array(names_),
            "division_code": np.array(divisions_),
            "park_type": np.array(types),
            "level": np.array(levels),
        },
    )


def park_membership_table(
    world: World, chunk: Chunk, parks: pa.Table, rng: np.random.Generator
) -> pa.Table:
    """park_membership: manufacturers and tech firms in a park of their county or city."""
    firms, tl = world.firms, world.timeline
    lo, hi = chunk.lo, chunk.hi
    park_ids = parks.column("park_id").to_numpy(zero_copy_only=False)
    manufacturing = np.char.startswith(firms.industry_code[lo:hi], "C")
    scitech = firms.is_scitech[lo:hi]
    joins = rng.random(chunk.n) < np.where(scitech, 0.4, np.where(manufacturing, 0.35, 0.04))
    joins &= ~firms.is_shell[lo:hi]
    local = np.flatnonzero(joins)
    county = firms.county_code[lo:hi][local]
    city = np.char.add(county.astype("<U4"), "00")
    wanted = np.where(scitech[local], np.where(rng.random(len(local)) < 0.5, "02", "03"), "01")
    candidate = np.char.add(np.char.add("PK", county), wanted)
    exists = np.isin(candidate, park_ids)
    fallback = np.char.add(np.char.add("PK", county), "01")
    city_zone = np.char.add(np.char.add("PK", city), "01")
    park = np.where(exists, candidate, np.where(rng.random(len(local)) < 0.3, city_zone, fallback))
    founded = firms.founded_day[lo:hi][local]
    entered = founded + (
        rng.random(len(local)) * np.minimum(tl.last_day - founded, 5 * 365)
    ).astype(np.int64)
    closed = firms.closed_month[lo:hi][local]
    left = np.where(
        closed < tl.months, tl.month_start_days(np.minimum(closed, tl.months)), NULL_DAY
    )
    moved = (left == NULL_DAY) & (rng.random(len(local)) < 0.05)
    moved_day = entered + rng.integers(200, 2_000, len(local))
    left = np.where(moved & (moved_day <= tl.last_day), moved_day, left)
    left = np.where((left != NULL_DAY) & (left < entered), entered, left)
    return build_table(
        "park_membership",
        {
            "uscc": take_strings(chunk.uscc, local),
            "park_id": park,
            "entered_on": entered,
            "left_on": left,
        },
    )
