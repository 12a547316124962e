"""What every API domain shares, declared once as ``Annotated`` aliases.

``CurrentUser`` is the principal behind the bearer token; ``VisibleUscc`` is a path USCC the
principal may see (malformed: 422; unknown or another branch's: 404, told apart by nobody).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.access import AccessService, Principal, Role
from puhui.actions.access.scope import FirmNotVisibleError, RoleNotAllowedError, check_firm_visible
from puhui.api.services import AppServices
from puhui.features.profile_service import MalformedUsccError, check_uscc
from puhui.settings import Settings


class BearerToken(HTTPBearer):
    """The bearer scheme as OpenAPI documents it, answering the token text (or None): the
    stock class builds a pydantic credentials object, a validation on every request."""

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return token


bearer = BearerToken(
    scheme_name="HTTPBearer",
    auto_error=False,
    description="POST /api/v1/auth/token with a username and password gives the token.",
)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_services(request: Request) -> AppServices:
    return request.app.state.services


async def get_store(
    services: Annotated[AppServices, Depends(get_services)],
) -> sessionmaker[Session]:
    return services.sessions


async def get_access(services: Annotated[AppServices, Depends(get_services)]) -> AccessService:
    return services.access


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServicesDep = Annotated[AppServices, Depends(get_services)]
StoreDep = Annotated[sessionmaker[Session], Depends(get_store)]
AccessDep = Annotated[AccessService, Depends(get_access)]


async def current_principal(
    request: Request,
    token: Annotated[str | None, Depends(bearer)],
) -> Principal:
    """The principal of a live API token, or 401. A token this worker checked within
    ``AccessPolicy.api_recheck`` is taken on the event loop; otherwise the store is read in
    the thread pool (it blocks), once for all concurrent requests with the token.

    Every API request solves this, so it reads the services from the app state itself rather
    than through ``AccessDep``: each dependency node costs FastAPI work on every request."""
    services: AppServices = request.app.state.services
    if token is None:
        raise HTTPException(
            401,
            detail="authentication required: send Authorization: Bearer <token> "
            "(POST /api/v1/auth/token)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    access = services.access
    found = access.recently_checked(token)
    if found is None:
        found = await services.token_checks.resolve(access, token)
    if found is None:
        raise HTTPException(
            401,
            detail="the bearer token is unknown, expired or revoked; request a new one",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return found[0]


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only ``roles`` (403 naming the role otherwise)."""

    def dependency(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(
                403, detail=f"role {principal.role.value} may not do this; allowed: {allowed}"
            )
        return principal

    return dependency


def visible_uscc(uscc: str, principal: CurrentUser, store: StoreDep) -> str:
    """The path's USCC, checked (422) and within the principal's branches (404 otherwise)."""
    try:
        code = check_uscc(uscc)
    except MalformedUsccError as error:
        raise HTTPException(422, detail=str(error)) from None
    with store() as session:
        try:
            check_firm_visible(session, principal, code)
        except RoleNotAllowedError as error:
            raise HTTPException(403, detail=str(error)) from None
        except FirmNotVisibleError as error:
            raise HTTPException(404, detail=str(error)) from None
    return code


VisibleUscc = Annotated[str, Depends(visible_uscc)]
