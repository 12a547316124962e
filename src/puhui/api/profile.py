"""企业立体画像 · ``GET /api/v1/enterprises/{uscc}/profile``: the same JSON as
``puhui profile --json`` (the schema is :class:`puhui.features.profile_schema.EnterpriseProfile`).

Needs a bearer token; account and branch managers see only their branches' firms (others are
404, exactly like unknown firms). Every profile served is written to the data-access log.
Personal data is always masked here; unmasking is a separate, audited operation.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from puhui.actions.access.pii import record_view
from puhui.api.dependencies import CurrentUser, SettingsDep, StoreDep, VisibleUscc
from puhui.data.lake import Lake
from puhui.features.profile_schema import EnterpriseProfile
from puhui.features.profile_service import (
    MalformedUsccError,
    NoSnapshotError,
    ProfileService,
    UnknownEnterpriseError,
)

router = APIRouter(tags=["profile 企业画像"])
_lock = threading.Lock()


def get_profile_service(request: Request, settings: SettingsDep) -> ProfileService:
    """One service per app, so the population's percentiles are computed once per snapshot."""
    with _lock:
        service = getattr(request.app.state, "profile_service", None)
        if service is None:
            service = ProfileService(Lake(settings.lake_dir), settings.data_dir / "features")
            request.app.state.profile_service = service
    return service


ProfileServiceDep = Annotated[ProfileService, Depends(get_profile_service)]


@router.get(
    "/enterprises/{uscc}/profile",
    response_model=EnterpriseProfile,
    summary="企业立体画像 · 360 profile of one firm",
    responses={
        401: {"description": "no valid bearer token"},
        403: {"description": "the role may not open enterprises"},
        404: {"description": "unknown firm, a firm of another branch, or no snapshot for the date"},
        422: {"description": "malformed USCC (check character) or date"},
    },
)
def enterprise_profile(
    uscc: VisibleUscc,
    principal: CurrentUser,
    store: StoreDep,
    service: ProfileServiceDep,
    as_of: Annotated[
        date | None, Query(description="时点 YYYY-MM-DD; default the latest snapshot")
    ] = None,
) -> EnterpriseProfile:
    try:
        profile = service.profile(uscc, as_of)
    except MalformedUsccError as error:
        raise HTTPException(422, detail=str(error)) from None
    except (UnknownEnterpriseError, NoSnapshotError) as error:
        raise HTTPException(404, detail=str(error)) from None
    with store.begin() as session:
        record_view(session, principal, subject_type="enterprise", subject_id=uscc, channel="api")
    return profile
