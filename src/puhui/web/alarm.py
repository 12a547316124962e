"""贷后预警 · the workbench pages of the alarm: an account manager's tasks by level and
deadline, the warning task with its evidence and the disposal form, and the risk officer's
view of warnings by level and branch with the lead-time chart and the risk-feature graph
learned from bad borrowers (server-side SVG, no JavaScript).
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup, escape

from puhui.actions.access import Role
from puhui.actions.alarm.queries import get_warning, list_tasks, list_warnings, warnings_by_branch
from puhui.actions.alarm.tasks import DISPOSAL_ZH, TaskDesk, TaskError
from puhui.api.alarm import DISPOSING_ROLES, visible_task, visible_warning
from puhui.data.store.alarm_tables import AlarmTask, AlarmWarning, Disposal
from puhui.decisions.alarm.policy import load_policy
from puhui.web.nav import NavItem, register_nav
from puhui.web.pages import CurrentPageUser, check_csrf, language, render, services_of

router = APIRouter(include_in_schema=False)
LEVEL_COLOURS = {"red": "#d93025", "orange": "#f29900", "yellow": "#e6c300", "blue": "#1a73e8"}
LEVEL_NAMES = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}

register_nav(
    NavItem(
        "alarm_tasks",
        "/alarm/tasks",
        "预警任务",
        "Warning tasks",
        frozenset({Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER}),
        order=15,
        capability="alarm",
    )
)
register_nav(
    NavItem(
        "alarm",
        "/alarm",
        "贷后预警",
        "Early warning",
        frozenset({Role.RISK_OFFICER, Role.ADMIN, Role.BRANCH_MANAGER, Role.AUDITOR}),
        order=16,
        capability="alarm",
    )
)


def _today(request: Request) -> date:
    text = request.query_params.get("today", "")
    try:
        return date.fromisoformat(text) if text else date.today()
    except ValueError:
        return date.today()


def level_dot(level: str) -> Markup:
    colour = LEVEL_COLOURS.get(level, "#999")
    return Markup(
        f'<svg class="dot" width="12" height="12" viewBox="0 0 12 12" role="img" '
        f'aria-label="{escape(level)}"><circle cx="6" cy="6" r="5" fill="{colour}"/></svg>'
    )


def lead_time_svg(rows: list[dict[str, Any]], *, width: int = 640, title: str = "") -> Markup:
    """Median lead time per condition as bars, the 25th–75th percentile as a whisker."""
    if not rows:
        return Markup("")
    bar, gap, label_w = 16, 6, 230
    height = len(rows) * (bar + gap) + 40
    top = max(max(float(r["p75_days"]) for r in rows), 1.0)
    scale = (width - label_w - 40) / top
    parts = [
        f'<svg class="chart leadtime" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}">'
    ]
    for i, row in enumerate(rows):
        y = 10 + i * (bar + gap)
        median, p25, p75 = (float(row[k]) for k in ("median_days", "p25_days", "p75_days"))
        parts.append(
            f'<text class="label" x="{label_w - 6}" y="{y + bar - 4}" text-anchor="end">'
            f"{escape(row['condition'])} ({row['defaulters']})</text>"
            f'<rect x="{label_w}" y="{y}" width="{median * scale:.1f}" height="{bar}" '
            f'fill="#f29900" opacity="0.8"/>'
            f'<line x1="{label_w + p25 * scale:.1f}" x2="{label_w + p75 * scale:.1f}" '
            f'y1="{y + bar / 2}" y2="{y + bar / 2}" stroke="#333" stroke-width="2"/>'
            f'<text class="value" x="{label_w + median * scale + 4:.1f}" y="{y + bar - 4}">'
            f"{median:.0f}d</text>"
        )
    axis_y = height - 20
    parts.append(
        f'<line x1="{label_w}" x2="{width - 20}" y1="{axis_y}" y2="{axis_y}" stroke="#999"/>'
        f'<text class="label" x="{label_w}" y="{height - 4}">0</text>'
        f'<text class="label" x="{width - 20}" y="{height - 4}" text-anchor="end">'
        f"{top:.0f} days before default</text></svg>"
    )
    return Markup("".join(parts))


def combination_graph_svg(pairs: list[dict[str, Any]], *, size: int = 520) -> Markup:
    """The risk-feature graph (风险特征图谱): conditions as nodes on a circle, pairs that
    preceded defaults together as edges, thicker for a higher lift."""
    if not pairs:
        return Markup("")
    nodes = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
    centre, radius = size / 2, size / 2 - 110
    where = {
        n: (
            centre + radius * math.cos(2 * math.pi * i / len(nodes)),
            centre + radius * math.sin(2 * math.pi * i / len(nodes)),
        )
        for i, n in enumerate(nodes)
    }
    top = max(float(p["lift"]) for p in pairs)
    parts = [
        f'<svg class="chart graph" viewBox="0 0 {size} {size}" width="{size}" height="{size}" '
        f'role="img" aria-label="risk feature graph">'
    ]
    for pair in pairs:
        (x1, y1), (x2, y2) = where[pair["a"]], where[pair["b"]]
        stroke = 1 + 4 * float(pair["lift"]) / top
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#d93025" '
            f'stroke-opacity="0.5" stroke-width="{stroke:.1f}"/>'
        )
    for name, (x, y) in where.items():
        anchor = "start" if x >= centre else "end"
        dx = 8 if x >= centre else -8
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#1a73e8"/>'
            f'<text class="label" x="{x + dx:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _learning(request: Request) -> dict[str, Any]:
    folder = Path(request.app.state.settings.data_dir) / "alarm"
    out: dict[str, Any] = {}
    for name in ("learning", "evaluation"):
        path = folder / f"{name}.json"
        out[name] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    return out


@router.get("/alarm/tasks")
def tasks_page(request: Request, user: CurrentPageUser, overdue: int = 0) -> HTMLResponse:
    principal = user.principal
    if principal.role not in (
        Role.ACCOUNT_MANAGER,
        Role.BRANCH_MANAGER,
        Role.RISK_OFFICER,
        Role.ADMIN,
    ):
        raise HTTPException(403, detail=f"role {principal.role.value} has no warning tasks")
    today = _today(request)
    with services_of(request).sessions() as session:
        if principal.role is Role.ACCOUNT_MANAGER:
            rows = list_tasks(
                session,
                today=today,
                assignee=principal.staff_id,
                include_escalated_to=principal.staff_id,
                overdue_only=bool(overdue),
            )
        else:
            branches = None if principal.scope.all_branches else sorted(principal.scope.branch_ids)
            rows = list_tasks(session, today=today, branch_ids=branches, overdue_only=bool(overdue))
    by_level = {lvl: [r for r in rows if r.level == lvl] for lvl in LEVEL_COLOURS}
    return render(
        request,
        "alarm_tasks.html",
        user,
        by_level=by_level,
        today=today,
        overdue=bool(overdue),
        dot=level_dot,
        names=LEVEL_NAMES,
        zh=language(request) == "zh",
        count=len(rows),
    )


def _warning_context(request: Request, user: Any, warning_id: int) -> dict[str, Any]:
    with services_of(request).sessions() as session:
        if not visible_warning(user.principal, session.get(AlarmWarning, warning_id)):
            raise HTTPException(404, detail=f"warning {warning_id} is not among yours")
        detail = get_warning(session, warning_id, _today(request))
    assert detail is not None
    return {
        "detail": detail,
        "dot": level_dot,
        "names": LEVEL_NAMES,
        "disposals": [(d.value, DISPOSAL_ZH[d]) for d in Disposal],
        "zh": language(request) == "zh",
        "today": _today(request),
        "error": "",
    }


@router.get("/alarm/warnings/{warning_id}")
def warning_page(request: Request, warning_id: int, user: CurrentPageUser) -> HTMLResponse:
    context = _warning_context(request, user, warning_id)
    return render(request, "alarm_warning.html", user, **context)


@router.post("/alarm/tasks/{task_id}/dispose")
async def dispose_form(request: Request, task_id: int, user: CurrentPageUser) -> Any:
    form = await check_csrf(request, user)
    principal = user.principal
    if principal.role not in DISPOSING_ROLES:
        raise HTTPException(403, detail=f"role {principal.role.value} may not dispose tasks")
    sessions = services_of(request).sessions
    with sessions() as session:
        task = session.get(AlarmTask, task_id)
        if not visible_task(principal, task):
            raise HTTPException(404, detail=f"task {task_id} is not among yours")
        assert task is not None
        warning_id = task.warning_id
    try:
        verified_on = date.fromisoformat(form.get("verified_on", ""))
    except ValueError:
        verified_on = date.today()
    try:
        with sessions.begin() as session:
            TaskDesk(load_policy()).dispose(
                session,
                task_id,
                actor=principal.staff_id,
                actor_role=principal.role.value,
                action=form.get("action", ""),
                verification=form.get("verification", ""),
                site_visit=form.get("site_visit") == "1",
                verified_on=verified_on,
                may_dispose_any=principal.role is not Role.ACCOUNT_MANAGER,
            )
    except TaskError as error:
        context = _warning_context(request, user, warning_id)
        context["error"] = str(error)
        return render(request, "alarm_warning.html", user, status_code=409, **context)
    return RedirectResponse(f"/alarm/warnings/{warning_id}", status_code=303)


@router.get("/alarm")
def overview(request: Request, user: CurrentPageUser, level: str = "") -> HTMLResponse:
    principal = user.principal
    if principal.role not in (Role.RISK_OFFICER, Role.ADMIN, Role.BRANCH_MANAGER, Role.AUDITOR):
        raise HTTPException(403, detail=f"role {principal.role.value} may not see all warnings")
    branches = None if principal.scope.all_branches else sorted(principal.scope.branch_ids)
    with services_of(request).sessions() as session:
        per_branch = warnings_by_branch(session, branches)
        rows = list_warnings(session, level=level or None, branch_ids=branches, limit=100)
    learned = _learning(request)
    report = learned["learning"] or {}
    chart = lead_time_svg(report.get("lead_times", [])[:15], title="lead time")
    graph = combination_graph_svg(report.get("combinations", [])[:20])
    totals = {lvl: sum(r[lvl] for r in per_branch) for lvl in LEVEL_COLOURS}
    return render(
        request,
        "alarm.html",
        user,
        per_branch=per_branch,
        rows=rows,
        totals=totals,
        level=level,
        chart=chart,
        graph=graph,
        evaluation=learned["evaluation"],
        dot=level_dot,
        names=LEVEL_NAMES,
        pd_months=load_policy().pd_horizon_months,
        zh=language(request) == "zh",
    )
