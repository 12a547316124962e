"""哨兵 API · staff routes of the anti-fraud sentinel (risk officers and model developers).

- ``GET  /api/v1/sentinel/strategies``: the strategy set (id, group, action, expression, reason);
- ``GET  /api/v1/sentinel/replay?refer_points=&reject_points=&disable=``: what-if over history;
- ``POST /api/v1/sentinel/screen/{uscc}``: screen a firm now (not recorded), with reasons.

The service is built once per app on first use (index, replay, models) and kept in
``app.state.sentinel``; every call is audited.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request

from puhui.actions.access.roles import Role
from puhui.actions.sentinel.service import SentinelService, feature_schema, what_if
from puhui.api.dependencies import StoreDep, require_roles
from puhui.data.store.audit import append_audit
from puhui.decisions.screening import ScreeningRequest
from puhui.decisions.sentinel.spec import StrategyError, Thresholds
from puhui.errors import PuhuiError

router = APIRouter(prefix="/sentinel", tags=["sentinel 反欺诈哨兵"])
_lock = threading.Lock()
Officer = Annotated[
    Any, Depends(require_roles(Role.RISK_OFFICER, Role.MODEL_DEVELOPER, Role.ADMIN))
]


def sentinel_service(app: FastAPI) -> SentinelService:
    existing = getattr(app.state, "sentinel", None)
    if existing is not None:
        return existing
    with _lock:
        if getattr(app.state, "sentinel", None) is None:
            # Share origination's sentinel when it is already built (one index per process).
            built = getattr(getattr(app.state, "origination", None), "decisions", None)
            if isinstance(getattr(built, "sentinel", None), SentinelService):
                app.state.sentinel = built.sentinel  # type: ignore[union-attr]
            else:
                settings = app.state.settings
                app.state.sentinel = SentinelService.from_lake(settings.lake_dir)
    return app.state.sentinel


def get_sentinel(request: Request) -> SentinelService:
    try:
        return sentinel_service(request.app)
    except PuhuiError as error:
        raise HTTPException(503, detail=f"sentinel is not ready: {error}") from error


SentinelDep = Annotated[SentinelService, Depends(get_sentinel)]


def _audit(store: StoreDep, principal: Any, action: str, detail: dict[str, Any]) -> None:
    with store() as session, session.begin():
        append_audit(
            session,
            actor=principal.username,
            actor_role=principal.role.value,
            action=action,
            subject_type="sentinel",
            subject_id=str(detail.get("uscc", "strategies")),
            detail=detail,
        )


@router.get("/strategies")
def strategies(principal: Officer, service: SentinelDep) -> dict[str, Any]:
    chosen = service.strategies
    return {
        "version": chosen.version,
        "thresholds": chosen.thresholds.__dict__,
        "strategies": [
            {
                "id": s.id,
                "group": s.group,
                "zh": s.zh,
                "en": s.en,
                "when": s.when,
                "severity": s.severity,
                "action": s.action.value,
                "points": s.points,
                "reason": s.reason,
                "enabled": s.enabled,
            }
            for s in chosen.strategies
        ],
    }


@router.get("/replay")
def replay(
    principal: Officer,
    service: SentinelDep,
    store: StoreDep,
    refer_points: float | None = None,
    reject_points: float | None = None,
    disable: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    t = service.strategies.thresholds
    try:
        candidate = service.strategies.with_changes(
            thresholds=Thresholds(
                refer_points if refer_points is not None else t.refer_points,
                reject_points if reject_points is not None else t.reject_points,
            ),
            disabled=disable or (),
            schema=feature_schema(),
        )
    except StrategyError as error:
        raise HTTPException(422, detail=str(error)) from error
    result = what_if(service, candidate)
    _audit(
        store,
        principal,
        "sentinel.replay",
        {"refer_points": refer_points, "reject_points": reject_points, "disable": disable or []},
    )
    return {
        "base": result.base.__dict__ | {"pass_rate": result.base.pass_rate},
        "candidate": result.candidate.__dict__ | {"pass_rate": result.candidate.pass_rate},
        "changed": [
            {**row, "applied_at": row["applied_at"].isoformat()}
            for row in result.changed.head(200).iter_rows(named=True)
        ],
        "changed_count": result.changed.height,
    }


@router.post("/screen/{uscc}")
def screen(uscc: str, principal: Officer, service: SentinelDep, store: StoreDep) -> dict[str, Any]:
    if uscc not in service.index.firms:
        raise HTTPException(404, detail=f"enterprise {uscc} is not in the sentinel's index")
    result = service.screen_request(ScreeningRequest("api", uscc, "branch"), record=False)
    _audit(
        store, principal, "sentinel.screen", {"uscc": uscc, "verdict": result.outcome.verdict.value}
    )
    return {
        "uscc": uscc,
        "verdict": result.outcome.verdict.value,
        "points": result.outcome.points,
        "reasons": list(result.outcome.reasons()),
        "blacklist": [h.explain() for h in result.blacklist_hits],
        "strategy_version": result.strategy_version,
        "elapsed_ms": round(result.elapsed_ms, 3),
    }
