"""Security headers on every response (安全响应头): no outside sources, no framing, no sniffing.

The Content-Security-Policy allows only this server's own scripts, styles, fonts and images
(and ``data:`` images for the inline charts of the validation reports). A route that needs a
looser policy (the Swagger UI's inline styles, a self-contained report) sets its own
``Content-Security-Policy`` header, which is kept.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets inline styles; scripts stay our own files.
DOCS_CSP = STRICT_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
# Validation reports: self-contained HTML with an inline stylesheet and base64 images, no script.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_HEADERS = {
    b"x-frame-options": b"DENY",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"cross-origin-resource-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=(), payment=()",
}


class SecurityHeaders:
    """ASGI middleware adding the headers above; responses outside ``/static`` are not cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = dict(_HEADERS)
                extra[b"content-security-policy"] = STRICT_CSP.encode()
                if not static:
                    extra[b"cache-control"] = b"no-store"
                if https:
                    extra[b"strict-transport-security"] = b"max-age=31536000"
                headers += [(k, v) for k, v in extra.items() if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
