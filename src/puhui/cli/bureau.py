"""``puhui bureau``: query the credit bureau through the consent gateway; auditors' anomalies."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from puhui.cli.consent import consent_service, store_sessions
from puhui.cli.context import console, current_settings
from puhui.data.identifiers import mask_id_number
from puhui.data.store.audit import append_audit
from puhui.data.store.tables import Staff, StaffRole, utc_now

app = typer.Typer(no_args_is_help=True)


class ReportChoice(StrEnum):
    ENTERPRISE = "enterprise"
    PERSONAL = "personal"


@app.command("query")
def query_command(
    staff: Annotated[str, typer.Option("--staff", help="工号 · who queries")],
    purpose: Annotated[str, typer.Option("--purpose", help="查询用途")],
    report: Annotated[
        ReportChoice, typer.Option("--report", help="企业 or 个人 report")
    ] = ReportChoice.ENTERPRISE,
    uscc: Annotated[str | None, typer.Option("--uscc", help="统一社会信用代码")] = None,
    person_id: Annotated[str | None, typer.Option("--person-id", help="身份证号")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default today)")] = None,
) -> None:
    """查询 · One credit report, served only under a valid consent (logged either way)."""
    from puhui.adapters.bureau.gateway import BureauGateway
    from puhui.adapters.bureau.reports import BureauError
    from puhui.adapters.bureau.simulated import SimulatedBureau

    settings = current_settings()
    day = _parse_day(as_of, "--as-of") if as_of else None
    with store_sessions(settings) as sessions:
        gateway = BureauGateway(
            SimulatedBureau(settings.lake_dir),
            sessions,
            consent_service(settings, sessions, signing=False),
        )
        if report is ReportChoice.ENTERPRISE:
            if uscc is None:
                raise BureauError("an enterprise report needs --uscc")
            answer = gateway.enterprise_report(
                staff_id=staff, uscc=uscc, purpose=purpose, as_of=day
            )
            found = answer.report
            console.print(
                f"enterprise report {found.uscc} as of {found.as_of} (month "
                f"{found.report_month}): lenders {found.lender_count}, balance "
                f"¥{found.loan_balance:,}, overdue ¥{found.overdue_amount:,} "
                f"(max {found.max_overdue_days} days), non-performing "
                f"¥{found.non_performing_balance:,}, guarantees ¥{found.guarantee_balance:,}, "
                f"queries in 12 months {found.queries_last_12_months}",
                highlight=False,
            )
        else:
            if person_id is None:
                raise BureauError("a personal report needs --person-id")
            personal = gateway.personal_report(
                staff_id=staff, person_id=person_id, purpose=purpose, uscc=uscc, as_of=day
            )
            found_person = personal.report
            console.print(
                f"personal report {mask_id_number(found_person.person_id)} as of "
                f"{found_person.as_of}: loans {found_person.loan_count} "
                f"(¥{found_person.loan_balance:,}), cards {found_person.card_count}, overdue "
                f"accounts {found_person.overdue_accounts}, worst status 24m "
                f"{found_person.worst_status_24m}",
                highlight=False,
            )
            answer = personal  # type: ignore[assignment]
    console.print(
        f"query {answer.query_id} logged under consent {answer.consent_id} "
        f"({answer.result_size} bytes)",
        highlight=False,
    )


def _parse_day(text: str, option: str) -> date:
    from puhui.adapters.bureau.reports import BureauError

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BureauError(f"{option} {text!r} is not a date (YYYY-MM-DD)") from None


@app.command("anomalies")
def anomalies_command(
    auditor: Annotated[str, typer.Option("--auditor", help="工号 of an auditor (审计)")],
    since: Annotated[
        str | None, typer.Option("--since", help="YYYY-MM-DD (default 30 days ago)")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="YYYY-MM-DD inclusive (default today)")
    ] = None,
    max_per_day: Annotated[int, typer.Option("--max-per-day", min=1)] = 20,
) -> None:
    """异常 · Queries per staff per day over the limit, outside working hours, other branches."""
    from puhui.adapters.bureau.anomalies import (
        SHANGHAI,
        AnomalyPolicy,
        flag_anomalies,
        load_query_facts,
    )
    from puhui.adapters.bureau.gateway import StaffNotAuthorizedError

    settings = current_settings()
    today = utc_now().astimezone(SHANGHAI).date()
    start_day = _parse_day(since, "--since") if since else today - timedelta(days=30)
    end_day = _parse_day(until, "--until") if until else today
    start = datetime.combine(start_day, time.min, tzinfo=SHANGHAI)
    end = datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=SHANGHAI)
    with store_sessions(settings) as sessions, sessions.begin() as session:
        member = session.get(Staff, auditor)
        if member is None or member.role not in {StaffRole.AUDITOR, StaffRole.ADMIN}:
            raise StaffNotAuthorizedError(
                f"staff {auditor!r} is not an auditor; bureau anomalies are for the auditor role"
            )
        facts, parents = load_query_facts(session, start, end)
        found = flag_anomalies(
            facts, AnomalyPolicy(max_queries_per_day=max_per_day), branch_parents=parents
        )
        append_audit(
            session,
            actor=auditor,
            actor_role=member.role,
            action="bureau.anomalies.view",
            purpose="征信查询审计 query audit",
            detail={
                "since": start_day,
                "until": end_day,
                "queries": len(facts),
                "flags": len(found),
            },
        )
    table = Table(title=f"bureau query anomalies {start_day} – {end_day}", title_justify="left")
    for column in ("day", "staff", "kind", "queries", "detail"):
        table.add_column(column)
    for anomaly in found:
        table.add_row(
            anomaly.day.isoformat(),
            anomaly.staff_id,
            anomaly.kind.value,
            str(len(anomaly.query_ids)),
            anomaly.message,
        )
    console.print(table)
    console.print(f"{len(facts)} queries checked, {len(found)} flag(s)", highlight=False)
