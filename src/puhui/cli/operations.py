"""``puhui scheduler`` and ``puhui ops``: running puhui unattended inside a bank (运维).

``scheduler`` runs the configured jobs (built-in) or one job for one day (for a bank's own
scheduler); ``ops`` backs up and restores the store, enforces retention, handles a person's
erasure request and rotates keys. Exit codes are ``puhui.operations.exit_codes.ExitCode``
(documented in docs/OPERATIONS.md): 0 ok, 1 puhui error, 3 job failed, 4 blocked by a
dependency, 5 store unavailable, 6 restored store does not verify, 7 another scheduler runs.
"""

from __future__ import annotations

import signal
import tempfile
import time as time_module
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from puhui.cli.context import console, current_settings, err_console
from puhui.data.store.engine import (
    StoreUnreachableError,
    make_engine,
    make_session_factory,
    mask_url,
)
from puhui.data.store.migrate import StoreNotMigratedError, require_up_to_date
from puhui.data.store.tables import utc_now
from puhui.observability.logging import configure_logging
from puhui.operations.exit_codes import ExitCode
from puhui.operations.jobs import JobsConfig, load_jobs
from puhui.operations.retention import RetentionPolicy, load_retention
from puhui.operations.scheduler import Scheduler
from puhui.settings import Settings

scheduler_app = typer.Typer(no_args_is_help=True)
ops_app = typer.Typer(no_args_is_help=True)


JobsFile = Annotated[
    Path | None,
    typer.Option(
        "--jobs", envvar="PUHUI_JOBS_FILE", help="作业配置 · jobs YAML (default: packaged)"
    ),
]
RetentionFile = Annotated[
    Path | None,
    typer.Option(
        "--retention",
        envvar="PUHUI_RETENTION_FILE",
        help="保留规则 · retention YAML (default: packaged)",
    ),
]


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD", param_hint=option) from None


