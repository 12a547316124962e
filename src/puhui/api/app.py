"""Build the FastAPI application from settings read once at the edge."""

from __future__ import annotations

from fastapi import FastAPI

from puhui import __version__
from puhui.api import profile
from puhui.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """The puhui API: each domain contributes its router; settings are handed in, never read."""
    app = FastAPI(
        title="普惠 puhui API",
        version=__version__,
        description="SME lending platform: enterprise profiles, and later origination and alarms.",
    )
    app.state.settings = settings
    app.include_router(profile.router, prefix="/api/v1")
    return app
