"""Benchmark operations: a year of scheduler catch-up, backup and restore, log redaction,
and the observability middleware's cost per request.

- catch-up: the packaged schedule (6 jobs) caught up over ``--days`` missed days with a
  command runner that does nothing, so the figure is the scheduler's own cost (due
  computation, dependency checks, two store writes per attempt) on SQLite;
- backup/restore: a SQLite store with ``--audit`` audit entries and ``--consents`` signed
  consents, backed up, then restored into a fresh SQLite file with both chains verified;
- redaction: JSON log lines through the redacting handler, half of them carrying an identity
  number and a phone number;
- middleware: ``GET /healthz`` driven through the ASGI app with and without the middleware.

    .venv/bin/python benchmarks/bench_operations.py --runs 3
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))

from operations_factories import add_audit, grant, keyring_of, migrated, person_id, uscc

from puhui.actions.consent.signing import Signer
from puhui.data.store.engine import make_engine
from puhui.observability.logging import json_handler
from puhui.operations.backup import restore_backup, write_backup
from puhui.operations.jobs import load_jobs
from puhui.operations.runner import CommandOutcome
from puhui.operations.runs import RunStore
from puhui.operations.scheduler import Scheduler


class NoopRunner:
    def run(self, argv: Sequence[str], *, work_id: str, timeout: float) -> CommandOutcome:
        return CommandOutcome(0)


def median_of(runs: int, work: Callable[[], float]) -> float:
    return statistics.median(work() for _ in range(runs))


def bench_catch_up(days: int) -> tuple[float, int]:
    config = load_jobs()
    config = config.model_copy(
        update={
            "catch_up_days": days,
            "jobs": tuple(job.model_copy(update={"catch_up_days": days}) for job in config.jobs),
        }
    )
    with tempfile.TemporaryDirectory() as scratch:
        engine, sessions = migrated(Path(scratch) / "store.db")
        now = datetime(2026, 7, 1, 23, tzinfo=UTC)
        scheduler = Scheduler(
            config,
            RunStore(sessions),
            NoopRunner(),
            code_version="bench",
            clock=lambda: now,
            sleeper=lambda _s: None,
        )
        started = time.perf_counter()
        report = scheduler.run_pass()
        seconds = time.perf_counter() - started
        engine.dispose()
    return seconds, len(report.succeeded) + len(report.blocked)


def _server_database(server_url: str | None) -> tuple[str | None, Callable[[], None]]:
    """A fresh database on a PostgreSQL/MariaDB server for the restore, and its dropper."""
    if not server_url:
        return None, lambda: None
    from sqlalchemy import create_engine, make_url, text

    url = make_url(server_url)
    name = f"puhui_bench_{int(time.time() * 1000) % 10**9}"
    quote = '"' if url.get_backend_name() == "postgresql" else "`"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {quote}{name}{quote}"))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {quote}{name}{quote}"))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def bench_backup_restore(
    audit: int, consents: int, server_url: str | None = None
) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        engine, sessions = migrated(root / "source.db")
        signer = Signer.generate("k-bench")
        keyring = keyring_of(signer)
        start = datetime(2025, 1, 1, tzinfo=UTC)
        for number in range(consents):
            grant(
                sessions,
                signer,
                person=person_id(number % 1000),
                firm=uscc(number),
                at=start + timedelta(minutes=number),
                keyring=keyring,
            )
        add_audit(sessions, audit, start)
        began = time.perf_counter()
        summary = write_backup(engine, root / "store.jsonl.gz", created_at=start)
        backup_seconds = time.perf_counter() - began
        target_url, drop = _server_database(server_url)
        target = make_engine(target_url or f"sqlite:///{root / 'restored.db'}")
        try:
            began = time.perf_counter()
            report = restore_backup(target, summary.path)
            restore_seconds = time.perf_counter() - began
            assert report.verified
        finally:
            target.dispose()
            drop()
        engine.dispose()
    return backup_seconds, restore_seconds, summary.total_rows


def bench_redaction(lines: int) -> float:
    logger = logging.getLogger("puhui.bench.redaction")
    logger.propagate = False
    logger.handlers = [json_handler(io.StringIO())]
    logger.setLevel(logging.INFO)
    person, phone = person_id(7), "13912345678"
    began = time.perf_counter()
    for number in range(lines):
        if number % 2:
            logger.info("applicant %s phone %s decided", person, phone, extra={"n": number})
        else:
            logger.info("scored firm %s", uscc(number % 100), extra={"n": number})
    return time.perf_counter() - began


def bench_middleware(requests: int) -> tuple[float, float]:
    """Seconds per ``GET /healthz`` driven straight through the ASGI app (no HTTP, no test
    client, whose own overhead would drown the difference), without and with the middleware."""
    import asyncio

    from fastapi import FastAPI

    from puhui.observability.middleware import ObservabilityMiddleware

    def app(with_middleware: bool) -> FastAPI:
        application = FastAPI()
        if with_middleware:
            application.add_middleware(ObservabilityMiddleware)

        @application.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        return application

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/healthz",
        "raw_path": b"/healthz",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: object) -> None:
        return None

    async def drive(application: FastAPI) -> float:
        for _ in range(500):
            await application(dict(scope), receive, send)
        began = time.perf_counter()
        for _ in range(requests):
            await application(dict(scope), receive, send)
        return (time.perf_counter() - began) / requests

    return asyncio.run(drive(app(False))), asyncio.run(drive(app(True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--audit", type=int, default=10_000)
    parser.add_argument("--consents", type=int, default=1_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument(
        "--restore-server", default=None, help="PostgreSQL/MariaDB server URL for the restore"
    )
    parser.add_argument(
        "--parts", default="catch-up,backup,redaction,middleware", help="comma-separated"
    )
    args = parser.parse_args()
    logging.getLogger("puhui.operations").setLevel(logging.CRITICAL)

    parts = set(args.parts.split(","))
    if "catch-up" in parts:
        report_catch_up(args)
    if "backup" in parts:
        report_backup(args)
    if "redaction" in parts:
        report_redaction(args)
    if "middleware" in parts:
        report_middleware(args)


def report_catch_up(args: argparse.Namespace) -> None:
    catch_up = [bench_catch_up(args.days) for _ in range(args.runs)]
    seconds = statistics.median(s for s, _ in catch_up)
    occurrences = catch_up[0][1]
    print(
        f"catch-up of {args.days} days, packaged schedule: {occurrences} runs in {seconds:.2f} s "
        f"({seconds / occurrences * 1000:.1f} ms per run, scheduler overhead only)"
    )


def report_backup(args: argparse.Namespace) -> None:
    results = [
        bench_backup_restore(args.audit, args.consents, args.restore_server)
        for _ in range(args.runs)
    ]
    target = "a fresh database on " + args.restore_server if args.restore_server else "fresh SQLite"
    backup = statistics.median(r[0] for r in results)
    restore = statistics.median(r[1] for r in results)
    rows = results[0][2]
    print(
        f"backup of {rows:,} rows: {backup:.2f} s ({rows / backup:,.0f} rows/s); restore into "
        f"{target} with both chains verified: {restore:.2f} s ({rows / restore:,.0f} rows/s)"
    )


def report_redaction(args: argparse.Namespace) -> None:
    redaction = median_of(args.runs, lambda: bench_redaction(args.lines))
    print(
        f"JSON log lines with redaction: {args.lines:,} in {redaction:.2f} s "
        f"({redaction / args.lines * 1e6:.1f} µs per line)"
    )


def report_middleware(args: argparse.Namespace) -> None:
    plain, observed = zip(*(bench_middleware(args.requests) for _ in range(args.runs)), strict=True)
    base, with_middleware = statistics.median(plain), statistics.median(observed)
    print(
        f"GET /healthz through the ASGI app: {base * 1e6:.0f} µs without, "
        f"{with_middleware * 1e6:.0f} µs with the observability middleware "
        f"(+{(with_middleware - base) * 1e6:.0f} µs per request)"
    )


if __name__ == "__main__":
    main()
