"""``puhui alarm …``: the post-loan early warning (贷后预警) — daily scans, learning from
defaults, warnings, tasks, disposal and escalation. Thin over ``puhui.actions.alarm``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from puhui.actions.alarm.runner import ScanEngine
from puhui.actions.alarm.scan import ScanSummary
from puhui.cli.context import console, current_settings
from puhui.errors import PuhuiError
from puhui.operations.report import report_rows
from puhui.settings import Settings

app = typer.Typer(no_args_is_help=True)

LEVEL_STYLE = {"red": "bold red", "orange": "dark_orange", "yellow": "yellow", "blue": "blue"}
DEMO_FIRST_DAY = date(2026, 6, 1)
DEMO_DAYS = 30
DEMO_HISTORY = (date(2024, 7, 1), date(2025, 6, 30))  # learning window of the demo shortcut
DEMO_HISTORY_STEP = 45


class AlarmCliError(PuhuiError):
    """A command-line argument is invalid."""


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise AlarmCliError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


def _engine(name: str) -> ScanEngine:
    from puhui.actions.alarm.runner import make_engine

    return make_engine(name)


def _print_summary(out: Console, summary: ScanSummary) -> None:
    levels = " ".join(
        f"[{LEVEL_STYLE[lvl]}]{lvl} {summary.levels.get(lvl, 0)}[/]"
        for lvl in ("red", "orange", "yellow", "blue")
    )
    state = (
        "already done (no-op)"
        if summary.skipped
        else (f"resumed from {summary.resumed_from}" if summary.resumed_from else "scanned")
    )
    missing = (
        f"; missing feeds: {', '.join(summary.missing_feeds)}" if summary.missing_feeds else ""
    )
    out.print(
        f"{summary.scan_date} {state}: {summary.borrowers:,} borrowers, "
        f"{summary.signals_fired:,} signals, {summary.warnings_opened} opened, "
        f"{summary.warnings_changed} changed, {summary.tasks_created} tasks, "
        f"{summary.escalated} escalated · open {levels}{missing}",
        highlight=False,
    )


@app.command("scan")
def scan(
    on: Annotated[str, typer.Option("--date", help="扫描日 · scan date YYYY-MM-DD")],
    to: Annotated[str, typer.Option("--to", help="scan every day up to this date")] = "",
    engine: Annotated[str, typer.Option("--engine", help="duckdb or spark")] = "duckdb",
    full: Annotated[
        bool, typer.Option("--full", help="recompute every family (ignore the monthly cache)")
    ] = False,
) -> None:
    """每日预警扫描 · scan the loan book on a date (idempotent; resumes after a crash)."""
    from puhui.actions.alarm.notify import demo_notifiers
    from puhui.actions.alarm.wiring import open_alarm

    first = _day(on, "--date")
    last = _day(to, "--to") if to else first
    runner = _engine(engine)
    with open_alarm(current_settings(), notifiers=demo_notifiers()) as runtime:
        day = first
        borrowers = changed = 0
        while day <= last:
            summary = runtime.scanner.scan(day, runner, full=full)
            _print_summary(console, summary)
            borrowers += summary.borrowers
            changed += summary.warnings_opened + summary.warnings_changed
            day += timedelta(days=1)
    report_rows(rows_in=borrowers, rows_out=changed)  # borrowers scanned, warnings raised
    if hasattr(runner, "close"):
        runner.close()


@app.command("learn")
def learn(
    train_end: Annotated[
        str, typer.Option("--train-end", help="last day whose outcomes may be learned from")
    ] = "2025-06-30",
    history_from: Annotated[str, typer.Option("--history-from")] = "2023-10-01",
    holdout_end: Annotated[
        str, typer.Option("--holdout-end", help="evaluate on the hold-out up to this day")
    ] = "2026-06-30",
    step_days: Annotated[int, typer.Option("--step-days")] = 14,
    snapshots_from: Annotated[str, typer.Option("--snapshots-from")] = "2024-01-01",
    skip_models: Annotated[bool, typer.Option("--skip-models")] = False,
) -> None:
    """从不良客户学习 · EW-PD models, signal weights, lead times, hold-out figures."""
    from puhui.actions.alarm.learning_service import learn_and_evaluate

    started = time.perf_counter()
    result = learn_and_evaluate(
        current_settings(),
        train_end=_day(train_end, "--train-end"),
        history_from=_day(history_from, "--history-from"),
        holdout_end=_day(holdout_end, "--holdout-end") if holdout_end else None,
        step_days=step_days,
        train_snapshots_from=_day(snapshots_from, "--snapshots-from"),
        train_models=not skip_models,
    )
    for trained in result.trained:
        console.print(
            f"{trained.name} v{trained.version}: {trained.rows:,} rows, {trained.events} bad, "
            f"out-of-time AUC {trained.auc_out_of_time or float('nan'):.3f}",
            highlight=False,
        )
    console.print(lead_time_table(result.learned.lead_times.head(15).to_dicts()))
    if result.evaluation is not None:
        console.print(evaluation_table(result.evaluation.as_dict()))
    console.print(f"learned in {time.perf_counter() - started:,.0f} s", highlight=False)


def lead_time_table(rows: list[dict]) -> Table:
    table = Table(title="不良客户预警提前期 lead time before default (days), by condition")
    for column in ("condition", "defaulters", "share", "p25", "median", "p75"):
        table.add_column(column, justify="left" if column == "condition" else "right")
    for row in rows:
        table.add_row(
            row["condition"],
            str(row["defaulters"]),
            f"{row['share']:.0%}",
            f"{row['p25_days']:.0f}",
            f"{row['median_days']:.0f}",
            f"{row['p75_days']:.0f}",
        )
    return table


def evaluation_table(numbers: dict) -> Table:
    table = Table(title=f"hold-out {numbers['start']} … {numbers['end']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("borrowers", f"{numbers['borrowers']:,}", "")
    table.add_row("defaulters (first 90+ DPD)", str(numbers["defaulters"]), "")
    table.add_row(
        "warned orange/red ≥ 90 days before",
        f"{numbers['warned_orange_red_90d']} ({numbers['share_warned_90d']:.0%})",
        "≥ 70%",
    )
    lead = numbers["median_lead_days"]
    table.add_row("median lead time (days)", "–" if lead is None else f"{lead:.0f}", "")
    table.add_row(
        "red precision (default ≤ 180 d)",
        f"{numbers.get('red_defaulted_within_180d', 0)}/{numbers['red_firms']} "
        f"({numbers['red_precision']:.0%})",
        "",
    )
    work = numbers["warnings_per_1000_borrowers_month"]
    table.add_row(
        "firms per 1,000 borrowers per month",
        " ".join(f"{k} {v:.1f}" for k, v in work.items()),
        "",
    )
    return table


@app.command("warnings")
def warnings(
    level: Annotated[str, typer.Option("--level", help="red, orange, yellow or blue")] = "",
    branch: Annotated[str, typer.Option("--branch")] = "",
    limit: Annotated[int, typer.Option("--limit")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """预警清单 · open warnings, most severe first."""
    from puhui.actions.alarm.queries import list_warnings
    from puhui.actions.alarm.wiring import open_alarm

    with open_alarm(current_settings(), with_pd=False) as runtime, runtime.sessions() as session:
        rows = list_warnings(
            session, level=level or None, branch_ids=[branch] if branch else None, limit=limit
        )
    if as_json:
        console.print_json(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    from puhui.actions.alarm.queries import level_pd
    from puhui.decisions.alarm.policy import load_policy

    months = load_policy().pd_horizon_months
    table = Table(title=f"open warnings ({len(rows)})")
    for column in (
        "id",
        "uscc",
        "level",
        "score",
        f"pd {months}m",
        "since",
        "branch",
        "top evidence",
    ):
        table.add_column(column)
    for row in rows:
        top = row.evidence[0].zh if row.evidence else "PD"
        pd_value = level_pd(row, months)
        table.add_row(
            str(row.id),
            row.uscc,
            f"[{LEVEL_STYLE[row.level]}]{row.level}[/]",
            f"{row.score:.1f}",
            "–" if pd_value is None else f"{pd_value:.1%}",
            str(row.opened_on),
            row.branch_id or "",
            top,
        )
    console.print(table)


@app.command("tasks")
def tasks(
    assignee: Annotated[str, typer.Option("--assignee", help="staff id")] = "",
    branch: Annotated[str, typer.Option("--branch")] = "",
    overdue: Annotated[bool, typer.Option("--overdue")] = False,
    on: Annotated[str, typer.Option("--date", help="today, for overdue; default today")] = "",
    limit: Annotated[int, typer.Option("--limit")] = 20,
) -> None:
    """预警任务 · open tasks by level and deadline."""
    from puhui.actions.alarm.queries import list_tasks
    from puhui.actions.alarm.wiring import open_alarm

    today = _day(on, "--date") if on else date.today()
    with open_alarm(current_settings(), with_pd=False) as runtime, runtime.sessions() as session:
        rows = list_tasks(
            session,
            today=today,
            assignee=assignee or None,
            branch_ids=[branch] if branch else None,
            overdue_only=overdue,
            limit=limit,
        )
    table = Table(title=f"open tasks ({len(rows)})")
    for column in ("task", "uscc", "level", "due", "overdue", "assignee", "escalated to"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.uscc,
            f"[{LEVEL_STYLE[row.level]}]{row.level}[/]",
            str(row.due_on),
            "yes" if row.overdue else "",
            row.assignee_id or "",
            row.escalated_to or "",
        )
    console.print(table)


@app.command("dispose")
def dispose(
    task_id: Annotated[int, typer.Argument(help="task id")],
    action: Annotated[
        str,
        typer.Option(
            "--action",
            help="no_action, watch, reduce_line, freeze_line, demand_collateral, accelerate, exit",
        ),
    ],
    note: Annotated[str, typer.Option("--note", help="线下核查 · the offline verification")],
    by: Annotated[str, typer.Option("--by", help="staff id of the account manager")],
    site_visit: Annotated[bool, typer.Option("--site-visit")] = False,
    on: Annotated[str, typer.Option("--date", help="verified on; default today")] = "",
) -> None:
    """处置 · record the offline verification and the disposal of a task."""
    from puhui.actions.alarm.wiring import open_alarm
    from puhui.data.store.tables import Staff

    with (
        open_alarm(current_settings(), with_pd=False) as runtime,
        runtime.sessions.begin() as session,
    ):
        staff = session.get(Staff, by)
        if staff is None:
            raise AlarmCliError(f"--by: no staff {by!r}")
        disposal = runtime.desk.dispose(
            session,
            task_id,
            actor=by,
            actor_role=staff.role,
            action=action,
            verification=note,
            site_visit=site_visit,
            verified_on=_day(on, "--date") if on else date.today(),
        )
        console.print(f"task {task_id} disposed: {disposal.action}", highlight=False)


@app.command("escalate")
def escalate(on: Annotated[str, typer.Option("--date", help="today; default today")] = "") -> None:
    """逾期升级 · send tasks past their deadline to the branch manager."""
    from puhui.actions.alarm.notify import demo_notifiers
    from puhui.actions.alarm.wiring import open_alarm

    day = _day(on, "--date") if on else date.today()
    with open_alarm(current_settings(), notifiers=demo_notifiers(), with_pd=False) as runtime:
        count = runtime.desk.escalate_overdue(runtime.sessions, day)
    console.print(f"{count} overdue task(s) escalated to branch managers", highlight=False)


@app.command("signals")
def signals() -> None:
    """信号库 · how many signals per source, monitoring and veto."""
    from puhui.decisions.alarm.spec import load_signal_library, signal_counts

    library = load_signal_library()
    table = Table(
        title=f"signal library: {len(library.signals):,} signals, {len(library.families)} families"
    )
    table.add_column("source table")
    table.add_column("signals", justify="right")
    for name, count in sorted(signal_counts(library).items()):
        table.add_row(name, str(count))
    table.add_row("veto 一票否决", str(sum(s.veto for s in library.signals)))
    console.print(table)


@dataclass
class DemoAlarm:
    days: int
    borrowers: int
    levels: dict[str, int]
    tasks: int
    escalated: int
    notifications: int
    seconds: float


def demo_alarm(settings: Settings, out: Console) -> DemoAlarm:
    """Demo hook: a month of daily scans (June 2026) with the EW-PD and learned weights when
    ``puhui alarm learn`` ran, then warnings by level and the lead-time table."""
    import logging

    from rich.rule import Rule

    from puhui.actions.alarm.notify import demo_notifiers
    from puhui.actions.alarm.runner import DuckDBScanEngine
    from puhui.actions.alarm.wiring import alarm_dir, open_alarm
    from puhui.data.store.alarm_tables import AlarmScan

    started = time.perf_counter()
    logging.getLogger("puhui.alarm.notify").setLevel(logging.WARNING)
    out.print(Rule("贷后预警 · a month of daily scans"))
    notifiers = demo_notifiers()
    runner = DuckDBScanEngine()
    if not (alarm_dir(settings) / "weights.json").exists():
        from puhui.actions.alarm.learning_service import learn_weights_quickly

        learned = learn_weights_quickly(
            settings,
            runner,
            history_from=DEMO_HISTORY[0],
            train_end=DEMO_HISTORY[1],
            step_days=DEMO_HISTORY_STEP,
        )
        out.print(
            f"learned from {learned.defaults} defaults in {learned.observations:,} "
            f"borrower-scans ({DEMO_HISTORY[0]} … {DEMO_HISTORY[1]}, every "
            f"{DEMO_HISTORY_STEP} days): "
            f"{sum(1 for w in learned.weights().values() if w > 0)} signals carry weight",
            highlight=False,
        )
    tasks = escalated = 0
    borrowers = 0
    with open_alarm(settings, notifiers=notifiers) as runtime:
        with runtime.sessions() as session:
            done = session.scalars(select(AlarmScan.scan_date)).all()
        last_done = max(done, default=None)
        day = DEMO_FIRST_DAY if last_done is None else max(DEMO_FIRST_DAY, last_done)
        summary = None
        for offset in range(DEMO_DAYS):
            today = day + timedelta(days=offset)
            summary = runtime.scanner.scan(today, runner)
            tasks += summary.tasks_created if not summary.skipped else 0
            escalated += summary.escalated
            borrowers = max(borrowers, summary.borrowers)
            if offset in (0, DEMO_DAYS - 1) or summary.missing_feeds:
                _print_summary(out, summary)
        runner.close()
        levels = summary.levels if summary else {}
    table = Table(title="open warnings by level 预警等级")
    for column in ("红 red", "橙 orange", "黄 yellow", "蓝 blue", "tasks", "escalated"):
        table.add_column(column, justify="right")
    table.add_row(
        *(str(levels.get(lvl, 0)) for lvl in ("red", "orange", "yellow", "blue")),
        str(tasks),
        str(escalated),
    )
    out.print(table)
    learning = alarm_dir(settings) / "learning.json"
    if learning.exists():
        report = json.loads(learning.read_text(encoding="utf-8"))
        out.print(lead_time_table(report["lead_times"][:10]))
    else:
        out.print(
            "no learning yet: `puhui alarm learn` learns weights and lead times", highlight=False
        )
    evaluation = alarm_dir(settings) / "evaluation.json"
    if evaluation.exists():
        out.print(evaluation_table(json.loads(evaluation.read_text(encoding="utf-8"))))
    sent = sum(len(n.sent) for n in notifiers)  # type: ignore[attr-defined]
    out.print(
        f"{sent:,} notifications logged (email, SMS, WeCom); "
        f"{time.perf_counter() - started:,.1f} s",
        highlight=False,
    )
    return DemoAlarm(
        DEMO_DAYS, borrowers, dict(levels), tasks, escalated, sent, time.perf_counter() - started
    )