@contextmanager
def _store(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on the migrated store; an unreachable or stale store exits with code 5."""
    try:
        engine = make_engine(settings.resolved_store_url)
    except StoreUnreachableError as error:
        err_console.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.STORE_UNAVAILABLE) from error
    try:
        try:
            require_up_to_date(engine)
        except StoreNotMigratedError as error:
            err_console.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(ExitCode.STORE_UNAVAILABLE) from error
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _logging(settings: Settings) -> None:
    configure_logging(settings.log_level)


def _scheduler(
    settings: Settings,
    sessions: sessionmaker[Session],
    config: JobsConfig,
    *,
    clock: Callable[[], datetime] = utc_now,
    sleeper: Callable[[float], None] | None = None,
) -> Scheduler:
    from puhui.operations.runner import SubprocessRunner
    from puhui.operations.runs import RunStore
    from puhui.operations.version import code_version

    kwargs = {"sleeper": sleeper} if sleeper is not None else {}
    return Scheduler(
        config,
        RunStore(sessions),
        SubprocessRunner(settings),
        code_version=code_version(),
        clock=clock,
        **kwargs,
    )


# --- puhui scheduler ---------------------------------------------------------------------------


@scheduler_app.command("run")
def scheduler_run(
    jobs: JobsFile = None,
    once: Annotated[bool, typer.Option("--once", help="One pass over what is due, then exit.")] = (
        False
    ),
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="Run every occurrence through this day (YYYY-MM-DD), then exit."
        ),
    ] = None,
) -> None:
    """调度 · Run due jobs (missed days first, in dependency order), retrying with backoff."""
    settings = current_settings()
    _logging(settings)
    config = load_jobs(jobs)
    last = _day(until, "--until") if until else None
    from puhui.operations.lease import LeaseHeldError, StoreLease

    with _store(settings) as sessions:
        scheduler = _scheduler(settings, sessions, config)
        scheduler.lease = StoreLease(sessions, utc_now)
        # A stop from the orchestrator (SIGTERM) unwinds normally, so the lease is released.
        signal.signal(signal.SIGTERM, _stop)
        try:
            report = scheduler.run(once=once, until=last)
        except LeaseHeldError as error:
            err_console.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(ExitCode.LEASE_HELD) from error
    console.print(
        f"scheduler: {len(report.succeeded)} succeeded, {len(report.failed)} failed, "
        f"{len(report.blocked)} blocked"
    )
    raise typer.Exit(report.exit_code)


def _stop(_signal: int, _frame: object) -> None:
    raise SystemExit(143)


@scheduler_app.command("unlock")
def scheduler_unlock() -> None:
    """解锁 · Free the scheduler lease left by a scheduler that was killed (check it is gone)."""
    from puhui.operations.lease import LEASE_NAME, SchedulerLease

    with _store(current_settings()) as sessions, sessions.begin() as session:
        lease = session.get(SchedulerLease, LEASE_NAME)
        if lease is None or lease.expires_at <= utc_now():
            console.print("the scheduler lease is free")
            return
        console.print(f"freeing the lease of {lease.holder} (was held until {lease.expires_at})")
        lease.expires_at = utc_now()


@scheduler_app.command("run-job")
def scheduler_run_job(
    name: Annotated[str, typer.Argument(help="作业名 · job name from the jobs file")],
    day: Annotated[str, typer.Option("--date", help="运行日 · the day the run is for")],
    jobs: JobsFile = None,
    ignore_dependencies: Annotated[
        bool, typer.Option("--ignore-dependencies", help="Run even if dependencies have not run.")
    ] = False,
) -> None:
    """单次作业 · Run one job for one day (for a bank's own scheduler); exit code says how."""
    settings = current_settings()
    _logging(settings)
    config = load_jobs(jobs)
    config.job(name)
    with _store(settings) as sessions:
        code = _scheduler(settings, sessions, config).run_job(
            name, _day(day, "--date"), check_dependencies=not ignore_dependencies
        )
    console.print(f"job {name} for {day}: exit {int(code)} ({code.name.lower()})")
    raise typer.Exit(code)


@scheduler_app.command("jobs")
def scheduler_jobs(jobs: JobsFile = None) -> None:
    """作业列表 · The configured jobs, their schedules, dependencies and next run."""
    from puhui.operations.jobs import topological_order
    from puhui.operations.schedule import occurrences_between

    config = load_jobs(jobs)
    now = utc_now()
    table = Table(title=f"作业 jobs ({config.timezone}, config {config.config_hash()[:12]})")
    for column in ("job", "cron", "data date", "depends on", "retries", "next run", "command"):
        table.add_column(column)
    for name in topological_order(config.jobs):
        job = config.job(name)
        upcoming = occurrences_between(config, job, now, now + timedelta(days=400))
        next_run = (
            upcoming[0].scheduled_for.astimezone(config.zone).strftime("%Y-%m-%d %H:%M")
            if upcoming
            else "-"
        )
        table.add_row(
            job.name,
            job.cron,
            job.data_date.value,
            ", ".join(job.depends_on) or "-",
            str(job.retry.attempts),
            next_run,
            "puhui " + " ".join(job.command),
        )
    console.print(table)


@scheduler_app.command("runs")
def scheduler_runs(
    job: Annotated[str | None, typer.Option("--job", help="只看一个作业 · one job")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 30,
) -> None:
    """运行记录 · Recent job attempts, newest first."""
    from puhui.operations.runs import RunStore

    with _store(current_settings()) as sessions:
        rows = RunStore(sessions).recent(job_name=job, limit=limit)
    table = Table(title=f"作业运行 job runs ({len(rows)})")
    for column in (
        "job",
        "data date",
        "attempt",
        "status",
        "started",
        "seconds",
        "rows in/out",
        "exit",
        "code",
        "message",
    ):
        table.add_column(column)
    for row in rows:
        seconds = (row.ended_at - row.started_at).total_seconds() if row.ended_at else None
        table.add_row(
            row.job_name,
            row.data_date.isoformat(),
            str(row.attempt),
            row.status,
            row.started_at.isoformat(timespec="seconds"),
            f"{seconds:.1f}" if seconds is not None else "-",
            f"{_count(row.rows_in)}/{_count(row.rows_out)}",
            "-" if row.exit_code is None else str(row.exit_code),
            row.code_version,
            (row.message or "")[:60],
        )
    console.print(table)


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


# --- puhui ops ---------------------------------------------------------------------------------


@ops_app.command("backup")
def ops_backup(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="备份文件 · default <data_dir>/backups/store-<time>.jsonl.gz"),
    ] = None,
) -> None:
    """备份 · Write a portable logical backup of the operational store."""
    from puhui.operations.backup import write_backup

    settings = current_settings()
    now = utc_now()
    target = out or settings.data_dir / "backups" / f"store-{now:%Y%m%dT%H%M%SZ}.jsonl.gz"
    engine = _engine_or_exit(settings.resolved_store_url)
    try:
        summary = write_backup(engine, target, created_at=now)
    finally:
        engine.dispose()
    console.print(
        f"backup {summary.path}: revision {summary.revision}, {summary.total_rows:,} rows in "
        f"{len(summary.rows)} tables; audit tail {summary.audit_tail[:16]}…, "
        f"consent tail {summary.consent_tail[:16]}…"
    )


def _engine_or_exit(url: str) -> Engine:
    try:
        return make_engine(url)
    except StoreUnreachableError as error:
        err_console.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.STORE_UNAVAILABLE) from error


