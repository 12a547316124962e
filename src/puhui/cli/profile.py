"""``puhui profile``: the enterprise 360 view (企业立体画像) of one firm as of a date.

Personal data is always masked; there is deliberately no option to unmask it, because showing
it would need an audited reason (see the consent ledger).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from puhui.cli.context import console, current_settings
from puhui.cli.features import parse_day
from puhui.data.lake import Lake
from puhui.features.profile_schema import EnterpriseProfile, KeyFeatureTrend, SubscoreView
from puhui.features.profile_service import ProfileService

BAR_WIDTH = 20
_SPARKS = "▁▂▃▄▅▆▇█"
_BAND_STYLE = {"优": "green", "良": "cyan", "中": "yellow", "弱": "red"}
_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "info": "dim"}


def profile(
    uscc: Annotated[str, typer.Argument(help="统一社会信用代码 · USCC")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="时点 · YYYY-MM-DD (default: the latest feature snapshot)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the profile as JSON (the API's payload).")
    ] = False,
) -> None:
    """企业画像 · the 360 profile of one firm: sub-scores, trends, related parties, flags."""
    settings = current_settings()
    day = parse_day(as_of, "--as-of") if as_of else None
    service = ProfileService(Lake(settings.lake_dir), settings.data_dir / "features")
    result = service.profile(uscc, day)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    render(result)


def render(result: EnterpriseProfile) -> None:
    """One panel per section, in the order a banker reads them."""
    console.print(_registration_panel(result))
    console.print(_scores_panel(result))
    console.print(_trends_panel(result.key_features))
    console.print(_parties_panel(result))
    console.print(_flags_panel(result))


def _money(value: object) -> str:
    return "—" if value is None else f"{float(value):,.0f}"  # type: ignore[arg-type]


def _registration_panel(result: EnterpriseProfile) -> Panel:
    reg = result.registration
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("统一社会信用代码 USCC", reg.uscc)
    grid.add_row("行业 industry", f"{reg.industry_code} {reg.industry or ''}")
    grid.add_row("地区 division", f"{reg.division_code} {reg.division or ''}")
    grid.add_row("成立 founded", f"{reg.founded_on.isoformat()} ({reg.age_years:.1f} 年)")
    grid.add_row("规模 · 状态 · 类型", f"{reg.size_class} · {reg.status} · {reg.entity_type}")
    grid.add_row(
        "注册 / 实缴资本 (元)",
        f"{_money(reg.registered_capital)} / {_money(reg.paid_in_capital)}",
    )
    return Panel(
        grid,
        title=f"企业立体画像 · {reg.name}",
        subtitle=f"as of {result.as_of.isoformat()} · personal data masked",
    )


def _bar(score: float | None, band: str | None) -> Text:
    if score is None or band is None:
        return Text("░" * BAR_WIDTH + "  数据不足 no data", style="dim")
    filled = round(score / 100 * BAR_WIDTH)
    text = Text("█" * filled, style=_BAND_STYLE.get(band, ""))
    text.append("░" * (BAR_WIDTH - filled), style="dim")
    text.append(f" {score:5.1f} {band}")
    return text


def _label(zh: str) -> str:
    """A feature's description without its family: 入账金额·近12个月合计."""
    parts = zh.split("·")
    return "·".join(parts[1:]) if len(parts) > 1 else zh


def _why(view: SubscoreView) -> str:
    parts = [f"{_label(c.zh)} {c.points:+.1f}" for c in view.top]
    return "; ".join(parts) or "—"


def _scores_panel(result: EnterpriseProfile) -> Panel:
    table = Table(box=None, pad_edge=False)
    table.add_column("子评分 sub-score")
    table.add_column("0 ─ 100")
    table.add_column("主要因素 why (points from 50)", overflow="fold")
    for view in result.subscores:
        table.add_row(f"{view.zh} {view.name}", _bar(view.score, view.band), _why(view))
    summary = result.summary
    return Panel(
        Group(Text(summary.headline, style="bold"), table),
        title="综合与子评分 · sub-scores (higher = better; 司法合规风险: higher = safer)",
    )


def _spark(trend: KeyFeatureTrend) -> str:
    values = [p.value for p in trend.series]
    known = [v for v in values if v is not None]
    if not known:
        return "—"
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    return "".join(
        " " if v is None else _SPARKS[int((v - low) / span * (len(_SPARKS) - 1))] for v in values
    )


def _number(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.1%}" if percent else f"{value:,.0f}"


def _trends_panel(trends: list[KeyFeatureTrend]) -> Panel:
    table = Table(box=None, pad_edge=False)
    for column in ("指标 metric", "近3月 3m", "近12月 12m", "斜率/月 slope", "同比 yoy"):
        table.add_column(column, justify="right" if "m" in column[-3:] else "left")
    table.add_column("近12个可观测月 last 12 months")
    for trend in trends:
        table.add_row(
            f"{trend.zh} ({trend.unit}, {trend.aggregate})",
            _number(trend.last_3m),
            _number(trend.last_12m),
            _number(trend.slope_per_month),
            _number(trend.growth_yoy, percent=True),
            f"{_spark(trend)} →{trend.anchor_month.strftime('%Y-%m')}",
        )
    return Panel(table, title="关键指标与趋势 · key features and their trend")


def _parties_panel(result: EnterpriseProfile) -> Panel:
    parties = result.related_parties
    lines: list[Text | Table] = []
    rep = parties.legal_representative
    if rep is not None:
        age = "" if rep.age_years is None else f", {rep.age_years:.0f} 岁"
        lines.append(Text(f"法定代表人 legal representative: {rep.name} {rep.id_number}{age}"))
    for holder in parties.shareholders:
        share = "—" if holder.share_ratio is None else f"{holder.share_ratio:.1%}"
        lines.append(Text(f"股东 shareholder: {holder.name or '—'} {holder.holder_id} {share}"))
    for firm in parties.firms_sharing_legal_rep:
        lines.append(Text(f"同一法人企业 same legal rep: {firm.name} {firm.uscc} ({firm.status})"))
    for core in parties.core_enterprises:
        since = core.since.isoformat() if core.since else "—"
        lines.append(Text(f"核心企业 core enterprise: {core.name} ({core.platform}) since {since}"))
    for label, rows in (("下游客户 customer", parties.top_customers),
                        ("上游供应商 supplier", parties.top_suppliers)):  # fmt: skip
        for row in rows:
            lines.append(
                Text(
                    f"{label} {row.year}: {row.name or row.uscc} · {_money(row.amount)} 元 · "
                    f"{row.invoices or 0} 张"
                )
            )
    if not lines:
        lines.append(Text("—", style="dim"))
    return Panel(Group(*lines), title="关联方 · related parties (masked)")


def _flags_panel(result: EnterpriseProfile) -> Panel:
    if not result.flags:
        return Panel(Text("无 none", style="green"), title="风险提示 · flags")
    lines = [
        Text(f"[{flag.severity}] {flag.zh} · {flag.en}", style=_SEVERITY_STYLE[flag.severity])
        for flag in result.flags
    ]
    return Panel(Group(*lines), title="风险提示 · flags")
