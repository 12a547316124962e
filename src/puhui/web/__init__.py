"""工作台 · The workbench: server-rendered pages (Jinja2, inline SVG charts, local CSS, no CDN).

Each capability owns a page module with its ``router`` and its navigation entries
(:func:`puhui.web.nav.register_nav`); ``PAGE_MODULES`` lists them. Later capabilities (warnings
and tasks, marketing lists, origination) add their module here.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from puhui.web.pages import LoginRequired, render

PAGE_MODULES = (
    "login",
    "firms",
    "portfolio",
    "registry",
    "audit",
    "applications",
    "sentinel",
    "marketing",
    "alarm",
)
STATIC_DIR = Path(__file__).parent / "static"
_API_PREFIXES = ("/api/", "/openapi.json", "/static/", "/docs")


def install_workbench(app: FastAPI) -> None:
    """Mount the static files, the page routers and the HTML error pages on ``app``."""
    app.mount("/static/web", StaticFiles(directory=STATIC_DIR), name="web-static")
    for name in PAGE_MODULES:
        app.include_router(import_module(f"puhui.web.{name}").router)

    @app.exception_handler(LoginRequired)
    async def _to_login(_request: Request, exc: LoginRequired) -> Response:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='')}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _html_errors(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(_API_PREFIXES):
            return await http_exception_handler(request, exc)
        response = render(
            request,
            "error.html",
            None,
            status_code=exc.status_code,
            status=exc.status_code,
            detail=exc.detail,
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response
