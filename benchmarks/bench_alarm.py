"""Benchmark the daily alarm scan: 200k borrowers × 1,016 signals, incremental and full.

Input. Simulating 200k *borrowers* (about a million firms) is too slow for this machine, so
the benchmark lake is a simulated province scaled honestly: every borrower of the source
province on the scan date is replicated with new identifiers (firm USCC, legal
representative, loan ids, case and penalty numbers), with all its rows in every table the
signal library reads (monthly tax, social security, utilities, customs, bureau, account flows,
loan performance; court, enforcement, dishonest, penalty, registration, rating and query
events). The replicas therefore carry the source's real distributions; the scan code that runs
on them is the production code (``AlarmScanner.scan`` with the DuckDB engine, SQLite store).

Timed, each in a fresh child process reporting its own peak RSS:

Signal weights and score cut-offs are those learned on the source province
(``puhui alarm learn`` wrote ``<source>/alarm/weights.json``), so the share of borrowers warned
is realistic; without them nearly every borrower would be warned on day one.

* ``full``: the first scan with ``--full`` on an empty store (every family computed, every
  warning opened, every task written);
* ``incremental``: the following days (monthly families from the cache, events recomputed,
  only changed warnings written); the median of ``--runs`` days.

    .venv/bin/python benchmarks/bench_alarm.py --source /tmp/alarm-demo5k --borrowers 200000
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

SCAN_DAY = date(2026, 6, 10)
FIRM_TABLES = (
    "tax_monthly",
    "social_monthly",
    "utility_monthly",
    "customs_monthly",
    "bureau_enterprise_monthly",
    "bureau_enterprise_query",
    "bank_account_monthly",
    "reg_change_event",
    "tax_rating",
    "customs_rating",
)
PERSON_TABLES = ("bureau_person_monthly", "bureau_person_query")
PARTY_TABLES = {
    "court_case": "case_no",
    "court_enforcement": "case_no",
    "court_dishonest": "case_no",
}


def _select(table: str, columns: list[str], replace: dict[str, str], where: str) -> str:
    chosen = ", ".join(replace.get(c, f"t.{c}") + f" as {c}" for c in columns)
    return f"select {chosen} from {table} as t {where}"


# The USCC of copy ``reps.r`` of the source borrower numbered ``f.idx`` (lake and snapshot alike).
REPLICA_USCC = "printf('91%06d%010d', f.idx, reps.r)"


def _replica_keys(con, borrowers: int) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    """The source's borrowers on the scan day, numbered in ``firm_ids`` (old, idx), and the
    copies needed in ``reps`` (r), as temporary relations of ``con``."""
    import polars as pl

    from puhui.actions.alarm.wiring import feature_lags
    from puhui.decisions.alarm.compiler import population_sql

    base = pl.from_arrow(con.sql(population_sql(SCAN_DAY, feature_lags())).to_arrow_table())
    firms = sorted(base["uscc"].to_list())
    copies = -(-borrowers // len(firms))
    con.register("firm_ids", pl.DataFrame({"old": firms, "idx": range(len(firms))}).to_arrow())
    con.execute(f"create temp table reps as select range as r from range({copies})")
    return firms, copies


def build_lake(source: Path, out: Path, borrowers: int) -> tuple[int, int]:
    """Replicate the source's borrowers into a new lake under ``out``; returns (base, copies)."""
    import polars as pl

    from puhui.data.lake import Lake
    from puhui.data.lake.writer import conform

    src = Lake(source / "lake")
    con = src.connect()
    firms, copies = _replica_keys(con, borrowers)
    con.execute(
        "create temp table person_ids as select r.legal_rep_id as old, "
        "row_number() over (order by r.legal_rep_id) as idx from reg_enterprise r "
        "join firm_ids f on f.old = r.uscc group by r.legal_rep_id"
    )
    firm = REPLICA_USCC
    person = "printf('P%07d%010d', p.idx, reps.r)"
    lake = Lake(out / "lake")
    plans: dict[str, str] = {}
    spec_of = src.catalog.table
    for table in FIRM_TABLES:
        columns = [f.name for f in spec_of(table).fields]
        extra = {"penalty_id": "t.penalty_id || '-' || reps.r"}
        plans[table] = _select(
            table,
            columns,
            {"uscc": firm, **extra},
            "join firm_ids f on f.old = t.uscc cross join reps",
        )
    plans["env_penalty"] = _select(
        "env_penalty",
        [f.name for f in spec_of("env_penalty").fields],
        {"uscc": firm, "penalty_id": "t.penalty_id || '-' || reps.r"},
        "join firm_ids f on f.old = t.uscc cross join reps",
    )
    for table in PERSON_TABLES:
        plans[table] = _select(
            table,
            [f.name for f in spec_of(table).fields],
            {"person_id": person},
            "join person_ids p on p.old = t.person_id cross join reps",
        )
    for table, case in PARTY_TABLES.items():
        columns = [f.name for f in spec_of(table).fields]
        party = f"case when f.idx is not null then {firm} else {person} end"
        plans[table] = _select(
            table,
            columns,
            {"party_id": party, case: f"t.{case} || '-' || reps.r"},
            "left join firm_ids f on f.old = t.party_id left join person_ids p "
            "on p.old = t.party_id cross join reps where f.idx is not null or p.idx is not null",
        )
    plans["reg_enterprise"] = _select(
        "reg_enterprise",
        [f.name for f in spec_of("reg_enterprise").fields],
        {"uscc": firm, "legal_rep_id": person},
        "join firm_ids f on f.old = t.uscc join person_ids p on p.old = t.legal_rep_id "
        "cross join reps",
    )
    for table in ("bank_loan", "bank_loan_monthly"):
        plans[table] = _select(
            table,
            [f.name for f in spec_of(table).fields],
            {"uscc": firm, "loan_id": "t.loan_id || '-' || reps.r"},
            "join firm_ids f on f.old = t.uscc cross join reps",
        )
    for table, sql in plans.items():
        started = time.perf_counter()
        spec = spec_of(table)
        reader = con.sql(sql).to_arrow_reader(batch_size=1_000_000)
        rows = 0
        with lake.open_batch(spec, f"bench-{table}") as batch:
            for chunk in reader:
                frame = conform(spec, pl.from_arrow(chunk))
                batch.write(frame)
                rows += frame.height
            batch.commit()
        print(f"  {table}: {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    (out / "ready").write_text(f"{len(firms)} {copies}\n")
    return len(firms), copies


def _peak_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return own / 1024


def build_snapshot(source: Path, out: Path, borrowers: int) -> int:
    """The source's feature snapshot of the scan month for the replicated borrowers (the same
    new USCCs as ``build_lake``), so the scan's EW-PD step reads and scores every replica."""
    from puhui.data.lake import Lake
    from puhui.features.store import BUILD_FILE, FEATURES_FILE, snapshot_dir
    from puhui.features.timing import month_start

    con = Lake(source / "lake").connect()
    _replica_keys(con, borrowers)
    month = month_start(SCAN_DAY)
    folder = snapshot_dir(out / "features", month)
    folder.mkdir(parents=True, exist_ok=True)
    source_file = snapshot_dir(source / "features", month) / FEATURES_FILE
    con.execute(
        f"copy (select {REPLICA_USCC} as uscc, t.* exclude (uscc) "
        f"from read_parquet('{source_file}') t join firm_ids f on f.old = t.uscc cross join reps "
        f"order by f.idx, reps.r) to '{folder / FEATURES_FILE}' (format parquet)"
    )
    (folder / BUILD_FILE).write_text("{}", encoding="utf-8")
    return int(con.execute(f"select count(*) from '{folder / FEATURES_FILE}'").fetchall()[0][0])


def _run(
    phase: str, out: Path, day: date, weights: Path, queue, source: Path | None = None
) -> None:  # type: ignore[no-untyped-def]
    from contextlib import ExitStack

    from puhui.actions.alarm.ewpd import EarlyWarningPD
    from puhui.actions.alarm.feeds import LakeFeeds
    from puhui.actions.alarm.runner import DuckDBScanEngine
    from puhui.actions.alarm.scan import AlarmScanner
    from puhui.actions.alarm.wiring import feature_lags, load_weights
    from puhui.data.lake import Lake
    from puhui.data.store import make_engine, make_session_factory
    from puhui.decisions.alarm.policy import load_policy
    from puhui.decisions.alarm.spec import load_signal_library

    lake = Lake(out / "lake")
    library, lags = load_signal_library(), feature_lags()
    sessions = make_session_factory(make_engine(f"sqlite:///{out / 'store.db'}"))
    stack = ExitStack()
    ew_pd = None
    if source is not None:  # the source's champions score the replicas' snapshot
        from puhui.cli.model import open_registry
        from puhui.settings import Settings

        registry = stack.enter_context(open_registry(Settings(data_dir=source)))
        ew_pd = EarlyWarningPD(registry, out / "features")
    scanner = AlarmScanner(
        lake=lake,
        sessions=sessions,
        library=library,
        policy=load_policy(),
        lags=lags,
        work_dir=out / "alarm",
        feeds=LakeFeeds(lake, library, lags),
        weights=load_weights(weights),
        ew_pd=ew_pd,
    )
    runner = DuckDBScanEngine()
    started = time.perf_counter()
    summary = scanner.scan(day, runner, full=phase == "full")
    seconds = time.perf_counter() - started
    stack.close()
    queue.put(
        (
            seconds,
            _peak_mib(),
            summary.borrowers,
            summary.signals_fired,
            summary.warnings_opened,
            summary.warnings_changed,
            summary.tasks_created,
            dict(summary.seconds),
            list(summary.missing_pd),
        )
    )


def timed(phase: str, out: Path, day: date, weights: Path, source: Path | None = None) -> tuple:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run, args=(phase, out, day, weights, queue, source))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/tmp/alarm-demo5k"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/alarm-bench"))
    parser.add_argument("--borrowers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument(
        "--ew-pd",
        action="store_true",
        help="score the EW-PD in the scan: the source's champions (`puhui alarm learn`) on its "
        "snapshot of the scan month, replicated like the lake",
    )
    args = parser.parse_args()

    from puhui.data.store import make_engine
    from puhui.data.store.migrate import upgrade
    from puhui.decisions.alarm.spec import load_signal_library

    folder = args.out / f"borrowers-{args.borrowers}"
    if not (folder / "ready").exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"building the scaled lake in {folder} …", flush=True)
        started = time.perf_counter()
        base, copies = build_lake(args.source, folder, args.borrowers)
        print(f"{base} borrowers × {copies} copies in {time.perf_counter() - started:.0f} s")
    if args.build_only:
        return 0
    shutil.rmtree(folder / "alarm", ignore_errors=True)
    (folder / "store.db").unlink(missing_ok=True)
    upgrade(make_engine(f"sqlite:///{folder / 'store.db'}"))
    signals = len(load_signal_library().signals)

    weights = args.source / "alarm"  # learned on the source province (`puhui alarm learn`)
    source = None
    if args.ew_pd:
        started = time.perf_counter()
        rows = build_snapshot(args.source, folder, args.borrowers)
        print(f"snapshot of {rows:,} replicated rows in {time.perf_counter() - started:.0f} s")
        source = args.source
    full = timed("full", folder, SCAN_DAY, weights, source)
    print(
        f"full rebuild {SCAN_DAY}: {full[0]:.1f} s, peak {full[1]:,.0f} MiB; "
        f"{full[2]:,} borrowers × {signals:,} signals → {full[3]:,} fired, "
        f"{full[4]:,} warnings, {full[6]:,} tasks; stages {full[7]}; "
        f"EW-PD missing: {full[8] or 'nothing'}",
        flush=True,
    )
    incremental = []
    for offset in range(1, args.runs + 1):
        result = timed("incremental", folder, SCAN_DAY + timedelta(days=offset), weights, source)
        incremental.append(result)
        print(
            f"incremental {SCAN_DAY + timedelta(days=offset)}: {result[0]:.1f} s, peak "
            f"{result[1]:,.0f} MiB; {result[3]:,} fired, {result[5]:,} warnings changed, "
            f"{result[6]:,} tasks; stages {result[7]}",
            flush=True,
        )
    print(
        f"median incremental {statistics.median(r[0] for r in incremental):.1f} s, "
        f"peak {max(r[1] for r in incremental):,.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
