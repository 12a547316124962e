"""``puhui marketing …``: build themed, screened and scored lists as of a date, allocate them to
account managers, export per manager, record outcomes and report the feedback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from puhui.actions.access.roles import Principal
from puhui.actions.marketing.propensity import DEFAULT_ALGORITHM, DEFAULT_FEATURE_SET
from puhui.actions.marketing.report import FeedbackReport
from puhui.actions.marketing.service import BranchFigures, BuiltRun, MarketingService
from puhui.cli.context import console, current_settings
from puhui.errors import PuhuiError
from puhui.settings import Settings

app = typer.Typer(no_args_is_help=True)

RunOption = Annotated[
    str | None, typer.Option("--run", help="名单批次 · run id (default the latest)")
]
ByOption = Annotated[str, typer.Option("--by", help="操作人 · who runs it (audited)")]


class MarketingCommandError(PuhuiError):
    """A marketing command was given something it cannot use."""


@contextmanager
def open_marketing(settings: Settings) -> Iterator[MarketingService]:
    """The marketing service over ``settings``' store (migrated), lake and data folder."""
    from puhui.data.store.engine import make_engine, make_session_factory
    from puhui.data.store.migrate import require_up_to_date

    engine = make_engine(settings.resolved_store_url)
    try:
        require_up_to_date(engine)
        yield MarketingService(
            make_session_factory(engine),
            Path(settings.data_dir),
            Path(settings.lake_dir),
            joint_model_weight=settings.joint_model_weight,
        )
    finally:
        engine.dispose()


def _as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MarketingCommandError(f"--as-of {value!r} is not a date (YYYY-MM-DD)") from None


@app.command("train-propensity")
def train_propensity_command(
    without_outcomes: Annotated[
        bool, typer.Option("--without-outcomes", help="不加入营销结果 · lake labels only")
    ] = False,
    algorithm: Annotated[str, typer.Option("--algorithm", help="scorecard, lightgbm or ebm")] = (
        DEFAULT_ALGORITHM
    ),
    event: Annotated[
        str,
        typer.Option("--event", help="applied (default), sought or loan: what counts as take-up"),
    ] = "applied",
    features: Annotated[
        str,
        typer.Option(
            "--features",
            help="候选特征 · demand (curated demand traces), catalog (IV selection over all) "
            "or catalog_without_demand",
        ),
    ] = DEFAULT_FEATURE_SET,
    by: ByOption = "marketing",
) -> None:
    """营销响应模型 · train (or retrain with recorded outcomes) and promote the take-up model."""
    with open_marketing(current_settings()) as service:
        result = service.train_propensity(
            with_outcomes=not without_outcomes,
            algorithm=algorithm,
            trained_by=by,
            event=event,
            feature_set=features,
        )
    oot = result.out_of_time
    console.print(
        f"propensity v{result.version} ({result.algorithm}, {result.feature_set} features, "
        f"take-up = {result.event}) champion: "
        f"{result.rows:,} rows, "
        f"{result.events:,} take-ups, {result.outcome_rows:,} from recorded outcomes; "
        f"out-of-time AUC {oot.get('auc', float('nan')):.3f} on {int(oot.get('count', 0)):,} rows",
        highlight=False,
    )


@app.command("build")
def build_command(
    as_of: Annotated[str, typer.Option("--as-of", help="时点 YYYY-MM-DD (a feature snapshot)")],
    by: ByOption = "marketing",
) -> None:
    """生成名单 · themed lists, prospects, pre-screen, scores, best product and expected value."""
    with open_marketing(current_settings()) as service:
        built = service.build(_as_of(as_of), actor=by)
        _print_build(console, service, built)


