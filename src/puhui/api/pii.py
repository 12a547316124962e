"""个人信息查看 · ``POST /api/v1/enterprises/{uscc}/unmask``: a firm's legal representative in
full, for a stated reason, written to the audit log (``pii.unmask``) every time."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from puhui.actions.access.pii import UnmaskRefusedError, check_reason, unmask_contact
from puhui.api.dependencies import CurrentUser, ServicesDep, VisibleUscc

router = APIRouter(tags=["personal data 个人信息"])


class UnmaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=4, max_length=200, description="查看理由 · why you need it")


class UnmaskedContactOut(BaseModel):
    uscc: str
    legal_rep_name: str
    legal_rep_id_number: str
    legal_rep_phone: str | None
    contact_phone: str | None


@router.post(
    "/enterprises/{uscc}/unmask",
    response_model=UnmaskedContactOut,
    summary="查看完整个人信息 · unmask the legal representative (audited)",
    responses={
        401: {"description": "no valid bearer token"},
        403: {"description": "the role may not open enterprises"},
        404: {"description": "unknown firm or a firm of another branch"},
        422: {"description": "malformed USCC, or no reason given"},
    },
)
def unmask(
    uscc: VisibleUscc, body: UnmaskRequest, principal: CurrentUser, services: ServicesDep
) -> UnmaskedContactOut:
    try:
        reason = check_reason(body.reason)
    except UnmaskRefusedError as error:
        raise HTTPException(422, detail=str(error)) from None
    with services.sessions.begin() as session:
        try:
            contact = unmask_contact(services.lake, session, principal, uscc, reason)
        except UnmaskRefusedError as error:
            raise HTTPException(404, detail=str(error)) from None
    return UnmaskedContactOut(**contact.__dict__)
