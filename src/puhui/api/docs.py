"""``/docs``: the OpenAPI document in Swagger UI, every file served by this server.

FastAPI's default page loads Swagger UI from a CDN, which a bank intranet cannot reach. The
Swagger UI files come from the ``fastapi-offline`` package (they ship inside the wheel); the
page's start-up script is our own file, so the strict Content-Security-Policy still holds.
Without the package, ``/docs`` explains where the raw document is.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from puhui.api.security import DOCS_CSP

SWAGGER_PREFIX = "/static/swagger"


def swagger_ui_dir() -> Path | None:
    """The folder holding ``swagger-ui-bundle.js`` and ``swagger-ui.css``, if installed."""
    spec = find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def install_docs(app: FastAPI) -> None:
    folder = swagger_ui_dir()
    if folder is not None:
        app.mount(SWAGGER_PREFIX, StaticFiles(directory=folder), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if folder is None:
            body = (
                "<!doctype html><meta charset=utf-8><title>puhui API</title>"
                "<p>Swagger UI is not installed (pip install fastapi-offline). "
                'The OpenAPI document is at <a href="/openapi.json">/openapi.json</a>.</p>'
            )
        else:
            body = f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{app.title} · OpenAPI</title>
<link rel="stylesheet" href="{SWAGGER_PREFIX}/swagger-ui.css">
<link rel="icon" href="{SWAGGER_PREFIX}/favicon.png"></head>
<body><div id="swagger-ui"></div>
<script src="{SWAGGER_PREFIX}/swagger-ui-bundle.js"></script>
<script src="/static/web/docs.js"></script></body></html>"""
        return HTMLResponse(body, headers={"Content-Security-Policy": DOCS_CSP})
