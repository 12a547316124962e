"""海关, 供应链 and 政采: exports, core-enterprise receivables and government contracts.

Only exporters appear in customs, only suppliers of core enterprises in the supply-chain
platform, only firms that bid in procurement. Each flow follows real activity with its own
lumpiness; trouble shows as fewer shipments, suspended supplier links and no new awards.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from puhui.data.reference import cities
from puhui.data.simulate.activity import Chunk, present
from puhui.data.simulate.tables import NULL_INT, build_table, take_strings
from puhui.data.simulate.world import World

PLATFORMS = np.array(["中企云链", "浙商链融", "简单汇"])
COUNTY_NAMES = {code: name for city in cities() for code, name in city.counties.items()}
BUYERS = np.array(
    [
        "人民政府办公室",
        "教育局",
        "卫生健康局",
        "住房和城乡建设局",
        "交通运输局",
        "人民医院",
        "第一中学",
        "综合行政执法局",
        "农业农村局",
        "市场监督管理局",
    ]
)


def customs_tables(world: World, chunk: Chunk, rng: np.random.Generator) -> dict[str, pa.Table]:
    """customs_monthly (exporters only) and customs_rating."""
    firms, tl = world.firms, world.timeline
    lo, hi, n, months = chunk.lo, chunk.hi, chunk.n, tl.months
    exporter = firms.is_exporter[lo:hi]
    share = firms.export_ratio[lo:hi, None]
    export = chunk.revenue * share * np.exp(rng.normal(0, 0.35, (n, months)))
    small = firms.revenue[lo:hi, None] < 5e6
    export = np.where(small & (rng.random((n, months)) < 0.2), 0.0, export)
    imports = export * np.where(rng.random((n, 1)) < 0.5, 0.0, rng.uniform(0.05, 0.4, (n, 1)))
    shipment = np.exp(rng.normal(np.log(120_000), 0.6, (n, 1)))
    declarations = rng.poisson(export / shipment) + (imports > 0)
    declarations = np.where((export > 0) & (declarations == 0), 1, declarations)
    reach = np.clip(np.round(np.log1p(firms.revenue[lo:hi, None] / 1e6) * 2), 1, 15)
    destinations = np.where(export > 0, np.minimum(rng.poisson(reach, (n, months)) + 1, 25), 0)
    destinations = np.where(rng.random((n, months)) < 0.05, NULL_INT, destinations)
    rows, cols = present(
        chunk, exporter[:, None] & chunk.alive, rng, world.config.shares.monthly_missing
    )
    monthly = build_table(
        "customs_monthly",
        {
            "uscc": take_strings(chunk.uscc, rows),
            "month": tl.starts[cols],
            "export_amount": np.round(export[rows, cols], 2),
            "import_amount": np.round(imports[rows, cols], 2),
            "declaration_count": declarations[rows, cols],
            "destination_count": destinations[rows, cols],
        },
    )

    local = np.flatnonzero(exporter)
    registered = np.maximum(
        firms.founded_day[lo:hi][local] + rng.integers(30, 400, len(local)),
        tl.starts[0] - rng.integers(0, 3_000, len(local)),
    )
    registered = np.minimum(registered, tl.last_day)
    larger = firms.size_class[lo:hi][local] != "micro"
    u = rng.random(len(local))
    level = np.where(
        larger & (u < 0.08),
        "advanced_certified",
        np.where(u < 0.2 + 0.2 * larger, "general_certified", "registered"),
    )
    failure = world.health.failure_month[lo:hi][local]
    downgraded = failure < months - 2
    down_day = tl.month_start_days(np.minimum(failure, months) + rng.integers(2, 6, len(local)))
    # A downgrade follows the registration (same-day records would collide on the key).
    kept = downgraded & (down_day <= tl.last_day) & (down_day > registered)
    down_local = local[kept]
    down_days = down_day[kept]
    rating = build_table(
        "customs_rating",
        {
            "uscc": take_strings(chunk.uscc, np.r_[local, down_local]),
            "effective_on": np.r_[registered, down_days],
            "rating": np.r_[level, np.full(len(down_local), "untrustworthy")],
        },
    )
    return {"customs_monthly": monthly, "customs_rating": rating}


def supply_chain_tables(
    world: World, chunk: Chunk, rng: np.random.Generator
) -> dict[str, pa.Table]:
    """supply_core_link and supply_receivable (confirmed receivables, 云信-style)."""
    firms, tl = world.firms, world.timeline
    lo, hi, n, months = chunk.lo, chunk.hi, chunk.n, tl.months
    cores = len(world.core_uscc)
    local = np.flatnonzero(firms.supplies_core[lo:hi])
    first_core = (local + lo) % cores
    two = rng.random(len(local)) < 0.3
    link_local = np.r_[local, local[two]]
    link_core = np.r_[first_core, (first_core[two] + 1) % cores]
    founded = firms.founded_day[lo:hi][link_local]
    since = np.minimum(
        np.maximum(founded + 180, tl.starts[0] - rng.integers(0, 1_500, len(link_local))),
        tl.last_day,
    )
    failed = chunk.failed[link_local, -1]
    closed = ~chunk.alive[link_local, -1]
    status = np.where(closed, "ended", np.where(failed, "suspended", "active"))
    links = build_table(
        "supply_core_link",
        {
            "supplier_uscc": take_strings(chunk.uscc, link_local),
            "core_uscc": world.core_uscc[link_core],
            "core_name": world.core_name[link_core],
            "platform": PLATFORMS[link_core % len(PLATFORMS)],
            "since": since,
            "status": status,
        },
    )

    active = np.zeros((n, months), dtype=bool)
    active[local] = (
        chunk.alive[local] & ~chunk.failed[local] & (rng.random((len(local), months)) < 0.35)
    )
    rows, cols = np.nonzero(active)
    issued = tl.starts[cols] + rng.integers(0, 28, len(rows))
    due = issued + rng.choice([90, 120, 180], len(rows))
    amount = np.round(chunk.revenue[rows, cols] * rng.uniform(0.2, 0.6, len(rows)), -2)
    u = rng.random(len(rows))
    matured = due <= tl.last_day
    status = np.where(
        matured,
        np.where(
            u < 0.84,
            "paid",
            np.where(u < 0.94, "financed", np.where(u < 0.99, "transferred", "overdue")),
        ),
        np.where(u < 0.75, "outstanding", np.where(u < 0.9, "financed", "transferred")),
    )
    ids = np.char.add(
        np.char.add("RC", np.char.zfill((rows + lo).astype(str), 8)),
        np.char.zfill(cols.astype(str), 3),
    )
    receivables = build_table(
        "supply_receivable",
        {
            "receivable_id": ids,
            "supplier_uscc": take_strings(chunk.uscc, rows),
            "core_uscc": world.core_uscc[(rows + lo) % cores],
            "issued_on": issued,
            "due_on": due,
            "amount": np.maximum(amount, 100.0),
            "status": status,
        },
    )
    return {"supply_core_link": links, "supply_receivable": receivables}


def procurement_table(world: World, chunk: Chunk, rng: np.random.Generator) -> pa.Table:
    """procurement_award: tenders and government contracts won, fewer when a firm struggles."""
    firms, tl = world.firms, world.timeline
    lo, hi = chunk.lo, chunk.hi
    bidder = firms.wins_procurement[lo:hi, None] & chunk.alive & ~chunk.failed
    rate = np.where(bidder, 0.08 * np.exp(0.5 * np.minimum(chunk.h, 1.0)), 0.0)
    wins = rng.poisson(rate)
    rows, cols = np.nonzero(wins)
    reps = wins[rows, cols]
    rows, cols = np.repeat(rows, reps), np.repeat(cols, reps)
    ordinal = np.arange(len(rows)) - np.repeat(np.cumsum(reps) - reps, reps)
    sector = firms.sector[lo:hi][rows]
    category = np.where(
        sector == "construction",
        "works",
        np.where(
            np.isin(sector, ["software", "business_services"]),
            "services",
            np.where(rng.random(len(rows)) < 0.5, "goods", "services"),
        ),
    )
    county = firms.county_code[lo:hi][rows]
    ids = np.char.add(
        np.char.add(
            np.char.add("ZC", np.char.zfill((rows + lo).astype(str), 8)),
            np.char.zfill(cols.astype(str), 3),
        ),
        ordinal.astype(str),
    )
    buyer = BUYERS[rng.integers(0, len(BUYERS), len(rows))]
    codes, inverse = np.unique(county, return_inverse=True)
    place = np.array([COUNTY_NAMES[c] for c in codes], dtype="<U12")[inverse]
    return build_table(
        "procurement_award",
        {
            "award_id": ids,
            "uscc": take_strings(chunk.uscc, rows),
            "award_type": np.where(rng.random(len(rows)) < 0.5, "tender", "government_procurement"),
            "buyer_name": np.char.add(place, buyer),
            "buyer_division_code": county,
            "awarded_on": tl.starts[cols] + rng.integers(0, 28, len(rows)),
            "amount": np.round(firms.revenue[lo:hi][rows] * rng.uniform(0.05, 0.5, len(rows)), -3),
            "term_months": rng.integers(3, 37, len(rows)),
            "category": category,
        },
    )
