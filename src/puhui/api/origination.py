"""进件与产品 · the origination API.

- ``GET  /api/v1/products``: the catalog in force (version, LPR, products).
- ``POST /api/v1/products/match/{uscc}``: the full decision for a firm (sentinel + score +
  product match + pricing): every product it qualifies for, ranked, and why not the others.
- ``POST /api/v1/applications``: intake, keyed by the ``Idempotency-Key`` header.
- ``GET  /api/v1/applications/{id}``: the application, its decision and transitions.
- ``POST /api/v1/applications/{id}/transitions``: one step (authorize, screen, decide, review,
  offer, accept, sign, disburse, repay, withdraw, expire) or ``advance`` (the bank's automatic
  steps from where it stands). ``Idempotency-Key`` is optional here; a repeat is answered as the
  first time.

Status codes: 201 created, 200 replay or step done, 403 consent refused or a role that may not
do this, 404 unknown firm or application (also one outside the caller's branches), 409 illegal
or concurrent transition or a reused key, 422 invalid input (naming the field and the rule).
"""

from __future__ import annotations

import gc
import json
import threading
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from puhui.actions.access import Principal
from puhui.actions.access.roles import SEES_FIRMS, Role
from puhui.actions.consent.records import ConsentError
from puhui.actions.origination.decisioning import UnknownFirmError
from puhui.actions.origination.service import ApplicationRequest, OfferTermsError
from puhui.actions.origination.states import IllegalTransitionError, OriginationError
from puhui.actions.origination.transitions import (
    ConcurrentTransitionError,
    IdempotencyConflictError,
    UnknownApplicationError,
)
from puhui.actions.origination.wiring import Origination, open_origination
from puhui.api.dependencies import CurrentUser
from puhui.api.origination_schemas import (
    ApplicationIn,
    ApplicationOut,
    CatalogOut,
    OfferOut,
    ProductOut,
    TransitionIn,
    TransitionOut,
)
from puhui.data.store.origination_tables import LoanApplication
from puhui.decisions.products.spec import ProductCatalogError
from puhui.errors import PuhuiError

router = APIRouter(tags=["origination 进件"])
_lock = threading.Lock()
KEY_PATTERN = r"^[A-Za-z0-9_\-:.]{8,64}$"
# 人工审批: who may resolve a referred application.
REVIEWERS = frozenset({Role.RISK_OFFICER, Role.BRANCH_MANAGER, Role.ADMIN})


def runtime(app: FastAPI) -> Origination:
    """One origination runtime per app (store engine, snapshot in memory), built on first use;
    tests may put their own on ``app.state.origination``."""
    existing = getattr(app.state, "origination", None)
    if existing is not None:
        return existing
    with _lock:
        if getattr(app.state, "origination", None) is None:
            app.state.origination = open_origination(app.state.settings)
            # The snapshot is thousands of long-lived dicts: keep them out of the cyclic
            # collector's scans, which otherwise pause requests for milliseconds.
            gc.collect()
            gc.freeze()
    return app.state.origination


def get_runtime(request: Request) -> Origination:
    """The origination services, or 503 naming what is missing (a key file, a snapshot, …)."""
    try:
        return runtime(request.app)
    except PuhuiError as error:
        raise HTTPException(503, detail=f"origination is not ready: {error}") from error


RuntimeDep = Annotated[Origination, Depends(get_runtime)]


def _http(error: PuhuiError) -> HTTPException:
    if isinstance(error, (UnknownFirmError, UnknownApplicationError)):
        return HTTPException(404, detail=str(error))
    if isinstance(error, ConsentError):
        return HTTPException(403, detail=str(error))
    if isinstance(error, (OfferTermsError, ProductCatalogError)):
        return HTTPException(422, detail=str(error))
    if isinstance(
        error,
        (IdempotencyConflictError, IllegalTransitionError, ConcurrentTransitionError),
    ):
        return HTTPException(409, detail=str(error))
    if isinstance(error, OriginationError):
        return HTTPException(409, detail=str(error))
    return HTTPException(400, detail=str(error))


