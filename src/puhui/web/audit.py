"""审计 · The auditor's pages: audit-chain and consent-log verification, the bureau-query log
and the data-access/audit log. Opening them is itself written to the audit log."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from puhui.actions.access import Role
from puhui.actions.access.pii import record_view
from puhui.actions.consent.keyfile import consent_key_file
from puhui.actions.consent.service import ConsentService
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.consent_tables import BureauQuery
from puhui.data.store.tables import AuditEvent
from puhui.web.nav import NavItem, register_nav
from puhui.web.pages import CurrentPageUser, render, services_of

router = APIRouter(include_in_schema=False)
AUDIT_ROLES = frozenset({Role.AUDITOR, Role.ADMIN})
register_nav(NavItem("audit", "/audit", "审计", "Audit", AUDIT_ROLES, order=3, capability="audit"))
SHOWN = 200


@router.get("/audit")
def audit(request: Request, user: CurrentPageUser, action: str = "") -> HTMLResponse:
    if user.principal.role not in AUDIT_ROLES:
        raise HTTPException(403, detail=f"role {user.principal.role.value} may not see the audit")
    services = services_of(request)
    action = action.strip()[:64]
    with services.sessions.begin() as session:
        record_view(
            session, user.principal, subject_type="audit_log", subject_id="all", channel="web"
        )
    with services.sessions() as session:
        chain = verify_audit_chain(session)
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(SHOWN)
        if action:
            query = query.where(AuditEvent.action.startswith(action, autoescape=True))
        events = list(session.scalars(query))
        queries = list(
            session.scalars(select(BureauQuery).order_by(BureauQuery.id.desc()).limit(SHOWN))
        )
        actions = sorted(set(session.scalars(select(AuditEvent.action).distinct())))
    keys = consent_key_file(services.settings.data_dir)
    consent = None
    if keys.exists():
        consent = ConsentService(services.sessions, keys.keyring(), clock=services.clock).verify()
    return render(
        request,
        "audit.html",
        user,
        chain=chain,
        consent=consent,
        events=events,
        queries=queries,
        actions=actions,
        action=action,
    )
