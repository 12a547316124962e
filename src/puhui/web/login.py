"""登录 / 退出 / 语言: the login form, sign-out, the language switch and the home redirect."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from puhui.actions.access import AuthenticationError, LoginRefusedError
from puhui.data.store.access_tables import SessionKind
from puhui.web.i18n import LANG_COOKIE, LANGUAGES, translator
from puhui.web.nav import home_path
from puhui.web.pages import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentPageUser,
    check_csrf,
    language,
    render,
    safe_next,
    services_of,
)

router = APIRouter(include_in_schema=False)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(
    request: Request, next_path: str, error: str = "", status_code: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=token,
        next_path=safe_next(next_path),
        error=error,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=3600,
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _login_page(request, next)


@router.post("/login", response_model=None)
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    t = translator(language(request))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf):
        return _login_page(request, next, t("session_expired"), status_code=403)
    client = request.client.host if request.client else None
    try:
        opened = services_of(request).access.login(
            username, password, kind=SessionKind.PAGE, client=client
        )
    except LoginRefusedError as error:
        response = _login_page(request, next, str(error), status_code=429)
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response
    except AuthenticationError:
        return _login_page(request, next, t("login_failed"), status_code=401)
    target = safe_next(next)
    if target == "/":
        target = home_path(opened.principal)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, user: CurrentPageUser) -> RedirectResponse:
    await check_csrf(request, user)
    services_of(request).access.logout(user.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/") -> RedirectResponse:
    if code not in LANGUAGES:
        raise HTTPException(404, detail=f"unknown language {code!r}; use one of {LANGUAGES}")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, code, samesite="strict", max_age=365 * 24 * 3600)
    return response


@router.get("/")
def home(user: CurrentPageUser) -> RedirectResponse:
    return RedirectResponse(home_path(user.principal), status_code=303)


@router.get("/me")
def me(request: Request, user: CurrentPageUser) -> HTMLResponse:
    return render(request, "me.html", user)