@ops_app.command("restore")
def ops_restore(
    backup: Annotated[Path, typer.Argument(help="备份文件 · a file written by `puhui ops backup`")],
    target_url: Annotated[
        str | None,
        typer.Option("--target-url", help="目标库 · an EMPTY database (default: the store URL)"),
    ] = None,
) -> None:
    """恢复 · Restore a backup into an empty database, then verify both hash chains."""
    from puhui.operations.backup import restore_backup

    settings = current_settings()
    engine = _engine_or_exit(target_url or settings.resolved_store_url)
    try:
        report = restore_backup(engine, backup)
        signatures = _verify_consent_signatures(settings, engine)
    finally:
        engine.dispose()
    console.print(
        f"restored {sum(report.rows.values()):,} rows into {mask_url(engine.url)} at revision "
        f"{report.revision}"
    )
    for label, check in (("audit log", report.audit), ("consent log", report.consent)):
        state = "verifies" if check and check.ok else f"BROKEN: {check.reason if check else '?'}"
        console.print(f"  {label}: {check.checked if check else 0:,} entries, {state}")
    console.print(f"  chain tails match the backup: {report.tails_match}")
    if signatures is not None:
        console.print(f"  consent signatures: {signatures}")
    if not report.verified or (signatures is not None and signatures != "verify"):
        raise typer.Exit(ExitCode.VERIFICATION_FAILED)


def _verify_consent_signatures(settings: Settings, engine: Engine) -> str | None:
    """Check every consent's signature with the key file, when there is one to check with."""
    from puhui.actions.consent.service import ConsentService
    from puhui.cli.consent import consent_key_file

    keys = consent_key_file(settings)
    if not keys.exists():
        return None
    report = ConsentService(make_session_factory(engine), keys.keyring()).verify()
    if report.ok:
        return "verify"
    return f"{len(report.problems)} problem(s), first: {report.problems[0]}"


