"""What every page shares: the signed-in user from the session cookie, CSRF, rendering.

Pages use server-side sessions in an HttpOnly, SameSite=Strict cookie; every form carries the
session's CSRF token, checked in constant time. The login form, before any session, uses a
double-submit cookie instead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from puhui.actions.access import Principal, Role
from puhui.api.services import AppServices
from puhui.data.store.access_tables import SessionKind
from puhui.web.i18n import LANG_COOKIE, normalise, translator
from puhui.web.nav import nav_for

SESSION_COOKIE = "puhui_session"
LOGIN_CSRF_COOKIE = "puhui_login_csrf"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


class LoginRequired(Exception):
    """No live page session: send the browser to the login page, then back to ``next``."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


@dataclass(frozen=True)
class PageUser:
    principal: Principal
    csrf: str
    token: str


def services_of(request: Request) -> AppServices:
    return request.app.state.services


def language(request: Request) -> str:
    return normalise(request.cookies.get(LANG_COOKIE))


def safe_next(path: str | None) -> str:
    """Only local paths: never an open redirect to another site."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def page_user(request: Request) -> PageUser:
    token = request.cookies.get(SESSION_COOKIE, "")
    found = services_of(request).access.resolve(token, SessionKind.PAGE) if token else None
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    principal, csrf = found
    return PageUser(principal, csrf, token)


CurrentPageUser = Annotated[PageUser, Depends(page_user)]


def require_page_roles(user: PageUser, *roles: Role) -> None:
    if user.principal.role not in roles:
        raise HTTPException(403, detail=f"role {user.principal.role.value} may not open this page")


async def check_csrf(request: Request, user: PageUser) -> dict[str, str]:
    """The submitted form, after checking its CSRF token against the session's (403 if not)."""
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not secrets.compare_digest(sent, user.csrf):
        raise HTTPException(
            403, detail="the form's CSRF token is missing or wrong; reload the page"
        )
    return {k: v for k, v in form.items() if isinstance(v, str)}


def render(
    request: Request,
    template: str,
    user: PageUser | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = language(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    base = {
        "t": translator(lang),
        "lang": lang,
        "user": user.principal if user else None,
        "csrf": user.csrf if user else "",
        "nav": nav_for(user.principal) if user else [],
        "here": request.url.path,
        "here_quoted": quote(here, safe=""),
    }
    return TEMPLATES.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )
