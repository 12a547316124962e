"""``simulate_province``: build the world, let every source observe it, write, report.

Sources observe the world in blocks of ``chunk_size`` firms, each block with its own named
random streams, so the output depends only on the config (seed included) and memory stays
bounded however many firms there are.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from puhui.data.simulate import (
    observe_bank,
    observe_blacklists,
    observe_bureau,
    observe_courts,
    observe_innovation,
    observe_operations,
    observe_persons,
    observe_registration,
    observe_tax,
    observe_trade,
    realism,
    truth,
)
from puhui.data.simulate.activity import make_chunk
from puhui.data.simulate.config import SimulationConfig
from puhui.data.simulate.timeline import stream
from puhui.data.simulate.world import World, build_world
from puhui.data.simulate.writer import ParquetSink, scan, write_manifest

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, completed, total)`` while a province is built."""

STAGES = ("world", "firms", "persons", "books", "realism")


@dataclass
class SimulationReport:
    """What a run produced: where, how many rows per table, and the realism figures."""

    config: SimulationConfig
    out_dir: Path
    row_counts: dict[str, int]
    realism: realism.RealismReport
    seconds: dict[str, float] = field(default_factory=dict)

    def manifest(self) -> dict:
        """The deterministic content of ``province.json`` (no timings)."""
        return {
            "generator": "puhui simulate",
            "config": self.config.model_dump(),
            "row_counts": self.row_counts,
            "realism": _json_safe(self.realism.model_dump()),
        }


def _json_safe(value: object) -> object:
    """NaN (a figure a tiny province cannot support) becomes null, so the JSON stays strict."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def simulate_province(
    config: SimulationConfig, out_dir: Path, progress: Progress | None = None
) -> SimulationReport:
    """Generate the synthetic province into ``out_dir`` (one Parquet file per table)."""
    report = progress or (lambda stage, done, total: None)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    world_steps = ["population", "health", "applications", "lending"]
    report("world", 0, len(world_steps))
    world = build_world(
        config, lambda step: report("world", world_steps.index(step), len(world_steps))
    )
    report("world", len(world_steps), len(world_steps))
    seconds["world"] = time.perf_counter() - clock

    sink = ParquetSink(Path(out_dir))
    clock = time.perf_counter()
    dishonest = _observe_firms(world, sink, report)
    seconds["firms"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _observe_persons(world, sink, report)
    seconds["persons"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report("books", 0, 1)
    _write_books(world, sink, dishonest)
    row_counts = sink.close()
    report("books", 1, 1)
    seconds["books"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report("realism", 0, 1)
    start = world.timeline.start.astype("datetime64[M]").astype(np.int64) + 1970 * 12
    sample = world.firms.uscc[: config.realism_sample].tolist()
    del world, dishonest  # the report reads the files; free the world before it does
    figures = realism.measure(
        lambda name: scan(Path(out_dir), name), sample, config.months, int(start), config.seed
    )
    report("realism", 1, 1)
    seconds["realism"] = time.perf_counter() - clock

    result = SimulationReport(config, Path(out_dir), row_counts, figures, seconds)
    write_manifest(Path(out_dir), result.manifest())
    return result


def _observe_firms(world: World, sink: ParquetSink, report: Progress) -> list[pa.Table]:
    """Every firm-level source, block by block; returns the dishonest listings for blacklists."""
    config, seed = world.config, world.config.seed
    n, size = world.firms.n, config.chunk_size
    blocks = list(range(0, n, size))
    parks = observe_innovation.park_table()
    sink.write("park", parks)
    borrower = truth.borrowers(world)
    dishonest = []
    report("firms", 0, len(blocks))
    for index, lo in enumerate(blocks):
        hi = min(lo + size, n)
        chunk = make_chunk(world, index, lo, hi, stream(seed, "activity", index))

        def rng(name: str, index: int = index) -> np.random.Generator:
            return stream(seed, name, index)

        sink.write(
            "reg_enterprise", observe_registration.enterprise_table(world, chunk, rng("reg"))
        )
        sink.write(
            "reg_change_event", observe_registration.change_table(world, chunk, rng("changes"))
        )
        sink.write_all(observe_tax.tax_tables(world, chunk, rng("tax")))
        sink.write("social_monthly", observe_operations.social_table(world, chunk, rng("social")))
        sink.write(
            "utility_monthly", observe_operations.utility_table(world, chunk, rng("utility"))
        )
        sink.write_all(observe_trade.customs_tables(world, chunk, rng("customs")))
        sink.write_all(observe_trade.supply_chain_tables(world, chunk, rng("supply")))
        sink.write(
            "procurement_award", observe_trade.procurement_table(world, chunk, rng("procurement"))
        )
        sink.write("ip_patent", observe_innovation.patent_table(world, chunk, rng("patents")))
        sink.write(
            "ip_scitech_list", observe_innovation.scitech_table(world, chunk, rng("scitech"))
        )
        sink.write(
            "park_membership",
            observe_innovation.park_membership_table(world, chunk, parks, rng("parks")),
        )
        sink.write(
            "env_penalty", observe_courts.environment_table(world, chunk, rng("environment"))
        )
        courts = observe_courts.court_tables(world, chunk, rng("courts"))
        dishonest.append(courts["court_dishonest"])
        sink.write_all(courts)
        bureau, ever_end = observe_bureau.enterprise_tables(world, chunk, rng("bureau"))
        sink.write_all(bureau)
        sink.write(
            "bank_account_monthly", observe_bank.account_table(world, chunk, rng("accounts"))
        )
        sink.write("truth_enterprise", truth.enterprise_truth(world, chunk, ever_end, borrower))
        report("firms", index + 1, len(blocks))
    return dishonest


def _observe_persons(world: World, sink: ParquetSink, report: Progress) -> None:
    """Personal credit reports of legal representatives, block by block."""
    reps = observe_persons.representatives(world)
    size = world.config.chunk_size
    blocks = list(range(0, len(reps.person), size))
    report("persons", 0, len(blocks))
    for index, lo in enumerate(blocks):
        hi = min(lo + size, len(reps.person))
        tables = observe_persons.person_tables(
            world, reps, lo, hi, stream(world.config.seed, "persons", index)
        )
        sink.write_all(tables)
        report("persons", index + 1, len(blocks))


def _write_books(world: World, sink: ParquetSink, dishonest: list[pa.Table]) -> None:
    """Tables made once for the whole province: registries, the bank's books, applications."""
    seed = world.config.seed
    sink.write("reg_person", observe_registration.person_table(world, stream(seed, "reg-person")))
    sink.write("reg_shareholder", observe_registration.shareholder_table(world))
    sink.write("bureau_person", observe_bureau.person_header_table(world))
    sink.write_all(observe_bureau.application_queries(world, stream(seed, "application-queries")))
    sink.write_all(observe_bank.structure_tables(world))
    for name, table in observe_bank.loan_tables(world):
        sink.write(name, table)
    sink.write_all(truth.application_tables(world))
    listings = pa.concat_tables(dishonest)
    sink.write(
        "blacklist_entry",
        observe_blacklists.blacklist_table(world, listings, stream(seed, "blacklists")),
    )