@ops_app.command("retention")
def ops_retention(retention: RetentionFile = None) -> None:
    """数据保留 · Enforce the retention rules per data class (audited)."""
    from puhui.operations.report import report_rows
    from puhui.operations.retention import enforce_retention

    settings = current_settings()
    _logging(settings)
    policy = load_retention(retention)
    with _store(settings) as sessions:
        report = enforce_retention(
            sessions, policy, now=utc_now(), log_dir=settings.data_dir / "logs"
        )
    report_rows(rows_out=report.total)
    console.print(
        f"retention: {report.applications_redacted} applications redacted, "
        f"{report.bureau_queries_deleted} bureau queries deleted, "
        f"{report.consent_lookups_redacted} consent look-ups cleared, "
        f"{sum(report.log_rows_deleted.values())} log rows and {report.log_files_deleted} log "
        "files deleted"
    )


@ops_app.command("forget-person")
def ops_forget_person(
    request_ref: Annotated[str, typer.Option("--request-ref", help="申请编号 · request reference")],
    legal_basis: Annotated[
        str, typer.Option("--legal-basis", help="法律依据 · e.g. 个人信息保护法第四十七条")
    ],
    operator: Annotated[str, typer.Option("--operator", help="经办人工号 · staff id")],
    received_on: Annotated[
        str | None, typer.Option("--received-on", help="收到日期 · default today")
    ] = None,
    person_id: Annotated[
        str,
        typer.Option(
            "--person-id",
            prompt="身份证号 identity number",
            hide_input=True,
            help="身份证号 · prompted (hidden) when not given, to keep it out of shell history",
        ),
    ] = "",
    retention: RetentionFile = None,
) -> None:
    """个人信息删除 · Erase a person's data where the law allows; audited."""
    from puhui.operations.erasure import ErasureRequestInput, forget_person

    settings = current_settings()
    _logging(settings)
    now = utc_now()
    received = (
        datetime.combine(_day(received_on, "--received-on"), time(0), tzinfo=UTC)
        if received_on
        else now
    )
    with _store(settings) as sessions:
        result = forget_person(
            sessions,
            ErasureRequestInput(
                person_id=person_id.strip(),
                request_ref=request_ref,
                legal_basis=legal_basis,
                received_at=received,
                performed_by=operator,
            ),
            load_retention(retention),
            now=now,
        )
    console.print(f"erasure {request_ref}: {result.outcome.value}")
    for label, count in result.redacted.items():
        console.print(f"  redacted {label}: {count}")
    for label, kept in result.kept.items():
        console.print(f"  kept {label}: {kept['count']} — {kept['reason']} (until {kept['until']})")


@ops_app.command("rotate-keys")
def ops_rotate_keys(
    consent: Annotated[
        bool, typer.Option("--consent/--no-consent", help="轮换授权签名密钥 · consent key")
    ] = True,
    node_dir: Annotated[
        list[Path] | None,
        typer.Option("--node-dir", help="联合建模节点目录 · a node folder (repeatable)"),
    ] = None,
    operator: Annotated[str, typer.Option("--operator", help="经办人 · who rotates")] = "system",
) -> None:
    """密钥轮换 · Rotate consent-signing and node keys; old signatures keep verifying."""
    from puhui.actions.consent.service import ConsentService
    from puhui.cli.consent import consent_key_file
    from puhui.data.store.audit import append_audit
    from puhui.operations.keys import rotate_node_key

    settings = current_settings()
    now = utc_now()
    detail: dict[str, object] = {}
    with _store(settings) as sessions:
        if consent:
            keys = consent_key_file(settings)
            old = keys.signer().key_id if keys.exists() else None
            fresh = keys.rotate(now) if keys.exists() else keys.create(now)
            ledger = ConsentService(sessions, keys.keyring()).verify()
            detail["consent"] = {"retired": old, "active": fresh.key_id, "ledger_ok": ledger.ok}
            console.print(
                f"consent key: {old or '(none)'} → {fresh.key_id}; ledger of "
                f"{ledger.entries:,} entries still verifies: {ledger.ok}"
            )
            if not ledger.ok:
                raise typer.Exit(ExitCode.VERIFICATION_FAILED)
        for folder in node_dir or []:
            rotation = rotate_node_key(folder, now)
            detail[f"node:{folder.name}"] = {
                "retired": rotation.old_public_key[:16],
                "active": rotation.new_public_key[:16],
            }
            console.print(
                f"node {folder}: {rotation.old_public_key[:16]}… → "
                f"{rotation.new_public_key[:16]}…; give the peer the new {folder / 'node.pub'}"
            )
        with sessions.begin() as session:
            append_audit(
                session,
                actor=operator,
                actor_role="admin",
                action="keys.rotate",
                subject_type="keys",
                subject_id=now.date().isoformat(),
                detail=detail,
                occurred_at=now,
            )


