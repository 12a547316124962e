"""``puhui sentinel …``: the pre-loan anti-fraud sentinel (贷前反欺诈哨兵).

strategies (the set, by group) · screen (one firm now, with reasons) · replay (what-if of a
changed threshold or switched-off strategies) · challenger (champion/challenger split) ·
blacklist (list versions and a look-up) · train (fit, register and evaluate the risk models).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from puhui.actions.sentinel.service import (
    SentinelService,
    challenger_report,
    evaluation_table,
    feature_schema,
    fraud_view,
    hits_by_group,
    what_if,
)
from puhui.actions.sentinel.training import RecallRow
from puhui.cli.context import console, current_settings
from puhui.data.lake import Lake
from puhui.decisions.screening import ScreeningRequest
from puhui.decisions.sentinel.spec import GROUPS, StrategySet, Thresholds
from puhui.settings import Settings

app = typer.Typer(no_args_is_help=True)

ReferOption = Annotated[float | None, typer.Option("--refer-points", help="转人工分数线")]
RejectOption = Annotated[float | None, typer.Option("--reject-points", help="拒绝分数线")]
DisableOption = Annotated[
    list[str] | None, typer.Option("--disable", help="停用策略 id (repeatable)")
]


def _service(settings: Settings, *, store: bool = True) -> SentinelService:
    sessions = None
    if store:
        try:
            from puhui.data.store.engine import make_engine, make_session_factory

            sessions = make_session_factory(make_engine(settings.resolved_store_url))
        except Exception:
            sessions = None
    return SentinelService.from_lake(
        settings.lake_dir, session_factory=sessions, models_dir=settings.data_dir / "models"
    )


def _candidate(
    service: SentinelService,
    refer: float | None,
    reject: float | None,
    disable: list[str] | None,
) -> StrategySet:
    t = service.strategies.thresholds
    return service.strategies.with_changes(
        thresholds=Thresholds(
            refer if refer is not None else t.refer_points,
            reject if reject is not None else t.reject_points,
        ),
        disabled=disable or (),
        schema=feature_schema(),
    )


@app.command("strategies")
def strategies(
    group: Annotated[str | None, typer.Option("--group", help="只看一组 · one group")] = None,
) -> None:
    """策略集 · every strategy: id, group, action, expression, reason."""
    from puhui.decisions.sentinel.spec import load_strategy_set

    chosen = load_strategy_set(feature_schema())
    table = Table(
        title=f"哨兵策略 {chosen.version} ({len(chosen.strategies)} strategies; "
        f"refer ≥ {chosen.thresholds.refer_points:.0f}, "
        f"reject ≥ {chosen.thresholds.reject_points:.0f} points)"
    )
    for column in ("id", "group", "action", "when", "reason"):
        table.add_column(column, overflow="fold")
    for s in chosen.strategies:
        if group and s.group != group:
            continue
        action = (
            f"{s.action.value} {s.points:+.0f}" if s.action.value == "score" else s.action.value
        )
        table.add_row(s.id, f"{GROUPS[s.group]} {s.group}", action, s.when, s.reason)
    console.print(table)


@app.command("screen")
def screen(
    uscc: Annotated[str, typer.Argument(help="统一社会信用代码")],
    channel: Annotated[str, typer.Option("--channel")] = "wechat",
    device: Annotated[str | None, typer.Option("--device")] = None,
    ip: Annotated[str | None, typer.Option("--ip")] = None,
) -> None:
    """实时筛查 · screen one application for a firm now, with every hit and reason."""
    service = _service(current_settings(), store=False)
    screening = service.screen_request(
        ScreeningRequest("cli", uscc, channel, device, ip, None), record=False
    )
    outcome = screening.outcome
    console.print(
        f"[bold]{outcome.verdict.value}[/] · {outcome.points:.0f} points · "
        f"{len(outcome.hits)} hits · {screening.elapsed_ms:.2f} ms ({screening.strategy_version})"
    )
    for reason in outcome.reasons():
        console.print(f"  • {reason}")
    for hit in screening.blacklist_hits:
        console.print(f"  • 黑名单 {hit.explain()}")


@app.command("replay")
def replay(
    refer_points: ReferOption = None,
    reject_points: RejectOption = None,
    disable: DisableOption = None,
    show: Annotated[int, typer.Option("--show", help="列出变化的申请数")] = 10,
) -> None:
    """回放 · what-if: a changed threshold or set over the lake's applications, before deploying."""
    service = _service(current_settings(), store=False)
    result = what_if(service, _candidate(service, refer_points, reject_points, disable))
    print_arms(console, [result.base, result.candidate], "what-if 回放")
    console.print(f"{result.changed.height} applications change outcome")
    for row in result.changed.head(show).iter_rows(named=True):
        console.print(
            f"  {row['application_id']} {row['uscc']} {row['applied_at']:%Y-%m-%d}: "
            f"{row['base_verdict']} → {row['candidate_verdict']}"
        )