def _print_build(out: Console, service: MarketingService, built: BuiltRun) -> None:
    s = built.summary
    out.print(
        f"run {built.run_id} as of {built.as_of}: {s.universe:,} firms, {s.prospects:,} prospects "
        f"({s.first_loan:,} first-loan), {s.excluded:,} excluded by the pre-screen, "
        f"{s.no_offer:,} without an offer, {s.listed:,} listed ({s.listed_first_loan:,} 首贷户), "
        f"expected value {s.total_value:,.0f} yuan/year; models "
        + ", ".join(f"{k} v{v}" for k, v in built.model_versions.items())
        + f"; {built.seconds:.1f} s",
        highlight=False,
    )
    themes = Table("主题名单 theme", "prospects", "listed", "expected value", title="themed lists")
    for code, figures in s.by_theme.items():
        themes.add_row(
            f"{figures['zh']} {code}",
            f"{figures['prospects']:,}",
            f"{figures['listed']:,}",
            f"{figures['expected_value']:,.0f}",
        )
    out.print(themes)
    reasons = Table("排除原因 reason", "firms", title="exclusions (a firm may fail several rules)")
    from puhui.decisions.marketing.lists import reason_text

    for code, count in s.by_reason.items():
        reasons.add_row(f"{code}: {reason_text(service.config, code)}", f"{count:,}")
    out.print(reasons)


@app.command("runs")
def runs_command() -> None:
    """名单批次 · recent runs."""
    with open_marketing(current_settings()) as service:
        rows = service.list_runs()
    table = Table("run", "as of", "status", "prospects", "excluded", "listed", "EV", "by")
    for run in rows:
        table.add_row(
            run.run_id,
            run.as_of.isoformat(),
            run.status,
            f"{run.prospects:,}",
            f"{run.excluded:,}",
            f"{run.listed:,}",
            f"{run.total_value:,.0f}",
            run.created_by,
        )
    console.print(table)


@app.command("allocate")
def allocate_command(run: RunOption = None, by: ByOption = "marketing") -> None:
    """分配 · place listed prospects with account managers (exact min-cost flow)."""
    with open_marketing(current_settings()) as service:
        run_id, result = service.allocate(run, actor=by)
        _print_branches(console, service, run_id)
    console.print(
        f"run {run_id}: {len(result.placements):,} placed, {len(result.unplaced):,} not placed; "
        f"expected value {result.total_value:,.0f} of at most {result.upper_bound:,.0f}",
        highlight=False,
    )


def _print_branches(out: Console, service: MarketingService, run_id: str) -> list[BranchFigures]:
    figures = service.branch_figures(run_id)
    table = Table(
        "网点 outlet",
        "listed",
        "assigned",
        "expected value",
        "contacted",
        "disbursed",
        title=f"名单 by outlet · run {run_id}",
    )
    for f in figures:
        table.add_row(
            f"{f.name} {f.branch_id}",
            f"{f.listed:,}",
            f"{f.assigned:,}",
            f"{f.expected_value:,.0f}",
            f"{f.contacted:,}",
            f"{f.converted:,}",
        )
    out.print(table)
    return figures


@app.command("export")
def export_command(
    run: RunOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="输出目录 · folder (default <data>/marketing/exports)"),
    ] = None,
    staff: Annotated[str | None, typer.Option("--staff", help="客户经理工号 · one manager")] = None,
    by: ByOption = "marketing",
) -> None:
    """导出 · one CSV and one Excel file per account manager (audited)."""
    settings = current_settings()
    folder = out or Path(settings.data_dir) / "marketing" / "exports"
    with open_marketing(settings) as service:
        written = service.export(run, folder, staff_id=staff, actor=by)
    for item in written[:10]:
        console.print(
            f"{item.staff_id}: {item.prospects} prospects → {item.csv_path}, {item.xlsx_path}"
        )
    console.print(f"{len(written)} manager lists written under {folder}", highlight=False)


