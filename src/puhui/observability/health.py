"""Liveness, readiness and metrics endpoints (健康检查) for load balancers and Prometheus.

- ``GET /healthz``: the process answers (liveness); it touches nothing else, so a slow
  database never gets a healthy worker restarted.
- ``GET /readyz``: the store answers ``SELECT 1`` at the current schema revision and the lake
  folder is readable; 503 with the failing check named otherwise, so the load balancer stops
  sending traffic to a worker that cannot serve it.
- ``GET /metrics``: Prometheus text format. Serve it to the monitoring network only (the load
  balancer should not route it from outside).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from puhui.errors import PuhuiError
from puhui.observability.metrics import exposition

router = APIRouter(tags=["operations"], include_in_schema=False)


@dataclass(frozen=True)
class CheckResult:
    """One readiness check: its name, whether it passed and, if not, why."""

    name: str
    ok: bool = True
    detail: str = "ok"


def check_store(sessions_factory: Callable[[], object]) -> CheckResult:
    """The store answers a query (building the engine also checks the schema revision)."""
    try:
        sessions = sessions_factory()
        with sessions() as session:  # type: ignore[operator]
            session.execute(text("SELECT 1"))
    except PuhuiError as error:
        return CheckResult("store", False, str(error)[:300])
    except Exception as error:  # any failure means not ready, and says why
        reason = str(getattr(error, "orig", None) or error).splitlines()
        return CheckResult("store", False, (reason[0] if reason else type(error).__name__)[:300])
    return CheckResult("store")


def check_lake(lake_dir: Path) -> CheckResult:
    """The lake folder exists and this process may read it (a shared mount can go away)."""
    if not lake_dir.is_dir():
        return CheckResult("lake", False, f"lake folder {lake_dir} does not exist")
    if not os.access(lake_dir, os.R_OK | os.X_OK):
        return CheckResult("lake", False, f"lake folder {lake_dir} is not readable")
    try:
        next(iter(lake_dir.iterdir()), None)
    except OSError as error:
        return CheckResult("lake", False, f"lake folder {lake_dir}: {error.strerror}")
    return CheckResult("lake")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Readiness: the store and the lake are usable."""
    services = request.app.state.services
    checks = [
        check_store(lambda: services.sessions),
        check_lake(Path(services.settings.lake_dir)),
    ]
    ready = all(check.ok for check in checks)
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics in text format."""
    payload, content_type = exposition()
    return Response(content=payload, media_type=content_type)
