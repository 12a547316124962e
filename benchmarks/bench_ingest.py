"""Benchmark ``ingest_files``: a large monthly table and a large event table, Parquet and CSV.

Generates valid deliveries (by default 100k firms × 36 months of ``tax_monthly`` = 3.6M rows, and
1M ``app_application`` events), writes them as Parquet and CSV in a temporary folder, then times
``ingest_files`` into a fresh lake. Generation and every run happen in their own processes, so
the peak RSS is that of one ingest (including the interpreter and libraries, measured separately
as the baseline), never that of the generator.

    .venv/bin/python benchmarks/bench_ingest.py --runs 3
    .venv/bin/python benchmarks/bench_ingest.py --firms 10000 --events 100000 --runs 1
    .venv/bin/python benchmarks/bench_ingest.py --rows 20000000 --tables tax_monthly \
        --formats parquet --runs 1          # a 1M-firm province's month table, ~20M rows
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from puhui.data.identifiers import make_id_numbers, make_usccs
from puhui.data.ingest.service import DEFAULT_CHUNK_ROWS
from puhui.data.reference import county_codes
from puhui.data.schema import MONEY_PRECISION, MONEY_SCALE, load_catalog

MONEY = pl.Decimal(MONEY_PRECISION, MONEY_SCALE)


def _money(rng: np.random.Generator, n: int, high_yuan: float) -> pl.Series:
    cents = rng.integers(0, int(high_yuan * 100), n, dtype=np.int64)
    return (pl.Series(cents).cast(MONEY) / 100).cast(MONEY)


def tax_monthly(firms: int, months: int, seed: int = 1) -> pl.DataFrame:
    """``firms × months`` valid rows of 月度纳税申报."""
    rng = np.random.default_rng(seed)
    counties = np.array(sorted(county_codes()))
    usccs = make_usccs(rng.choice(counties, firms), np.arange(firms))
    first = date(2022, 1, 1)
    month_list = pl.date_range(
        first,
        pl.date(2022 + (months - 1) // 12, (months - 1) % 12 + 1, 1),
        interval="1mo",
        eager=True,
    )
    frame = pl.DataFrame({"uscc": usccs}).join(pl.DataFrame({"month": month_list}), how="cross")
    n = frame.height
    return frame.with_columns(
        declared_revenue=_money(rng, n, 5e6),
        vat_paid=_money(rng, n, 3e5),
        income_tax_paid=_money(rng, n, 2e5),
        vat_credit_balance=_money(rng, n, 1e5),
        tax_arrears=_money(rng, n, 1e3),
        invoices_issued_count=pl.Series(rng.integers(0, 500, n)),
        invoices_issued_amount=_money(rng, n, 5e6),
        invoices_received_count=pl.Series(rng.integers(0, 500, n)),
        invoices_received_amount=_money(rng, n, 4e6),
        invoices_voided_count=pl.Series(rng.integers(0, 5, n)),
    ).select(load_catalog().table("tax_monthly").field_names)


def app_application(events: int, firms: int, seed: int = 2) -> pl.DataFrame:
    """``events`` valid rows of 申请记录 spread over two years."""
    rng = np.random.default_rng(seed)
    spec = load_catalog().table("app_application")
    counties = np.array(sorted(county_codes()))
    usccs = make_usccs(rng.choice(counties, firms), np.arange(firms))
    births = np.datetime64("1965-01-01") + rng.integers(0, 12000, events)
    people = make_id_numbers(rng.choice(counties, events), births, rng.integers(0, 1000, events))
    start = np.datetime64("2023-01-01T00:00:00", "us")
    applied = start + rng.integers(0, 730 * 86_400, events).astype("timedelta64[s]")

    def pick(name: str) -> np.ndarray:
        values = spec.field(name).values
        assert values is not None
        return rng.choice(np.array(values), events)

    return pl.DataFrame(
        {
            "application_id": [f"APP{i:010d}" for i in range(events)],
            "uscc": rng.choice(usccs, events),
            "applicant_id": people,
            "product_code": pick("product_code"),
            "channel": pick("channel"),
            "applied_at": pl.Series(applied).dt.replace_time_zone("UTC"),
            "requested_amount": _money(rng, events, 3e6),
            "device_id": [f"dev-{i:08x}" for i in rng.integers(0, 2**31, events)],
            "ip_address": [f"10.{a}.{b}.{c}" for a, b, c in rng.integers(0, 255, (events, 3))],
            "phone": [f"13{i:09d}" for i in rng.integers(0, 10**9, events)],
            "staff_id": [f"S{i:05d}" for i in rng.integers(0, 5000, events)],
            "decision": pick("decision"),
            "approved_amount": _money(rng, events, 2e6),
        }
    ).select(spec.field_names)


def _peak_rss_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` resets at exec, unlike ``ru_maxrss``,
    which a spawned child inherits from the (large) parent on Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float


def _generate(
    table: str,
    path: str,
    file_format: str,
    sizes: tuple[int, int, int],
    queue: multiprocessing.Queue,
) -> None:
    """Build one delivery and write it to ``path`` (in a child, so its memory is not counted)."""
    firms, months, events = sizes
    frame = tax_monthly(firms, months) if table == "tax_monthly" else app_application(events, firms)
    if file_format == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)
    queue.put(frame.height)


def _ingest_once(
    table: str, path: str, lake_dir: str, chunk_rows: int, queue: multiprocessing.Queue
) -> None:
    from puhui.data.ingest import ingest_files
    from puhui.data.lake import Lake

    started = time.perf_counter()
    result = ingest_files(Lake(lake_dir), table, [Path(path)], chunk_rows=chunk_rows)
    seconds = time.perf_counter() - started
    if result.status != "accepted":
        queue.put(("error", f"{table}: {result.status}: {result.reason}"))
        return
    queue.put(("ok", Run(seconds=seconds, peak_rss_mb=_peak_rss_mb())))


def _baseline(queue: multiprocessing.Queue) -> None:
    import puhui.data.ingest  # noqa: F401  (the libraries an ingest loads)

    queue.put(_peak_rss_mb())


def _in_child(target, *args):  # type: ignore[no-untyped-def]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    outcome = queue.get()
    process.join()
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help="rows of tax_monthly (firms = rows / months, rounded up); overrides --firms",
    )
    parser.add_argument("--tables", default="tax_monthly,app_application")
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS)
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the files")
    args = parser.parse_args()
    firms = args.firms if args.rows is None else -(-args.rows // args.months)

    work = Path(tempfile.mkdtemp(prefix="puhui-bench-", dir=args.workdir))
    try:
        baseline = _in_child(_baseline)
        print(f"baseline RSS after imports: {baseline:.0f} MB; median of {args.runs} run(s)")
        print(f"chunk rows: {args.chunk_rows:,}\n")
        header = f"{'table':<16} {'format':<8} {'rows':>10} {'file MB':>8} {'wall s':>7}"
        print(f"{header} {'rows/s':>10} {'peak RSS MB':>12}")
        for table in args.tables.split(","):
            for file_format in args.formats.split(","):
                path = work / f"{table}.{file_format}"
                sizes = (firms, args.months, args.events)
                rows = _in_child(_generate, table, str(path), file_format, sizes)
                runs: list[Run] = []
                for index in range(args.runs):
                    lake_dir = work / f"lake-{table}-{file_format}-{index}"
                    status, value = _in_child(
                        _ingest_once, table, str(path), str(lake_dir), args.chunk_rows
                    )
                    if status != "ok":
                        raise SystemExit(value)
                    runs.append(value)
                    shutil.rmtree(lake_dir, ignore_errors=True)
                wall = statistics.median(r.seconds for r in runs)
                peak = statistics.median(r.peak_rss_mb for r in runs)
                size = path.stat().st_size / 1e6
                print(
                    f"{table:<16} {file_format:<8} {rows:>10,} {size:>8.0f} "
                    f"{wall:>7.1f} {rows / wall:>10,.0f} {peak:>12,.0f}",
                    flush=True,
                )
                path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
