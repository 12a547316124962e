"""贷后预警 · warnings and tasks API: my tasks, a warning with its evidence, disposal.

Scoped like the rest of the API: an account manager sees the warnings of the firms they manage
and their own tasks (and tasks escalated to them); a branch manager those of their branches;
a risk officer or administrator the whole bank. A warning or task outside the scope is 404,
exactly like one that does not exist. Every disposal goes to the audit log.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from puhui.actions.access import Principal, Role
from puhui.actions.alarm.queries import (
    TaskRow,
    WarningDetail,
    WarningRow,
    get_warning,
    list_tasks,
    list_warnings,
    task_row,
    warnings_by_branch,
)
from puhui.actions.alarm.tasks import TaskDesk, TaskError
from puhui.api.dependencies import CurrentUser, StoreDep
from puhui.data.store.alarm_tables import AlarmDisposal, AlarmTask, AlarmWarning, Disposal
from puhui.decisions.alarm.policy import load_policy

RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="row id (a positive 64-bit integer)")]
"""Ids beyond a 64-bit integer are refused as 422, never handed to the database."""

router = APIRouter(tags=["alarm 贷后预警"])
ALARM_ROLES = frozenset(
    {Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER, Role.RISK_OFFICER, Role.ADMIN, Role.AUDITOR}
)
DISPOSING_ROLES = frozenset({Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER, Role.RISK_OFFICER})
Level = Literal["red", "orange", "yellow", "blue"]


class DisposalRequest(BaseModel):
    """The account manager's offline verification (线下核查) and disposal (处置)."""

    action: Disposal
    verification: str = Field(min_length=10, max_length=1000)
    site_visit: bool = False
    verified_on: date


class BranchLevels(BaseModel):
    branch_id: str
    red: int
    orange: int
    yellow: int
    blue: int


def _allowed(principal: Principal) -> None:
    if principal.role not in ALARM_ROLES:
        raise HTTPException(403, detail=f"role {principal.role.value} may not open warnings")


def _branches(principal: Principal) -> list[str] | None:
    return None if principal.scope.all_branches else sorted(principal.scope.branch_ids)


def visible_warning(principal: Principal, warning: AlarmWarning | None) -> bool:
    if warning is None:
        return False
    if principal.role is Role.ACCOUNT_MANAGER:
        return warning.account_manager_id == principal.staff_id
    return principal.scope.allows_branch(warning.branch_id)


def visible_task(principal: Principal, task: AlarmTask | None) -> bool:
    if task is None:
        return False
    if principal.role in (Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER) and principal.staff_id in {
        task.assignee_id,
        task.escalated_to,
    }:
        return True
    if principal.role is Role.ACCOUNT_MANAGER:
        return False
    return principal.scope.allows_branch(task.branch_id)


@router.get("/alarm/tasks", response_model=list[TaskRow], summary="预警任务 · my open tasks")
def my_tasks(
    principal: CurrentUser,
    store: StoreDep,
    overdue: bool = False,
    today: Annotated[date | None, Query(description="today; default the server date")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TaskRow]:
    """An account manager's own tasks (and escalated ones), a branch manager's branches',
    the whole bank for a risk officer; most severe and most urgent first."""
    _allowed(principal)
    day = today or date.today()
    with store() as session:
        if principal.role is Role.ACCOUNT_MANAGER:
            return list_tasks(
                session,
                today=day,
                assignee=principal.staff_id,
                include_escalated_to=principal.staff_id,
                overdue_only=overdue,
                limit=limit,
            )
        return list_tasks(
            session, today=day, branch_ids=_branches(principal), overdue_only=overdue, limit=limit
        )


@router.get("/alarm/warnings", response_model=list[WarningRow], summary="预警清单 · open warnings")
def warnings(
    principal: CurrentUser,
    store: StoreDep,
    level: Level | None = None,
    branch: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[WarningRow]:
    _allowed(principal)
    branches = _branches(principal)
    if branch is not None:
        if branches is not None and branch not in branches:
            return []
        branches = [branch]
    manager = principal.staff_id if principal.role is Role.ACCOUNT_MANAGER else None
    with store() as session:
        return list_warnings(
            session, level=level, branch_ids=branches, manager=manager, limit=limit
        )


@router.get(
    "/alarm/summary",
    response_model=list[BranchLevels],
    summary="预警分布 · open warnings by branch and level",
)
def summary(principal: CurrentUser, store: StoreDep) -> list[BranchLevels]:
    _allowed(principal)
    with store() as session:
        return [BranchLevels(**row) for row in warnings_by_branch(session, _branches(principal))]


@router.get(
    "/alarm/warnings/{warning_id}",
    response_model=WarningDetail,
    summary="预警详情 · a warning with its evidence, level history and tasks",
    responses={404: {"description": "unknown warning, or outside your scope"}},
)
def warning(
    warning_id: RowId,
    principal: CurrentUser,
    store: StoreDep,
    today: date | None = None,
) -> WarningDetail:
    _allowed(principal)
    with store() as session:
        if not visible_warning(principal, session.get(AlarmWarning, warning_id)):
            raise HTTPException(404, detail=f"warning {warning_id} is not among yours")
        detail = get_warning(session, warning_id, today or date.today())
    assert detail is not None
    return detail


@router.post(
    "/alarm/tasks/{task_id}/disposal",
    response_model=TaskRow,
    summary="处置 · record the offline verification and the disposal of a task",
    responses={
        404: {"description": "unknown task, or outside your scope"},
        409: {"description": "the task is not open (already disposed or superseded)"},
    },
)
def dispose(
    task_id: RowId, body: DisposalRequest, principal: CurrentUser, store: StoreDep
) -> TaskRow:
    if principal.role not in DISPOSING_ROLES:
        raise HTTPException(403, detail=f"role {principal.role.value} may not dispose tasks")
    desk = TaskDesk(load_policy())
    with store.begin() as session:
        task = session.get(AlarmTask, task_id)
        if not visible_task(principal, task):
            raise HTTPException(404, detail=f"task {task_id} is not among yours")
        assert task is not None
        try:
            disposal: AlarmDisposal = desk.dispose(
                session,
                task_id,
                actor=principal.staff_id,
                actor_role=principal.role.value,
                action=body.action.value,
                verification=body.verification,
                site_visit=body.site_visit,
                verified_on=body.verified_on,
                may_dispose_any=principal.role is not Role.ACCOUNT_MANAGER,
            )
        except TaskError as error:
            raise HTTPException(409, detail=str(error)) from None
        return task_row(task, body.verified_on, disposal)
