"""模型登记册 · Model registry list and the validation reports (for model developers and risk).

A report is the self-contained HTML of ``puhui model report``; if it was never written, it is
rendered on first request and kept under ``<data_dir>/reports/models/``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from puhui.actions.access import Role
from puhui.api.security import REPORT_CSP
from puhui.errors import PuhuiError
from puhui.models.registry import ModelRegistry, check_model_name
from puhui.web.nav import NavItem, register_nav
from puhui.web.pages import CurrentPageUser, PageUser, render, services_of

router = APIRouter(include_in_schema=False)
MODEL_ROLES = frozenset({Role.MODEL_DEVELOPER, Role.RISK_OFFICER, Role.ADMIN, Role.AUDITOR})
register_nav(
    NavItem("models", "/models", "模型登记册", "Model registry", MODEL_ROLES, order=20,
            capability="models")
)  # fmt: skip


def _registry(request: Request) -> ModelRegistry:
    services = services_of(request)
    return ModelRegistry(services.sessions, services.settings.data_dir / "models")


def _allowed(user: PageUser) -> None:
    if user.principal.role not in MODEL_ROLES:
        raise HTTPException(403, detail=f"role {user.principal.role.value} may not see models")


@router.get("/models")
def models(request: Request, user: CurrentPageUser) -> HTMLResponse:
    _allowed(user)
    versions = sorted(_registry(request).versions(), key=lambda v: (v.name, -int(v.version)))
    return render(request, "models.html", user, versions=versions)


def report_path(data_dir: Path, name: str, version: str) -> Path:
    return data_dir / "reports" / "models" / f"{name}-v{version}.html"


@router.get("/models/{name}/{version}/report")
def report(request: Request, name: str, version: str, user: CurrentPageUser) -> HTMLResponse:
    _allowed(user)
    try:
        name = check_model_name(name)
    except PuhuiError as error:
        raise HTTPException(404, detail=str(error)) from None
    if not version.isdigit() or len(version) > 6:
        raise HTTPException(404, detail=f"model version {version!r} is not a number")
    registry = _registry(request)
    try:
        entry = registry.get(name, version)
    except PuhuiError as error:
        raise HTTPException(404, detail=str(error)) from None
    path = report_path(services_of(request).settings.data_dir, name, version)
    if not path.is_file():
        from puhui.models.artifacts import load_evaluation
        from puhui.models.report import validation_numbers
        from puhui.models.report_html import render_report

        model, metadata = registry.load(name, entry.version)
        numbers = validation_numbers(model, metadata, load_evaluation(entry.artifact_dir))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_report(numbers), encoding="utf-8")
    return HTMLResponse(
        path.read_text(encoding="utf-8"), headers={"Content-Security-Policy": REPORT_CSP}
    )
