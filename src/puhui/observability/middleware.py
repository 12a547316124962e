"""ASGI middleware: a request id for every request, and its latency and outcome as metrics.

The id is taken from ``X-Request-ID`` when a load balancer set a safe one, else generated; it
is put in the work context (so log lines carry it) and echoed in the response. Metrics are
labelled by the route template (``/api/v1/enterprises/{uscc}/profile``), never the raw path,
so a USCC never becomes a label and the number of series stays fixed.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from puhui.observability.context import clean_work_id, work_context
from puhui.observability.metrics import HTTP_ERRORS, HTTP_LATENCY, HTTP_REQUESTS

REQUEST_ID_HEADER = b"x-request-id"
UNMATCHED_ROUTE = "unmatched"
_log = logging.getLogger("puhui.api.access")


def route_template(scope: Scope) -> str:
    """The matched route's full path template, or ``unmatched`` (404s, static files).

    FastAPI routes included with a prefix record the full template in the route context it
    puts in the scope; the route object itself knows only its own part.
    """
    fastapi_scope = scope.get("fastapi")
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    route = scope.get("route")
    for candidate in (context, route):
        path = getattr(candidate, "path_format", None) or getattr(candidate, "path", None)
        if isinstance(path, str):
            return path
    root = scope.get("root_path", "")
    mounted = scope.get("app_root_path")
    if isinstance(mounted, str) and mounted and mounted != root:
        return f"{mounted}/*"
    return UNMATCHED_ROUTE


@functools.lru_cache(maxsize=4096)
def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled request counter and latency histogram of one route and outcome, looked up
    once: ``labels()`` validates and locks on every call, a cost paid on every request. Routes
    are templates, so the number of keys is bounded (the cache is bounded anyway)."""
    requests = HTTP_REQUESTS.labels(method=method, route=route, status=str(status))
    return requests, HTTP_LATENCY.labels(method=method, route=route)


class ObservabilityMiddleware:
    """Request id in context and response; request count, errors and latency per route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(REQUEST_ID_HEADER, b"")
        request_id = clean_work_id(incoming.decode("latin-1")) if incoming else None
        status = 500
        started = time.perf_counter()
        with work_context(request_id) as work_id:

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    headers = list(message.get("headers", []))
                    headers.append((REQUEST_ID_HEADER, work_id.encode("latin-1")))
                    message["headers"] = headers
                await send(message)

            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                status = 500
                raise
            finally:
                self._record(scope, status, time.perf_counter() - started)

    @staticmethod
    def _record(scope: Scope, status: int, seconds: float) -> None:
        method = scope.get("method", "GET")
        route = route_template(scope)
        requests, latency = _series(method, route, status)
        requests.inc()
        latency.observe(seconds)
        if status >= 500:
            HTTP_ERRORS.labels(method=method, route=route).inc()
        _log.info(
            "%s %s %s",
            method,
            route,
            status,
            extra={"status": status, "duration_ms": round(seconds * 1000, 2)},
        )