# --- demo --------------------------------------------------------------------------------------

# Demo jobs have their own names: runs recorded at the demo's simulated dates must never
# become the last success the packaged schedule catches up from.
DEMO_JOBS = """
timezone: Asia/Shanghai
catch_up_days: 1
jobs:
  - name: demo_features
    cron: "0 3 1 * *"
    command: [features, build, --as-of, "{date}"]
    data_date: first_of_month
    catch_up_days: 2
  - name: demo_store_check
    cron: "0 5 * * *"
    command: [store, current, --check]
    depends_on: [demo_features]
"""


@dataclass(frozen=True)
class OperationsDemoSummary:
    """What the operations demo did: job runs, backup rows, restore verification."""

    succeeded_runs: int
    failed_runs: int
    backup_rows: int
    restore_verified: bool
    retention_changes: int


def demo_operations(settings: Settings, out: Console) -> OperationsDemoSummary:
    """Demo hook: the scheduler catches up the 2026-07-01 jobs (features, then a store check,
    recorded with versions), retention runs, and the store is backed up, restored into a fresh
    SQLite file and both hash chains verified."""
    import yaml

    from puhui.operations.backup import restore_backup, write_backup
    from puhui.operations.jobs import parse_jobs
    from puhui.operations.retention import enforce_retention

    config = parse_jobs(yaml.safe_load(DEMO_JOBS), "demo jobs")
    # The demo's world stands at 2026-07-01 09:00 (Shanghai); its clock then runs in real time.
    moment = datetime(2026, 7, 1, 9, 0, tzinfo=config.zone).astimezone(UTC)
    started = time_module.monotonic()

    def clock() -> datetime:
        return moment + timedelta(seconds=time_module.monotonic() - started)

    engine = make_engine(settings.resolved_store_url)
    try:
        require_up_to_date(engine)
        sessions = make_session_factory(engine)
        scheduler = _scheduler(settings, sessions, config, clock=clock, sleeper=_no_wait)
        report = scheduler.run(once=True)
        out.print(
            f"调度 scheduler: {len(report.succeeded)} run(s) succeeded, {len(report.failed)} "
            f"failed, {len(report.blocked)} blocked (exit {int(report.exit_code)})"
        )
        retention = enforce_retention(sessions, RetentionPolicy(), now=utc_now())
        with tempfile.TemporaryDirectory(prefix="puhui-restore-") as scratch:
            backup = write_backup(engine, Path(scratch) / "store.jsonl.gz", created_at=utc_now())
            fresh = make_engine(f"sqlite:///{Path(scratch) / 'restored.db'}")
            try:
                restored = restore_backup(fresh, backup.path)
            finally:
                fresh.dispose()
        out.print(
            f"备份恢复 backup {backup.total_rows:,} rows → fresh SQLite: audit log "
            f"{restored.audit.checked if restored.audit else 0:,} entries and consent log "
            f"{restored.consent.checked if restored.consent else 0:,} entries verify: "
            f"{restored.verified}"
        )
    finally:
        engine.dispose()
    return OperationsDemoSummary(
        succeeded_runs=len(report.succeeded),
        failed_runs=len(report.failed),
        backup_rows=backup.total_rows,
        restore_verified=restored.verified,
        retention_changes=retention.total,
    )


def _no_wait(_seconds: float) -> None:
    """The demo does not wait out retry backoffs."""
