"""哨兵 · the risk officer's strategy and threshold page: the strategy set by group and the
what-if replay of changed thresholds or switched-off strategies, before anything is deployed."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from puhui.actions.access import Role
from puhui.actions.sentinel.service import feature_schema, what_if
from puhui.api.sentinel import sentinel_service
from puhui.decisions.sentinel.spec import GROUPS, StrategyError, Thresholds
from puhui.web.nav import NavItem, register_nav
from puhui.web.pages import CurrentPageUser, render

router = APIRouter(include_in_schema=False)
SENTINEL_ROLES = frozenset({Role.RISK_OFFICER, Role.MODEL_DEVELOPER, Role.ADMIN})
register_nav(
    NavItem(
        "sentinel",
        "/sentinel",
        "反欺诈哨兵",
        "Sentinel",
        SENTINEL_ROLES,
        order=22,
        capability="sentinel",
    )
)


@router.get("/sentinel")
def sentinel_page(
    request: Request,
    user: CurrentPageUser,
    refer_points: float | None = None,
    reject_points: float | None = None,
    disable: str = "",
) -> HTMLResponse:
    if user.principal.role not in SENTINEL_ROLES:
        raise HTTPException(
            403, detail=f"role {user.principal.role.value} may not manage strategies"
        )
    service = sentinel_service(request.app)
    current = service.strategies
    disabled = [s.strip() for s in disable.split(",") if s.strip()][:50]
    result = error = None
    if refer_points is not None or reject_points is not None or disabled:
        try:
            candidate = current.with_changes(
                thresholds=Thresholds(
                    refer_points if refer_points is not None else current.thresholds.refer_points,
                    reject_points
                    if reject_points is not None
                    else current.thresholds.reject_points,
                ),
                disabled=disabled,
                schema=feature_schema(),
            )
            result = what_if(service, candidate)
        except StrategyError as failure:
            error = str(failure)
    groups = {g: [s for s in current.strategies if s.group == g] for g in GROUPS}
    return render(
        request,
        "sentinel.html",
        user,
        strategies=current,
        groups=groups,
        group_names=GROUPS,
        result=result,
        changed=list(result.changed.head(50).iter_rows(named=True)) if result else [],
        error=error,
        disable=",".join(disabled),
        refer_points=refer_points,
        reject_points=reject_points,
    )
