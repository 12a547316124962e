"""精准营销 · the marketing API (``/api/v1/marketing``), scoped by role and branch.

- ``GET  /marketing/runs``: recent list runs (risk, admin, model developer, branch manager).
- ``POST /marketing/runs``: build the lists as of a date (risk officer, admin).
- ``POST /marketing/runs/{run_id}/allocation``: allocate to account managers (risk, admin).
- ``GET  /marketing/runs/{run_id}/branches``: list size and expected value per outlet (a
  branch manager sees their branches only).
- ``GET  /marketing/my-list``: the caller's prospects (account manager: their own; branch
  manager: their branches'), best first, with product, indicative limit and rate.
- ``POST /marketing/runs/{run_id}/outcomes``: record an outcome for an assigned prospect.
- ``GET  /marketing/runs/{run_id}/feedback``: conversion by decile, gains, lift.
- ``GET  /marketing/runs/{run_id}/export/{staff_id}.{csv|xlsx}``: one manager's list file.

Unknown runs and prospects outside the caller's list are 404; a role that may not do
something is 403; an outcome out of order is 409.
"""

from __future__ import annotations

import tempfile
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from puhui.actions.access import Principal, Role
from puhui.actions.marketing.outcomes import AssignmentNotFoundError, OutcomeNotAllowedError
from puhui.actions.marketing.runs import UnknownRunError
from puhui.actions.marketing.service import MarketingService
from puhui.api.dependencies import CurrentUser, ServicesDep, require_roles
from puhui.decisions.marketing.outcomes import OutcomeOrderError
from puhui.errors import PuhuiError

router = APIRouter(prefix="/marketing", tags=["marketing 精准营销"])
_lock = threading.Lock()

BUILDERS = (Role.RISK_OFFICER, Role.ADMIN)
READERS = (Role.RISK_OFFICER, Role.ADMIN, Role.MODEL_DEVELOPER, Role.BRANCH_MANAGER, Role.AUDITOR)
LIST_HOLDERS = (Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER, Role.ADMIN)


def get_marketing(request: Request, services: ServicesDep) -> MarketingService:
    """One marketing service per app (configuration and catalogs loaded once)."""
    with _lock:
        service = getattr(request.app.state, "marketing", None)
        if service is None:
            settings = services.settings
            service = MarketingService(
                services.sessions,
                settings.data_dir,
                settings.lake_dir,
                clock=services.clock,
                joint_model_weight=settings.joint_model_weight,
            )
            request.app.state.marketing = service
    return service


MarketingDep = Annotated[MarketingService, Depends(get_marketing)]


class RunOut(BaseModel):
    run_id: str
    as_of: date
    status: str
    universe: int
    prospects: int
    first_loan: int
    excluded: int
    listed: int
    total_value: str
    model_versions: dict[str, str]
    summary: dict[str, Any] = Field(default_factory=dict)


class BuildIn(BaseModel):
    as_of: date


class AllocationOut(BaseModel):
    run_id: str
    placed: int
    unplaced: int
    total_value: float
    upper_bound: float


class BranchOut(BaseModel):
    branch_id: str
    name: str
    listed: int
    assigned: int
    expected_value: float
    contacted: int
    converted: int


class OutcomeIn(BaseModel):
    uscc: str = Field(min_length=18, max_length=18)
    outcome: Literal["contacted", "not_interested", "applied", "approved", "disbursed"]
    amount: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    note: str | None = Field(default=None, max_length=500)


class OutcomeOut(BaseModel):
    run_id: str
    uscc: str
    outcome: str
    status: str


def _run_out(run: Any, detail: bool = False) -> RunOut:
    return RunOut(
        run_id=run.run_id,
        as_of=run.as_of,
        status=run.status,
        universe=run.universe,
        prospects=run.prospects,
        first_loan=run.first_loan,
        excluded=run.excluded,
        listed=run.listed,
        total_value=str(run.total_value),
        model_versions=dict(run.model_versions),
        summary=dict(run.summary) if detail else {},
    )


def _not_found(error: PuhuiError) -> HTTPException:
    return HTTPException(404, detail=str(error))


@router.get("/runs", response_model=list[RunOut], summary="名单批次 · recent runs")
def list_runs(
    service: MarketingDep, _: Annotated[Principal, Depends(require_roles(*READERS))]
) -> list[RunOut]:
    return [_run_out(run) for run in service.list_runs()]


@router.post("/runs", response_model=RunOut, status_code=201, summary="生成名单 · build lists")
def build_run(
    body: BuildIn,
    service: MarketingDep,
    principal: Annotated[Principal, Depends(require_roles(*BUILDERS))],
) -> RunOut:
    try:
        built = service.build(body.as_of, actor=principal.username, actor_role=principal.role.value)
    except PuhuiError as error:
        raise HTTPException(422, detail=str(error)) from None
    return _run_out(service.run(built.run_id), detail=True)