@app.command("challenger")
def challenger(
    percent: Annotated[float, typer.Option("--percent", help="挑战者流量百分比")] = 20.0,
    refer_points: ReferOption = None,
    reject_points: RejectOption = None,
    disable: DisableOption = None,
) -> None:
    """冠军/挑战者 · split the applications by percentage and compare the arms' outcomes."""
    service = _service(current_settings(), store=False)
    candidate = _candidate(service, refer_points, reject_points, disable)
    champion, other, disagree = challenger_report(service, candidate, percent)
    print_arms(console, [champion, other], f"champion/challenger {100 - percent:.0f}/{percent:.0f}")
    console.print(f"champion would have decided {disagree} challenger-arm applications otherwise")


@app.command("blacklist")
def blacklist(
    value: Annotated[
        str | None, typer.Argument(help="查询值 · USCC, ID number, device, IP")
    ] = None,
) -> None:
    """黑名单 · list versions and sizes; with a value, exact and fuzzy matches explained."""
    from puhui.actions.sentinel.index import SentinelIndex

    index = SentinelIndex.build(Lake(current_settings().lake_dir))
    sizes: dict[str, int] = {}
    for entry in index.blacklist.entries:
        sizes[entry.list_name] = sizes.get(entry.list_name, 0) + 1
    table = Table(title="黑名单 lists")
    for column in ("list", "entries", "latest version"):
        table.add_column(column)
    versions = index.blacklist.versions()
    for name, count in sorted(sizes.items()):
        table.add_row(name, str(count), versions.get(name, "-"))
    console.print(table)
    if value:
        today = datetime.now(UTC).date()
        hits = []
        for kind in ("enterprise", "person", "device", "ip"):
            hits += index.blacklist.exact(kind, value, today, kind)
            hits += index.blacklist.one_edit(kind, value, today, kind)
        hits += index.blacklist.fuzzy_name(value, today)
        for hit in hits:
            console.print(f"  • {hit.explain()}")
        if not hits:
            console.print("  no match")


@app.command("train")
def train() -> None:
    """训练 · fit every risk model, register each (with metrics) and print the recall table."""
    settings = current_settings()
    service = _service(settings, store=False)
    from puhui.actions.sentinel.registration import register_models
    from puhui.data.store.engine import make_engine, make_session_factory

    sessions = make_session_factory(make_engine(settings.resolved_store_url))
    versions = register_models(service.models, sessions, settings.data_dir / "models")
    table = Table(title=f"哨兵模型 {len(versions)} risk models registered")
    for column in ("model", "v", "label", "dev AUC", "hold-out AUC"):
        table.add_column(column)
    for trained, version in zip(service.models, versions, strict=True):
        m = trained.metrics
        dev = next((v for k, v in m.items() if k.startswith("development_auc")), None)
        hold = next((v for k, v in m.items() if k.startswith("holdout_auc")), None)
        kind = "iforest" if trained.spec.kind.endswith("iforest") else "logit"
        table.add_row(
            f"{version.name} ({kind})", version.version, trained.spec.label, _num(dev), _num(hold)
        )
    console.print(table)
    print_evaluation(console, service, Lake(settings.lake_dir))


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_arms(out: Console, arms: list, title: str) -> None:  # type: ignore[type-arg]
    table = Table(
        title=title,
        caption="fraud caught: confirmed (observable) fraud flagged; bad rate: 30+ days past "
        "due within 12 months among passed and approved",
    )
    for column in (
        "arm",
        "version",
        "apps",
        "pass",
        "review",
        "reject",
        "fraud caught",
        "bad rate",
    ):
        table.add_column(column, no_wrap=True)
    for arm in arms:
        table.add_row(
            arm.name,
            arm.version,
            str(arm.applications),
            f"{arm.pass_rate:.1%}",
            str(arm.referred),
            str(arm.rejected),
            f"{arm.fraud_caught}/{arm.fraud_total}",
            f"{arm.bad_rate_passed:.2%}",
        )
    out.print(table)