@router.get("/products", response_model=CatalogOut, summary="产品目录 · the product catalog")
def list_products(origination: RuntimeDep) -> CatalogOut:
    catalog = origination.decisions.catalog
    as_of = origination.decisions.as_of
    return CatalogOut(
        catalog_version=catalog.catalog_version,
        lpr_bp=catalog.lpr_on(as_of).one_year_bp,
        as_of=as_of,
        products=[
            ProductOut(
                code=p.code,
                zh=p.zh,
                en=p.en,
                kind=p.kind,
                term_months=list(p.term_months),
                repayment_methods=[m.value for m in p.repayment_methods],
                min_amount=p.limit.min_amount,
                max_amount=p.limit.max_amount,
                floor_bp=p.pricing.floor_bp,
                cap_bp=p.pricing.cap_bp,
                eligibility=[rule.zh for rule in p.eligibility],
            )
            for p in catalog.products
        ],
    )


class MatchQuery(BaseModel):
    """The match endpoint's optional query: the product and amount the firm asks about."""

    product_code: str | None = Field(None, max_length=32)
    amount: Decimal | None = Field(None, gt=0, decimal_places=2)


def _match_parameters() -> list[dict[str, Any]]:
    """OpenAPI parameters of the match endpoint, from ``MatchQuery`` (it parses them itself)."""
    schema = MatchQuery.model_json_schema()["properties"]
    query = [
        {"name": name, "in": "query", "required": False, "schema": schema[name]}
        for name in MatchQuery.model_fields
    ]
    path = {"name": "uscc", "in": "path", "required": True, "schema": {"type": "string"}}
    return [path, *query]


def _match_query(request: Request) -> MatchQuery:
    """The query validated as FastAPI would (422 naming ``query.<field>`` and the rule); read
    by hand because resolving declared parameters costs more than the decision's products."""
    if not request.scope.get("query_string"):
        return _NO_QUERY
    params = request.query_params
    given = {name: params[name] for name in MatchQuery.model_fields if name in params}
    try:
        return MatchQuery.model_validate(given)
    except ValidationError as error:
        errors = error.errors(include_url=False)
        for item in errors:
            item["loc"] = ("query", *item["loc"])
        raise RequestValidationError(errors) from None


_NO_QUERY = MatchQuery()


@router.post(
    "/products/match/{uscc}",
    summary="产品匹配与决策 · the full decision for one firm",
    responses={
        404: {"description": "firm not in the feature snapshot"},
        422: {
            "description": "Validation Error",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
            },
        },
    },
    openapi_extra={"parameters": _match_parameters()},
)
async def match_products(request: Request) -> Response:
    """Every product the firm qualifies for, ranked, and why not the others (query:
    ``product_code``, ``amount``)."""
    # In-memory and sub-millisecond, so it runs on the event loop (no thread hop), and the body
    # is serialised once with json.dumps rather than walked by the response-model encoder.
    query = _match_query(request)
    origination = runtime(request.app)
    try:
        decision = origination.decisions.decide(
            request.path_params["uscc"],
            requested_product=query.product_code,
            requested_amount=query.amount,
        )
    except PuhuiError as error:
        raise _http(error) from None
    body = json.dumps(decision.to_dict(), ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode("utf-8"), media_type="application/json")


@router.post(
    "/applications",
    response_model=ApplicationOut,
    status_code=201,
    summary="进件 · submit an application",
    responses={200: {"description": "replay of an earlier request with the same key"}},
)
def submit_application(
    body: ApplicationIn,
    response: Response,
    origination: RuntimeDep,
    idempotency_key: Annotated[
        str, Header(alias="Idempotency-Key", pattern=KEY_PATTERN, description="幂等键")
    ],
) -> ApplicationOut:
    if body.product_code is not None:
        try:
            origination.decisions.catalog.product(body.product_code)
        except ProductCatalogError as error:
            raise HTTPException(422, detail=f"product_code: {error}") from None
    request = ApplicationRequest(
        uscc=body.uscc,
        channel=body.channel.value,
        requested_product=body.product_code,
        requested_amount=body.requested_amount,
        requested_term_months=body.requested_term_months,
        phone=body.metadata.phone,
        device_id=body.metadata.device_id,
        ip_address=body.metadata.ip_address,
        consent_id=body.consent_id,
    )
    try:
        row, created = origination.origination.submit(request, idempotency_key)
    except PuhuiError as error:
        raise _http(error) from None
    if not created:
        response.status_code = 200
    return _out(row)