@app.command("outcome")
def outcome_command(
    uscc: Annotated[str, typer.Argument(help="统一社会信用代码 · the prospect")],
    outcome: Annotated[
        str, typer.Argument(help="contacted, not_interested, applied, approved or disbursed")
    ],
    staff: Annotated[str, typer.Option("--staff", help="记录人工号 · who records (staff id)")],
    run: RunOption = None,
    amount: Annotated[str | None, typer.Option("--amount", help="放款金额 · yuan")] = None,
    note: Annotated[str | None, typer.Option("--note")] = None,
) -> None:
    """登记结果 · record an outcome for an assigned prospect (audited)."""
    with open_marketing(current_settings()) as service:
        principal = staff_principal(service, staff)
        run_id = service.run(run).run_id
        recorded = service.record_outcome(
            principal,
            run_id,
            uscc,
            outcome,
            amount=Decimal(amount) if amount else None,
            note=note,
        )
    console.print(
        f"{recorded.uscc}: {recorded.outcome} recorded in run {recorded.run_id} "
        f"(assignment {recorded.status})",
        highlight=False,
    )


def staff_principal(service: MarketingService, staff_id: str) -> Principal:
    """The principal a member of staff acts as from the command line."""
    from puhui.actions.access.roles import Role
    from puhui.actions.access.service import branch_scope
    from puhui.data.store.tables import Branch, Staff

    with service.sessions() as session:
        member = session.get(Staff, staff_id)
        if member is None:
            raise MarketingCommandError(f"no member of staff {staff_id!r}")
        try:
            role = Role(member.role)
        except ValueError:
            raise MarketingCommandError(
                f"staff {staff_id} has role {member.role}, which may not record outcomes"
            ) from None
        branch = session.get(Branch, member.branch_id)
        return Principal(
            username=staff_id,
            staff_id=staff_id,
            name=member.name,
            role=role,
            branch_id=member.branch_id,
            branch_name=branch.name if branch else member.branch_id,
            scope=branch_scope(session, role, member.branch_id),
        )


