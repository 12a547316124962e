"""登录 · API tokens: ``POST /api/v1/auth/token``, ``POST /api/v1/auth/logout``, ``GET /api/v1/me``.

The same rules as the workbench's login form: argon2id passwords, lock-out after repeated wrong
passwords, a per-client rate limit (429 with ``Retry-After``), every outcome audited.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from puhui.actions.access import AuthenticationError, LoginRefusedError
from puhui.api.dependencies import AccessDep, CurrentUser, bearer
from puhui.data.store.access_tables import SessionKind

router = APIRouter(tags=["auth 登录"])


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64, description="用户名")
    password: str = Field(min_length=1, max_length=256, description="密码")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    username: str
    role: str
    branch_id: str


class Me(BaseModel):
    username: str
    staff_id: str
    name: str
    role: str
    branch_id: str
    branch_name: str
    all_branches: bool
    branch_ids: list[str]


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="登录 · exchange a username and password for a bearer token",
    responses={
        401: {"description": "wrong username or password"},
        429: {"description": "account locked or too many attempts from this client"},
    },
)
def issue_token(body: TokenRequest, request: Request, access: AccessDep) -> TokenResponse:
    client = request.client.host if request.client else None
    try:
        opened = access.login(body.username, body.password, kind=SessionKind.API, client=client)
    except LoginRefusedError as error:
        raise HTTPException(
            429, detail=str(error), headers={"Retry-After": str(error.retry_after_seconds)}
        ) from None
    except AuthenticationError as error:
        raise HTTPException(401, detail=str(error)) from None
    return TokenResponse(
        access_token=opened.token,
        expires_at=opened.expires_at,
        username=opened.principal.username,
        role=opened.principal.role.value,
        branch_id=opened.principal.branch_id,
    )


@router.post(
    "/auth/logout",
    status_code=204,
    summary="退出 · revoke this bearer token",
    responses={401: {"description": "no valid bearer token"}},
)
def revoke_token(request: Request, principal: CurrentUser, access: AccessDep) -> Response:
    header = request.headers.get("authorization", "")
    access.logout(header.partition(" ")[2].strip())
    return Response(status_code=204)


@router.get(
    "/me",
    response_model=Me,
    summary="当前用户 · who the token belongs to and which branches it sees",
    responses={401: {"description": "no valid bearer token"}},
)
def me(principal: CurrentUser) -> Me:
    return Me(
        username=principal.username,
        staff_id=principal.staff_id,
        name=principal.name,
        role=principal.role.value,
        branch_id=principal.branch_id,
        branch_name=principal.branch_name,
        all_branches=principal.scope.all_branches,
        branch_ids=sorted(principal.scope.branch_ids),
    )


__all__ = ["bearer", "router"]
