"""企业立体画像 · ``GET /api/v1/enterprises/{uscc}/profile``: the same JSON as
``puhui profile --json`` (the schema is :class:`puhui.features.profile_schema.EnterpriseProfile`).

Personal data is always masked; the API offers no way to unmask it.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from puhui.api.dependencies import SettingsDep
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
        404: {"description": "unknown firm, or no feature snapshot for the date"},
        422: {"description": "malformed USCC (check character) or date"},
    },
)
def enterprise_profile(
    uscc: str,
    service: ProfileServiceDep,
    as_of: Annotated[
        date | None, Query(description="时点 YYYY-MM-DD; default the latest snapshot")
    ] = None,
) -> EnterpriseProfile:
    try:
        return service.profile(uscc, as_of)
    except MalformedUsccError as error:
        raise HTTPException(422, detail=str(error)) from None
    except (UnknownEnterpriseError, NoSnapshotError) as error:
        raise HTTPException(404, detail=str(error)) from None