@app.command("feedback")
def feedback_command(
    run: RunOption = None,
    simulate: Annotated[
        bool,
        typer.Option(
            "--simulate",
            help="评估 · contact every prospect in simulation (truth_enterprise; synthetic only)",
        ),
    ] = False,
    validation: Annotated[
        bool, typer.Option("--validation", help="模型验证反馈 · wrongly excluded / included")
    ] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    rank_by: Annotated[
        str, typer.Option("--by", help="response (P(good)×P(take-up)) or value deciles")
    ] = "response",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """营销反馈 · conversion by score decile, gains curve, lift over random and themed lists."""
    with open_marketing(current_settings()) as service:
        report = service.evaluate(run, seed=seed, by=rank_by) if simulate else service.feedback(run)
        checks = service.validation(run) if validation else None
    if as_json:
        payload = report.as_dict()
        if checks is not None:
            payload["validation"] = checks.as_dict()
        console.print_json(json.dumps(payload, default=str, ensure_ascii=False))
        return
    print_feedback(console, report)
    if checks is not None:
        reasons = ", ".join(f"{k} {v}" for k, v in checks.wrongly_excluded_by_reason.items())
        console.print(
            f"model validation (as of {checks.as_of}, lake to {checks.observed_to}): "
            f"{checks.wrongly_excluded} wrongly excluded "
            f"({reasons or '-'}), "
            f"{checks.wrongly_included} wrongly included; "
            f"{checks.not_interested_top_deciles} not interested in the top 3 deciles",
            highlight=False,
        )


def print_feedback(out: Console, report: FeedbackReport) -> None:
    table = Table(
        "decile",
        "firms",
        "converted",
        "conversion",
        "lift",
        title=f"转化 by score decile · {report.basis}",
    )
    for row in report.deciles:
        table.add_row(
            str(row.decile),
            f"{row.firms:,}",
            f"{row.converted:,}",
            f"{row.conversion:.1%}",
            f"{row.lift:.2f}",
        )
    out.print(table)
    gains = Table(
        "top of list", "firms", "share of conversions", "conversion", "lift", title="gains curve"
    )
    for point in report.gains:
        gains.add_row(
            f"{point.share_of_list:.0%}",
            f"{point.firms:,}",
            f"{point.share_of_conversions:.1%}",
            f"{point.conversion:.1%}",
            f"{point.lift:.2f}",
        )
    out.print(gains)
    lift = report.lift
    themed = "-" if lift.themed_conversion is None else f"{lift.themed_conversion:.1%}"
    over_themes = "-" if lift.lift_over_themes is None else f"{lift.lift_over_themes:.2f}×"
    out.print(
        f"top decile {lift.top_decile_conversion:.1%} vs random {lift.random_conversion:.1%} "
        f"(lift {lift.lift_over_random:.2f}×) vs themed lists alone {themed} "
        f"({lift.themed_firms:,} firms; lift {over_themes})",
        highlight=False,
    )
    extra = report.extra
    if "ceiling_lift" in extra:
        out.print(
            f"expected top-decile lift of this ranking (no sampling noise) "
            f"{extra['expected_lift']:.2f}× random, {extra['expected_lift_over_themes']:.2f}× "
            f"themed; ceiling (ranking by the true chance) {extra['ceiling_lift']:.2f}×, "
            f"P(good) × true demand {extra['oracle_response_lift']:.2f}×",
            highlight=False,
        )


@dataclass(frozen=True)
class DemoMarketing:
    run_id: str
    listed: int
    placed: int
    total_value: float
    branches: list[tuple[str, int, int, float]]
    lift_over_random: float
    seconds: float


def demo_marketing(settings: Settings, console: Console) -> DemoMarketing:
    """演示 · Build the lists as of the demo date, allocate them, and print each outlet's list
    size and expected value and the lift table (simulated contact of every prospect).

    Needs the demo's lake, store, snapshots and the ``application_pd`` champion; trains and
    promotes the take-up model (``propensity``) first when it has no champion.
    """
    from rich.rule import Rule

    from puhui.actions.marketing.scoring import MissingModelError
    from puhui.cli.demo import DEMO_AS_OF

    started = time.perf_counter()
    console.print(Rule("精准营销 · themed lists, screened and scored prospects, allocation"))
    with open_marketing(settings) as service:
        try:
            service.models()
        except MissingModelError:
            trained = service.train_propensity(with_outcomes=False, trained_by="demo")
            console.print(
                f"take-up model propensity v{trained.version}: out-of-time AUC "
                f"{trained.out_of_time.get('auc', float('nan')):.3f}",
                highlight=False,
            )
        built = service.build(date.fromisoformat(DEMO_AS_OF), actor="demo")
        _print_build(console, service, built)
        run_id, result = service.allocate(built.run_id, actor="demo")
        figures = _by_city(service, run_id)
        table = Table(
            "分行 branch",
            "listed",
            "assigned",
            "expected value (yuan/yr)",
            title="各分行名单 list size and expected value by branch",
        )
        for name, listed, assigned, value in figures:
            table.add_row(name, f"{listed:,}", f"{assigned:,}", f"{value:,.0f}")
        console.print(table)
        report = service.evaluate(run_id, seed=0)
        print_feedback(console, report)
    seconds = time.perf_counter() - started
    return DemoMarketing(
        run_id=run_id,
        listed=built.summary.listed,
        placed=len(result.placements),
        total_value=result.total_value,
        branches=figures,
        lift_over_random=report.lift.lift_over_random,
        seconds=seconds,
    )


def _by_city(service: MarketingService, run_id: str) -> list[tuple[str, int, int, float]]:
    """Outlet figures rolled up to their city branch (分行)."""
    from sqlalchemy import select

    from puhui.data.store.tables import Branch

    with service.sessions() as session:
        branches = {b.branch_id: b for b in session.scalars(select(Branch))}
    totals: dict[str, list[float]] = {}
    for f in service.branch_figures(run_id):
        branch = branches.get(f.branch_id)
        city = branch.parent_branch_id if branch and branch.parent_branch_id else f.branch_id
        entry = totals.setdefault(city, [0, 0, 0.0])
        entry[0] += f.listed
        entry[1] += f.assigned
        entry[2] += f.expected_value
    return [
        (
            f"{branches[c].name if c in branches else c} {c}",
            int(v[0]),
            int(v[1]),
            round(v[2], 2),
        )
        for c, v in sorted(totals.items())
    ]
