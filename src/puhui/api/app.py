"""Build the FastAPI application from settings read once at the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import Depends, FastAPI
from fastapi.telemetry import TelemetryConfig

from puhui import __version__
from puhui.actions.access import AccessPolicy
from puhui.actions.access.passwords import Passwords
from puhui.api import alarm, auth, marketing, origination, pii, profile, sentinel
from puhui.api.dependencies import current_principal
from puhui.api.docs import install_docs
from puhui.api.security import SecurityHeaders
from puhui.api.services import AppServices
from puhui.data.store.tables import utc_now
from puhui.observability import health
from puhui.observability.middleware import ObservabilityMiddleware
from puhui.settings import Settings

# Metrics come from ``ObservabilityMiddleware`` (Prometheus); FastAPI's own OpenTelemetry hooks
# would only ask, on every request, whether a provider was configured (none is).
NO_NATIVE_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


def create_app(
    settings: Settings,
    *,
    policy: AccessPolicy | None = None,
    passwords: Passwords | None = None,
    clock: Callable[[], datetime] = utc_now,
    web: bool = True,
) -> FastAPI:
    """The puhui API and workbench: each domain contributes its router; settings are handed in.

    ``policy``, ``passwords`` and ``clock`` are for tests (short sessions, cheap hashing).
    """
    services = AppServices(settings, policy=policy, passwords=passwords, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    app = FastAPI(
        title="普惠 puhui API",
        version=__version__,
        description="SME lending platform: enterprise profiles, and later origination and "
        "alarms. Every operation needs a bearer token from POST /api/v1/auth/token.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        telemetry=NO_NATIVE_TELEMETRY,
    )
    app.state.settings = settings
    app.state.services = services
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ObservabilityMiddleware)  # outermost: sees every final status
    install_docs(app)
    # Staff and channel integrations alike need a token (channels get service accounts).
    app.include_router(
        origination.router, prefix="/api/v1", dependencies=[Depends(current_principal)]
    )
    app.include_router(health.router)  # /healthz, /readyz, /metrics
    app.include_router(auth.router, prefix="/api/v1")
    app.include_router(profile.router, prefix="/api/v1")
    app.include_router(pii.router, prefix="/api/v1")
    app.include_router(marketing.router, prefix="/api/v1")
    app.include_router(sentinel.router, prefix="/api/v1")
    app.include_router(alarm.router, prefix="/api/v1")
    if web:
        from puhui.web import install_workbench

        install_workbench(app)
    return app
