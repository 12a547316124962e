"""营销名单 · the marketing pages: an account manager's list with outcome recording, and the
branch / risk view of list size and expected value by outlet. Scoped like the API: a manager
sees their own prospects, a branch manager their branches', risk and admin the whole bank."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from puhui.actions.access import Role
from puhui.actions.marketing.outcomes import AssignmentNotFoundError, OutcomeNotAllowedError
from puhui.actions.marketing.runs import UnknownRunError
from puhui.api.marketing import get_marketing
from puhui.decisions.marketing.outcomes import OutcomeOrderError
from puhui.web.nav import NavItem, register_nav
from puhui.web.pages import CurrentPageUser, check_csrf, render, services_of

router = APIRouter(include_in_schema=False)

PAGE_ROLES = frozenset({Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER, Role.RISK_OFFICER, Role.ADMIN})
register_nav(
    NavItem(
        "marketing",
        "/marketing",
        "营销名单",
        "Marketing",
        PAGE_ROLES,
        order=30,
        capability="marketing",
    )
)
OUTCOMES = ("contacted", "not_interested", "applied", "approved", "disbursed")


@router.get("/marketing")
def marketing_page(
    request: Request, user: CurrentPageUser, run: str | None = None, message: str = ""
) -> HTMLResponse:
    principal = user.principal
    if principal.role not in PAGE_ROLES:
        raise HTTPException(403, detail=f"role {principal.role.value} may not open marketing lists")
    service = get_marketing(request, services_of(request))
    try:
        current = service.run(run)
    except UnknownRunError as error:
        return render(
            request,
            "marketing.html",
            user,
            run=None,
            problem=str(error),
            rows=[],
            branches=[],
            outcomes=OUTCOMES,
            message=message[:200],
        )
    rows = service.my_list(principal, current.run_id)
    branches = (
        []
        if principal.role is Role.ACCOUNT_MANAGER
        else service.branch_figures(current.run_id, principal)
    )
    return render(
        request,
        "marketing.html",
        user,
        run=current,
        problem="",
        rows=rows[:500],
        branches=branches,
        outcomes=OUTCOMES,
        message=message[:200],
    )


@router.post("/marketing/outcome")
async def record(request: Request, user: CurrentPageUser) -> Response:
    form = await check_csrf(request, user)
    run_id, uscc, outcome = form.get("run_id", ""), form.get("uscc", ""), form.get("outcome", "")
    service = get_marketing(request, services_of(request))
    try:
        service.record_outcome(user.principal, run_id, uscc, outcome)
    except OutcomeNotAllowedError as error:
        raise HTTPException(403, detail=str(error)) from None
    except (AssignmentNotFoundError, UnknownRunError) as error:
        raise HTTPException(404, detail=str(error)) from None
    except OutcomeOrderError as error:
        return RedirectResponse(
            f"/marketing?run={quote(run_id)}&message={quote(str(error))}", status_code=303
        )
    return RedirectResponse(
        f"/marketing?run={quote(run_id)}&message={quote(f'{uscc}: {outcome}')}", status_code=303
    )
