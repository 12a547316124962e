"""进件与人工审批 · Applications and the manual-review queue.

Account and branch managers see the applications booked in their branches; risk officers and
administrators see the bank's. A referred application waits in the review queue until a risk
officer (or the branch manager) approves or declines it with a note; the signed-in staff member
is the reviewer on record, and the step goes through the same state machine and audit trail as
the API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from puhui.actions.access import Principal, Role
from puhui.data.store.origination_tables import (
    ApplicationState,
    ApplicationTransition,
    LoanApplication,
    ManualReview,
    ReviewResolution,
)
from puhui.errors import PuhuiError
from puhui.web.nav import NavItem, register_nav
from puhui.web.pages import CurrentPageUser, check_csrf, render, services_of

router = APIRouter(include_in_schema=False)
APPLICATION_ROLES = frozenset(
    {Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER, Role.RISK_OFFICER, Role.ADMIN, Role.AUDITOR}
)
REVIEW_ROLES = frozenset({Role.RISK_OFFICER, Role.BRANCH_MANAGER, Role.ADMIN})
register_nav(
    NavItem("applications", "/applications", "进件", "Applications", APPLICATION_ROLES,
            order=20, capability="origination")
)  # fmt: skip
register_nav(
    NavItem("reviews", "/reviews", "人工审批", "Manual review", REVIEW_ROLES, order=25,
            capability="origination")
)  # fmt: skip
PAGE_SIZE = 200


def _require(principal: Principal, roles: frozenset[Role], what: str) -> None:
    if principal.role not in roles:
        raise HTTPException(403, detail=f"role {principal.role.value} may not {what}")


def _scoped(query: Any, principal: Principal) -> Any:
    if principal.scope.all_branches:
        return query
    return query.where(LoanApplication.branch_id.in_(sorted(principal.scope.branch_ids)))


@router.get("/applications")
def applications(request: Request, user: CurrentPageUser, state: str = "") -> HTMLResponse:
    _require(user.principal, APPLICATION_ROLES, "see applications")
    states = [s.value for s in ApplicationState]
    chosen = state if state in states else ""
    query = _scoped(select(LoanApplication), user.principal)
    if chosen:
        query = query.where(LoanApplication.state == chosen)
    with services_of(request).sessions() as session:
        rows = list(
            session.scalars(query.order_by(LoanApplication.created_at.desc()).limit(PAGE_SIZE))
        )
    return render(request, "applications.html", user, rows=rows, states=states, chosen=chosen)


def _visible_application(request: Request, principal: Principal, application_id: str) -> Any:
    with services_of(request).sessions() as session:
        row = session.get(LoanApplication, application_id[:36])
        if row is None or not principal.scope.allows_branch(row.branch_id):
            raise HTTPException(404, detail=f"no application {application_id[:36]}")
        transitions = list(
            session.scalars(
                select(ApplicationTransition)
                .where(ApplicationTransition.application_id == row.application_id)
                .order_by(ApplicationTransition.seq)
            )
        )
        review = session.scalar(
            select(ManualReview).where(ManualReview.application_id == row.application_id)
        )
    return row, transitions, review


@router.get("/applications/{application_id}")
def application(request: Request, user: CurrentPageUser, application_id: str) -> HTMLResponse:
    _require(user.principal, APPLICATION_ROLES, "see applications")
    row, transitions, review = _visible_application(request, user.principal, application_id)
    return render(
        request,
        "application.html",
        user,
        app=row,
        transitions=transitions,
        review=review,
        may_review=user.principal.role in REVIEW_ROLES,
        error=request.query_params.get("error", "")[:300],
    )


@router.get("/reviews")
def reviews(request: Request, user: CurrentPageUser) -> HTMLResponse:
    _require(user.principal, REVIEW_ROLES, "resolve manual reviews")
    query = select(ManualReview).where(ManualReview.resolved_at.is_(None))
    if not user.principal.scope.all_branches:
        query = query.where(ManualReview.branch_id.in_(sorted(user.principal.scope.branch_ids)))
    with services_of(request).sessions() as session:
        items = list(session.scalars(query.order_by(ManualReview.queued_at).limit(PAGE_SIZE)))
    return render(request, "reviews.html", user, items=items)


@router.post("/applications/{application_id}/review")
async def resolve(request: Request, user: CurrentPageUser, application_id: str) -> Any:
    _require(user.principal, REVIEW_ROLES, "resolve manual reviews")
    form = await check_csrf(request, user)
    row, _, _ = _visible_application(request, user.principal, application_id)
    try:
        resolution = ReviewResolution(form.get("resolution", ""))
    except ValueError:
        raise HTTPException(422, detail="resolution: approve or decline") from None
    note = form.get("note", "").strip()[:300]
    if not note:
        raise HTTPException(422, detail="note: a review needs the reviewer's note")
    from puhui.api.origination import runtime

    path = f"/applications/{row.application_id}"
    try:
        runtime(request.app).origination.review(
            row.application_id,
            resolution,
            user.principal.staff_id,
            note,
            actor_role=user.principal.role.value,
        )
    except PuhuiError as error:
        from urllib.parse import quote

        return RedirectResponse(f"{path}?error={quote(str(error)[:300])}", status_code=303)
    return RedirectResponse(path, status_code=303)
