"""Read models of warnings and tasks (预警与任务查询) for the CLI, the API and the workbench."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from puhui.data.store.alarm_tables import (
    AlarmDisposal,
    AlarmLevelChange,
    AlarmTask,
    AlarmWarning,
    TaskStatus,
    WarningStatus,
)

_SEVERITY = case({"red": 0, "orange": 1, "yellow": 2, "blue": 3}, value=AlarmWarning.level, else_=4)
_TASK_SEVERITY = case(
    {"red": 0, "orange": 1, "yellow": 2, "blue": 3}, value=AlarmTask.level, else_=4
)


class EvidenceItem(BaseModel):
    signal: str
    zh: str
    en: str
    value: float
    threshold: float
    date: date
    source: str
    grade: str
    veto: bool


class WarningRow(BaseModel):
    id: int
    uscc: str
    level: str
    status: str
    score: float
    veto: bool
    pd_3m: float | None
    pd_6m: float | None
    pd_12m: float | None
    opened_on: date
    updated_on: date
    branch_id: str | None
    account_manager_id: str | None
    evidence: list[EvidenceItem]
    missing_sources: list[str]


class LevelChangeRow(BaseModel):
    scan_date: date
    action: str
    from_level: str | None
    to_level: str | None
    reason: str


class DisposalRow(BaseModel):
    action: str
    verified_on: date
    site_visit: bool
    verification: str
    recorded_by: str


class TaskRow(BaseModel):
    id: int
    warning_id: int
    uscc: str
    level: str
    scan_date: date
    due_on: date
    overdue: bool
    status: str
    assignee_id: str | None
    branch_id: str | None
    escalated_to: str | None
    disposal: DisposalRow | None = None


class WarningDetail(BaseModel):
    warning: WarningRow
    history: list[LevelChangeRow]
    tasks: list[TaskRow]


def level_pd(row: WarningRow, months: int) -> float | None:
    """The EW-PD the level reads (``policy.pd_horizon_months``): what lists show beside the
    level, so a manager sees the PD that set it."""
    return {3: row.pd_3m, 6: row.pd_6m, 12: row.pd_12m}[months]


def warning_row(w: AlarmWarning) -> WarningRow:
    return WarningRow(
        id=w.id,
        uscc=w.uscc,
        level=w.level,
        status=w.status,
        score=w.score,
        veto=w.veto,
        pd_3m=w.pd_3m,
        pd_6m=w.pd_6m,
        pd_12m=w.pd_12m,
        opened_on=w.opened_on,
        updated_on=w.updated_on,
        branch_id=w.branch_id,
        account_manager_id=w.account_manager_id,
        evidence=[EvidenceItem(**e) for e in w.evidence],
        missing_sources=list(w.missing_sources),
    )


def task_row(t: AlarmTask, today: date, disposal: AlarmDisposal | None = None) -> TaskRow:
    return TaskRow(
        id=t.id,
        warning_id=t.warning_id,
        uscc=t.uscc,
        level=t.level,
        scan_date=t.scan_date,
        due_on=t.due_on,
        overdue=t.status == TaskStatus.OPEN.value and t.due_on < today,
        status=t.status,
        assignee_id=t.assignee_id,
        branch_id=t.branch_id,
        escalated_to=t.escalated_to,
        disposal=None
        if disposal is None
        else DisposalRow(
            action=disposal.action,
            verified_on=disposal.verified_on,
            site_visit=disposal.site_visit,
            verification=disposal.verification,
            recorded_by=disposal.recorded_by,
        ),
    )


def list_warnings(
    session: Session,
    *,
    level: str | None = None,
    branch_ids: Sequence[str] | None = None,
    manager: str | None = None,
    limit: int = 100,
) -> list[WarningRow]:
    query = select(AlarmWarning).where(AlarmWarning.status == WarningStatus.OPEN.value)
    if level:
        query = query.where(AlarmWarning.level == level)
    if branch_ids is not None:
        query = query.where(AlarmWarning.branch_id.in_(list(branch_ids)))
    if manager:
        query = query.where(AlarmWarning.account_manager_id == manager)
    query = query.order_by(_SEVERITY, AlarmWarning.score.desc(), AlarmWarning.id).limit(limit)
    return [warning_row(w) for w in session.scalars(query)]


def warnings_by_branch(session: Session, branch_ids: Sequence[str] | None) -> list[dict[str, Any]]:
    """Open warnings per branch and level (the risk officer's view)."""
    query = select(AlarmWarning.branch_id, AlarmWarning.level).where(
        AlarmWarning.status == WarningStatus.OPEN.value
    )
    if branch_ids is not None:
        query = query.where(AlarmWarning.branch_id.in_(list(branch_ids)))
    counts: dict[str, dict[str, int]] = {}
    for branch, level in session.execute(query):
        row = counts.setdefault(branch or "-", {"red": 0, "orange": 0, "yellow": 0, "blue": 0})
        row[level] += 1
    return [{"branch_id": b, **c} for b, c in sorted(counts.items())]


def get_warning(session: Session, warning_id: int, today: date) -> WarningDetail | None:
    warning = session.get(AlarmWarning, warning_id)
    if warning is None:
        return None
    history = session.scalars(
        select(AlarmLevelChange)
        .where(AlarmLevelChange.warning_id == warning_id)
        .order_by(AlarmLevelChange.scan_date)
    )
    tasks = session.execute(
        select(AlarmTask, AlarmDisposal)
        .outerjoin(AlarmDisposal, AlarmDisposal.task_id == AlarmTask.id)
        .where(AlarmTask.warning_id == warning_id)
        .order_by(AlarmTask.scan_date)
    ).all()
    return WarningDetail(
        warning=warning_row(warning),
        history=[
            LevelChangeRow(
                scan_date=h.scan_date,
                action=h.action,
                from_level=h.from_level,
                to_level=h.to_level,
                reason=h.reason,
            )
            for h in history
        ],
        tasks=[task_row(t, today, d) for t, d in tasks],
    )


def list_tasks(
    session: Session,
    *,
    today: date,
    assignee: str | None = None,
    branch_ids: Sequence[str] | None = None,
    overdue_only: bool = False,
    include_escalated_to: str | None = None,
    limit: int = 200,
) -> list[TaskRow]:
    """Open tasks, most severe and most urgent first."""
    query = select(AlarmTask).where(AlarmTask.status == TaskStatus.OPEN.value)
    if assignee and include_escalated_to:
        query = query.where(
            (AlarmTask.assignee_id == assignee) | (AlarmTask.escalated_to == include_escalated_to)
        )
    elif assignee:
        query = query.where(AlarmTask.assignee_id == assignee)
    if branch_ids is not None:
        query = query.where(AlarmTask.branch_id.in_(list(branch_ids)))
    if overdue_only:
        query = query.where(AlarmTask.due_on < today)
    query = query.order_by(_TASK_SEVERITY, AlarmTask.due_on, AlarmTask.id).limit(limit)
    return [task_row(t, today) for t in session.scalars(query)]