def _visible(row: LoanApplication, principal: Principal) -> LoanApplication:
    """The application when the principal's branches cover it; else the 404 of an unknown one
    (so a scoped user cannot probe which ids exist), or 403 for a role that sees no firms."""
    if principal.role not in SEES_FIRMS:
        raise HTTPException(403, detail=f"role {principal.role.value} may not open applications")
    if not principal.scope.allows_branch(row.branch_id):
        raise HTTPException(404, detail=f"no application {row.application_id}")
    return row


@router.get("/applications/{application_id}", response_model=ApplicationOut)
def get_application(
    application_id: str, origination: RuntimeDep, principal: CurrentUser
) -> ApplicationOut:
    try:
        row = origination.origination.get(application_id)
    except PuhuiError as error:
        raise _http(error) from None
    return _out(_visible(row, principal), origination)


@router.post("/applications/{application_id}/transitions", response_model=ApplicationOut)
def transition(
    application_id: str,
    body: TransitionIn,
    origination: RuntimeDep,
    principal: CurrentUser,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)
    ] = None,
) -> ApplicationOut:
    service = origination.origination
    step = {"actor": body.actor, "idempotency_key": idempotency_key}
    try:
        _visible(service.get(application_id), principal)
        if body.action == "authorize":
            row = service.authorize(application_id, body.consent_id, **step)
        elif body.action == "review":
            if body.resolution is None:
                raise HTTPException(422, detail="resolution: required for action review")
            if principal.role not in REVIEWERS:
                allowed = ", ".join(sorted(role.value for role in REVIEWERS))
                raise HTTPException(
                    403,
                    detail=f"role {principal.role.value} may not resolve a manual review; "
                    f"allowed: {allowed}",
                )
            # The reviewer on record is the signed-in staff member, never a name in the body.
            row = service.review(
                application_id,
                body.resolution,
                principal.staff_id,
                body.note,
                idempotency_key=idempotency_key,
                actor_role=principal.role.value,
            )
        elif body.action == "accept":
            row = service.accept(
                application_id,
                body.amount,
                body.term_months,
                body.repayment_method.value if body.repayment_method else None,
                **step,
            )
        elif body.action == "sign":
            row = service.sign(application_id, body.contract_id, **step)
        elif body.action == "disburse":
            row = service.disburse(application_id, body.on, **step)
        elif body.action == "repay":
            if body.amount is None or body.on is None:
                raise HTTPException(422, detail="amount, on: required for action repay")
            loan = origination.servicing.loan_for(application_id)
            key = idempotency_key or f"{application_id}:{body.on}:{body.amount}"
            origination.servicing.repay(loan.loan_id, body.amount, body.on, key)
            row = service.get(application_id)
        elif body.action == "advance":
            row = service.advance(application_id, body.consent_id)
        else:
            row = getattr(service, body.action)(application_id, **step)
    except PuhuiError as error:
        raise _http(error) from None
    return _out(row, origination)


def _out(row: LoanApplication, origination: Origination | None = None) -> ApplicationOut:
    offer = None
    if row.offer_product and row.offer_limit is not None:
        offer = OfferOut(
            product=row.offer_product,
            limit=row.offer_limit,
            rate_bp=row.offer_rate_bp or 0,
            term_months=row.offer_term_months or 0,
            repayment_method=row.offer_repayment_method or "",
        )
    transitions = []
    if origination is not None:
        transitions = [
            TransitionOut(
                seq=t.seq,
                from_state=t.from_state,
                to_state=t.to_state,
                action=t.action,
                occurred_at=t.occurred_at,
                actor=t.actor,
            )
            for t in origination.origination.transitions(row.application_id)
        ]
    return ApplicationOut(
        application_id=row.application_id,
        uscc=row.uscc,
        channel=row.channel,
        state=row.state,
        version=row.version,
        requested_product=row.requested_product,
        requested_amount=row.requested_amount,
        consent_id=row.consent_id,
        sentinel_verdict=row.sentinel_verdict,
        decision_outcome=row.decision_outcome,
        decision=row.decision,
        offer=offer,
        accepted_amount=row.accepted_amount,
        contract_id=row.contract_id,
        phone=row.phone_masked,
        created_at=row.created_at,
        updated_at=row.updated_at,
        transitions=transitions,
    )
