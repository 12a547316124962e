"""客户 · My firms and the enterprise 360 profile page (radar, trends, related parties).

Every page is scoped: an account or branch manager opening another branch's firm gets the same
404 as for a firm that does not exist. Each profile view and each unmask is audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from puhui.actions.access import Role
from puhui.actions.access.pii import (
    UnmaskedContact,
    UnmaskRefusedError,
    record_view,
    unmask_contact,
)
from puhui.actions.access.scope import (
    FirmNotVisibleError,
    RoleNotAllowedError,
    check_firm_visible,
    list_firms,
)
from puhui.api.profile import get_profile_service
from puhui.data.store.alarm_tables import AlarmWarning
from puhui.features.profile_schema import EnterpriseProfile
from puhui.features.profile_service import (
    MalformedUsccError,
    NoSnapshotError,
    UnknownEnterpriseError,
    check_uscc,
)
from puhui.web.charts import line_svg, network_svg, radar_svg, two_hop_svg
from puhui.web.nav import NavItem, register_nav
from puhui.web.pages import CurrentPageUser, PageUser, check_csrf, render, services_of
from puhui.web.related_graph import RelatedGraph, read_links, two_hop_graph

router = APIRouter(include_in_schema=False)
WARNING_HISTORY = 20

register_nav(
    NavItem(
        "firms",
        "/firms",
        "我的客户",
        "My firms",
        frozenset({Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER, Role.RISK_OFFICER, Role.ADMIN}),
        order=10,
        capability="profile",
    )
)
FIRM_ROLES = (
    Role.ACCOUNT_MANAGER,
    Role.BRANCH_MANAGER,
    Role.RISK_OFFICER,
    Role.ADMIN,
    Role.AUDITOR,
)


@router.get("/firms")
def firms(request: Request, user: CurrentPageUser, q: str = "", mine: int = 1) -> HTMLResponse:
    principal = user.principal
    if principal.role not in FIRM_ROLES:
        raise HTTPException(403, detail=f"role {principal.role.value} may not list firms")
    mine_only = bool(mine) and principal.role is Role.ACCOUNT_MANAGER
    with services_of(request).sessions() as session:
        rows = list_firms(session, principal, mine_only=mine_only, search=q[:100])
    return render(request, "firms.html", user, rows=rows, q=q[:100], mine_only=mine_only)


def _visible(request: Request, user: PageUser, uscc: str) -> str:
    try:
        code = check_uscc(uscc)
    except MalformedUsccError as error:
        raise HTTPException(404, detail=str(error)) from None
    with services_of(request).sessions() as session:
        try:
            check_firm_visible(session, user.principal, code)
        except RoleNotAllowedError as error:
            raise HTTPException(403, detail=str(error)) from None
        except FirmNotVisibleError as error:
            raise HTTPException(404, detail=str(error)) from None
    return code


def _profile_context(request: Request, uscc: str, lang: str) -> dict[str, Any]:
    service = get_profile_service(request, request.app.state.settings)
    try:
        profile: EnterpriseProfile = service.profile(uscc)
    except (UnknownEnterpriseError, NoSnapshotError) as error:
        return {"profile": None, "problem": str(error), "uscc": uscc}
    zh = lang == "zh"
    radar = radar_svg(
        [s.zh if zh else s.en for s in profile.subscores],
        [s.score for s in profile.subscores],
        title="sub-scores",
    )
    trends = [
        {
            "label": k.zh if zh else k.en,
            "metric": k,
            "svg": line_svg([(m.month, m.value) for m in k.series], title=k.en, unit=k.unit),
        }
        for k in profile.key_features
    ]
    return {
        "profile": profile,
        "radar": radar,
        "trends": trends,
        "network": _network(profile, zh),
        "two_hop": (two_hop := _two_hop(request, profile, zh)),
        "two_hop_svg": two_hop_svg(two_hop, title="two-hop related parties"),
        "uscc": uscc,
        "problem": "",
    }


def _network(profile: EnterpriseProfile, zh: bool) -> Any:
    """The related parties as a star around the firm (names already masked for persons)."""
    parties = profile.related_parties
    nodes: list[tuple[str, str, str]] = []
    if parties.legal_representative:
        nodes.append((parties.legal_representative.name, "person", "法定代表人" if zh else "rep"))
    for holder in parties.shareholders[:6]:
        share = f"{holder.share_ratio:.0%}" if holder.share_ratio is not None else ""
        nodes.append(
            (holder.name or holder.holder_id, "shareholder", f"{'股东' if zh else ''}{share}")
        )
    for firm in parties.firms_sharing_legal_rep[:5]:
        nodes.append((firm.name, "firm", "同一法人" if zh else "same rep"))
    for core in parties.core_enterprises[:3]:
        nodes.append((core.name, "core", "核心企业" if zh else "core firm"))
    for customer in parties.top_customers[:3]:
        nodes.append((customer.name or customer.uscc, "customer", "下游" if zh else "customer"))
    for supplier in parties.top_suppliers[:3]:
        nodes.append((supplier.name or supplier.uscc, "supplier", "上游" if zh else "supplier"))
    return network_svg(profile.registration.name, nodes, title="related parties")


def _two_hop(request: Request, profile: EnterpriseProfile, zh: bool) -> RelatedGraph:
    """Firm → legal representative, shareholders, shared phone and address → other firms."""
    links, firm_names, person_names = read_links(
        services_of(request).lake, profile.uscc, profile.as_of
    )
    return two_hop_graph(
        profile.uscc,
        profile.registration.name,
        links,
        firm_names=firm_names,
        person_names=person_names,
        zh=zh,
    )


@router.get("/firms/{uscc}")
def firm(request: Request, uscc: str, user: CurrentPageUser) -> HTMLResponse:
    code = _visible(request, user, uscc)
    with services_of(request).sessions.begin() as session:
        record_view(
            session, user.principal, subject_type="enterprise", subject_id=code, channel="web"
        )
    context = _profile_context(request, code, request.cookies.get("puhui_lang", "zh"))
    return render(
        request,
        "firm.html",
        user,
        unmasked=None,
        unmask_error="",
        warnings=_warning_history(request, code),
        **context,
    )


def _warning_history(request: Request, uscc: str) -> list[AlarmWarning]:
    """预警历史: the firm's post-loan warnings, newest first (the page is already scoped)."""
    with services_of(request).sessions() as session:
        return list(
            session.scalars(
                select(AlarmWarning)
                .where(AlarmWarning.uscc == uscc)
                .order_by(AlarmWarning.opened_on.desc(), AlarmWarning.id.desc())
                .limit(WARNING_HISTORY)
            )
        )


@router.post("/firms/{uscc}/unmask")
async def unmask(request: Request, uscc: str, user: CurrentPageUser) -> HTMLResponse:
    form = await check_csrf(request, user)
    code = _visible(request, user, uscc)
    services = services_of(request)
    unmasked: UnmaskedContact | None = None
    error = ""
    try:
        with services.sessions.begin() as session:
            unmasked = unmask_contact(
                services.lake, session, user.principal, code, form.get("reason", "")
            )
    except UnmaskRefusedError as refused:
        error = str(refused)
    context = _profile_context(request, code, request.cookies.get("puhui_lang", "zh"))
    return render(
        request,
        "firm.html",
        user,
        status_code=200 if unmasked else 422,
        unmasked=unmasked,
        unmask_error=error,
        warnings=_warning_history(request, code),
        **context,
    )