def print_evaluation(
    out: Console, service: SentinelService, lake: Lake
) -> tuple[list[RecallRow], float]:
    """Both views on the hold-out: fraud alarms (fraud groups) and every verdict."""
    rows, fpr, size = evaluation_table(service, lake, fraud_view(service.strategies))
    print_recall(out, rows, fpr, size, "hold-out, fraud alarms 欺诈预警 (no credit/legal vetoes)")
    every, every_fpr, _ = evaluation_table(service, lake)
    print_recall(out, every, every_fpr, size, "hold-out, every verdict 全部策略 (with vetoes)")
    return rows, fpr


def print_recall(
    out: Console, rows: list[RecallRow], fpr: float, size: int, view: str = ""
) -> None:
    table = Table(
        title=f"recall by fraud type, {view} ({size} applications; "
        f"FPR among genuine {fpr:.2%}; target recall ≥ 80% at FPR ≤ 2%)"
    )
    for column in ("fraud type", "applications", "caught", "recall"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.fraud_type,
            str(row.applications),
            str(row.caught),
            "-" if not row.applications else f"{row.recall:.0%}",
        )
    out.print(table)


@dataclass
class SentinelDemo:
    screened: int
    flagged: int
    by_group: dict[str, int] = field(default_factory=dict)
    recall: list[RecallRow] = field(default_factory=list)
    fpr: float = 0.0
    seconds: float = 0.0


def demo_sentinel(settings: Settings, out: Console) -> SentinelDemo:
    """Demo hook: screen the lake's most recent 2,000 applications (the demo batch), print hits
    by group, a few caught applications with their reasons, and the hold-out recall table."""
    started = time.perf_counter()
    service = _service(settings, store=False)
    verdicts = service.replay_verdicts()
    recent = verdicts.sort("applied_at", descending=True).head(2000)
    flagged = recent.filter(recent["verdict"] != "pass")
    by_group = hits_by_group(service.strategies, recent)
    table = Table(
        title=f"哨兵 sentinel {service.strategies.version}: {recent.height} applications "
        f"screened, {flagged.height} flagged"
    )
    table.add_column("group")
    table.add_column("strategy hits")
    for group, count in sorted(by_group.items(), key=lambda kv: -kv[1]):
        table.add_row(f"{GROUPS[group]} {group}", str(count))
    out.print(table)
    rejected = flagged.sort("points", descending=True).head(4)
    for row in rejected.iter_rows(named=True):
        rank = {"reject": 0, "refer": 1, "score": 2}
        fired = sorted(
            (s for s in service.strategies.active if row.get(s.id)),
            key=lambda s: (rank[s.action.value], -s.points),
        )
        out.print(
            f"[bold]{row['application_id']}[/] {row['uscc']} → {row['verdict']} "
            f"({row['points']:.0f} points)"
        )
        for strategy in fired[:5]:
            out.print(f"    {strategy.id} {strategy.reason}")
        for hit in service.hits_by_application.get(row["application_id"], [])[:2]:
            out.print(f"    黑名单 {hit.explain()}")
    rows, fpr = print_evaluation(out, service, Lake(settings.lake_dir))
    everything, every_fpr, size = evaluation_table(
        service, Lake(settings.lake_dir), fraud_view(service.strategies), holdout_only=False
    )
    print_recall(
        out,
        everything,
        every_fpr,
        size,
        "fraud alarms over every application (thresholds were set on the earlier part)",
    )
    return SentinelDemo(
        recent.height, flagged.height, by_group, rows, fpr, time.perf_counter() - started
    )