@router.get("/runs/{run_id}", response_model=RunOut, summary="名单批次 · one run")
def get_run(
    run_id: str,
    service: MarketingDep,
    _: Annotated[Principal, Depends(require_roles(*READERS))],
) -> RunOut:
    try:
        return _run_out(service.run(run_id), detail=True)
    except UnknownRunError as error:
        raise _not_found(error) from None


@router.post(
    "/runs/{run_id}/allocation", response_model=AllocationOut, summary="分配 · allocate a run"
)
def allocate_run(
    run_id: str,
    service: MarketingDep,
    principal: Annotated[Principal, Depends(require_roles(*BUILDERS))],
) -> AllocationOut:
    try:
        run, result = service.allocate(
            run_id, actor=principal.username, actor_role=principal.role.value
        )
    except UnknownRunError as error:
        raise _not_found(error) from None
    except PuhuiError as error:
        raise HTTPException(409, detail=str(error)) from None
    return AllocationOut(
        run_id=run,
        placed=len(result.placements),
        unplaced=len(result.unplaced),
        total_value=result.total_value,
        upper_bound=result.upper_bound,
    )


@router.get(
    "/runs/{run_id}/branches", response_model=list[BranchOut], summary="分支行名单 · by outlet"
)
def branches(
    run_id: str,
    service: MarketingDep,
    principal: Annotated[Principal, Depends(require_roles(*READERS))],
) -> list[BranchOut]:
    try:
        figures = service.branch_figures(run_id, principal)
    except UnknownRunError as error:
        raise _not_found(error) from None
    return [BranchOut(**f.__dict__) for f in figures]


@router.get("/my-list", summary="我的营销名单 · the caller's prospects")
def my_list(
    service: MarketingDep,
    principal: Annotated[Principal, Depends(require_roles(*LIST_HOLDERS))],
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    try:
        return service.my_list(principal, run_id)
    except UnknownRunError as error:
        raise _not_found(error) from None


@router.post(
    "/runs/{run_id}/outcomes",
    response_model=OutcomeOut,
    status_code=201,
    summary="登记营销结果 · record an outcome",
)
def record_outcome(
    run_id: str, body: OutcomeIn, service: MarketingDep, principal: CurrentUser
) -> OutcomeOut:
    try:
        recorded = service.record_outcome(
            principal, run_id, body.uscc, body.outcome, amount=body.amount, note=body.note
        )
    except OutcomeNotAllowedError as error:
        raise HTTPException(403, detail=str(error)) from None
    except (AssignmentNotFoundError, UnknownRunError) as error:
        raise _not_found(error) from None
    except OutcomeOrderError as error:
        raise HTTPException(409, detail=str(error)) from None
    return OutcomeOut(
        run_id=recorded.run_id, uscc=recorded.uscc, outcome=recorded.outcome, status=recorded.status
    )


@router.get("/runs/{run_id}/feedback", summary="营销反馈 · conversion by decile, gains, lift")
def feedback(
    run_id: str,
    service: MarketingDep,
    _: Annotated[Principal, Depends(require_roles(*READERS))],
) -> dict[str, Any]:
    try:
        return service.feedback(run_id).as_dict()
    except UnknownRunError as error:
        raise _not_found(error) from None


@router.get(
    "/runs/{run_id}/export/{staff_id}.{kind}",
    summary="导出名单 · one manager's list as CSV or Excel",
    response_class=FileResponse,
)
def export_list(
    run_id: str,
    staff_id: str,
    kind: Literal["csv", "xlsx"],
    service: MarketingDep,
    principal: CurrentUser,
) -> FileResponse:
    if principal.role not in (*READERS, Role.ACCOUNT_MANAGER):
        raise HTTPException(403, detail=f"role {principal.role.value} may not export lists")
    mine = staff_id == principal.staff_id
    if principal.role is Role.ACCOUNT_MANAGER and not mine:
        raise HTTPException(404, detail=f"no list of {staff_id} among yours")
    if not principal.scope.all_branches and not principal.scope.allows_branch(
        service.staff_branch(staff_id)
    ):
        raise HTTPException(404, detail=f"no list of {staff_id} in your branches")
    folder = Path(tempfile.mkdtemp(prefix="puhui-marketing-"))
    try:
        written = service.export(
            run_id,
            folder,
            staff_id=staff_id,
            actor=principal.username,
            actor_role=principal.role.value,
        )
    except UnknownRunError as error:
        raise _not_found(error) from None
    if not written:
        raise HTTPException(404, detail=f"run {run_id} has no prospects assigned to {staff_id}")
    item = written[0]
    path = item.csv_path if kind == "csv" else item.xlsx_path
    media = (
        "text/csv; charset=utf-8"
        if kind == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return FileResponse(path, media_type=media, filename=f"{run_id}-{staff_id}.{kind}")
