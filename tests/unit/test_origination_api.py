"""The origination API: strict intake (422 naming the field and rule), idempotency keys,
transitions with their status codes, products and the decision for a firm."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from origination_fakes import ScriptedSentinel, decision_service, firm, store_services, uscc

from puhui.actions.access import Principal
from puhui.actions.access.roles import Role, Scope
from puhui.actions.origination.wiring import Origination
from puhui.api import origination as origination_api
from puhui.api.dependencies import current_principal
from puhui.data.store.origination_tables import SentinelVerdict
from puhui.settings import Settings

GOOD, VETO = uscc(1), uscc(2)
BANK = Scope(all_branches=True)


def _principal(role: Role, scope: Scope, staff_id: str = "S0001") -> Principal:
    return Principal(staff_id, staff_id, "测试", role, "330100-01", "西湖支行", scope)


ADMIN = _principal(Role.ADMIN, BANK, "ADM001")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    folder = tmp_path_factory.mktemp("api")
    decisions = decision_service(
        {GOOD: firm(), VETO: firm()}, sentinel=ScriptedSentinel({VETO: SentinelVerdict.REJECT})
    )
    service, servicing, _ = store_services(folder / "store.db", decisions)
    app = FastAPI()
    app.state.settings = Settings(data_dir=folder)
    app.state.origination = Origination(service.sessions.kw["bind"], decisions, service, servicing)
    app.include_router(origination_api.router, prefix="/api/v1")
    app.dependency_overrides[current_principal] = lambda: app.state.principal
    app.state.principal = ADMIN
    return TestClient(app)


def _as(client: TestClient, principal: Principal) -> None:
    client.app.state.principal = principal  # type: ignore[attr-defined]


def _body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "uscc": GOOD,
        "channel": "zheliban",
        "product_code": "xiaowei_edai",
        "requested_amount": "200000.00",
        "consent_id": "consent-0001",
        "metadata": {"device_id": "dev-01", "ip_address": "10.1.2.3", "phone": "13912345678"},
    }
    body.update(changes)
    return body


def _submit(client: TestClient, key: str, **changes: object):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/applications", json=_body(**changes), headers={"Idempotency-Key": key}
    )


def test_the_router_is_part_of_the_puhui_api() -> None:
    from puhui.api.app import create_app

    paths = set(create_app(Settings()).openapi()["paths"])
    assert {"/api/v1/applications", "/api/v1/products/match/{uscc}"} <= paths


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"uscc": GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1")}, "uscc", "GB 32100"),
        ({"channel": "fax"}, "channel", "enum"),
        ({"requested_amount": "100.001"}, "requested_amount", "decimal"),
        ({"requested_amount": "-5"}, "requested_amount", "greater_than"),
        ({"metadata": {"phone": "23912345678"}}, "phone", "pattern"),
        ({"metadata": {"ip_address": "300.1.1.1"}}, "ip_address", "IPv4 or IPv6"),
        ({"surprise": 1}, "surprise", "extra_forbidden"),
    ],
)
def test_bad_input_gets_a_422_naming_the_field_and_the_rule(
    client: TestClient, changes: dict[str, object], field: str, rule: str
) -> None:
    response = _submit(client, "bad-input-01", **changes)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert field in [str(part) for part in error["loc"]]
    assert rule in f"{error['type']} {error['msg']}"


def test_a_missing_idempotency_key_is_a_422_naming_the_header(client: TestClient) -> None:
    response = client.post("/api/v1/applications", json=_body())
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_an_unknown_product_is_a_422_naming_it(client: TestClient) -> None:
    response = _submit(client, "bad-product-1", product_code="gold_loan")
    assert response.status_code == 422
    assert "product_code: unknown product 'gold_loan'" in response.json()["detail"]


def test_the_same_key_gives_one_application_and_a_changed_body_conflicts(
    client: TestClient,
) -> None:
    first = _submit(client, "idem-key-0001")
    again = _submit(client, "idem-key-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["application_id"] == again.json()["application_id"]
    assert first.json()["phone"] == "139****5678"
    conflict = _submit(client, "idem-key-0001", requested_amount="1.00")
    assert conflict.status_code == 409


def test_an_application_goes_from_intake_to_repayment_over_http(client: TestClient) -> None:
    application_id = _submit(client, "http-flow-01").json()["application_id"]
    url = f"/api/v1/applications/{application_id}/transitions"
    offered = client.post(url, json={"action": "advance"}).json()
    assert offered["state"] == "offered"
    assert offered["offer"]["limit"] == "480000.00"
    for action in ({"action": "accept", "amount": "100000.00"}, {"action": "sign"}):
        assert client.post(url, json=action).status_code == 200
    first = client.post(
        url,
        json={"action": "disburse", "on": "2026-07-01"},
        headers={"Idempotency-Key": "pay-out-001"},
    )
    replay = client.post(
        url,
        json={"action": "disburse", "on": "2026-07-01"},
        headers={"Idempotency-Key": "pay-out-001"},
    )
    second = client.post(url, json={"action": "disburse", "on": "2026-07-01"})
    assert (first.status_code, replay.status_code, second.status_code) == (200, 200, 409)
    assert "from disbursed to disbursed" in second.json()["detail"]
    repaid = client.post(url, json={"action": "repay", "amount": "101000.00", "on": "2026-08-01"})
    assert repaid.json()["state"] == "settled"
    shown = client.get(f"/api/v1/applications/{application_id}").json()
    assert [t["to_state"] for t in shown["transitions"]][-2:] == ["disbursed", "settled"]


def test_an_illegal_step_is_a_409_and_an_unknown_application_a_404(client: TestClient) -> None:
    application_id = _submit(client, "http-illegal-1").json()["application_id"]
    response = client.post(
        f"/api/v1/applications/{application_id}/transitions", json={"action": "sign"}
    )
    assert response.status_code == 409
    assert "from submitted to contract_signed" in response.json()["detail"]
    assert client.get("/api/v1/applications/nope").status_code == 404
    assert (
        client.post("/api/v1/applications/x/transitions", json={"action": "fly"}).status_code == 422
    )


def test_products_are_listed_with_the_catalog_version(client: TestClient) -> None:
    body = client.get("/api/v1/products").json()
    assert body["lpr_bp"] == 300
    assert "renewal" in {p["code"] for p in body["products"]}


def test_the_match_endpoint_returns_the_full_decision(client: TestClient) -> None:
    body = client.post(f"/api/v1/products/match/{GOOD}").json()
    assert body["outcome"] == "approve"
    assert body["offers"][0]["product"] == "xiaowei_edai"
    assert body["model_versions"] == {"test_model": "3"}
    rejected = client.post(f"/api/v1/products/match/{VETO}").json()
    assert rejected["outcome"] == "decline" and "sentinel.reject" in rejected["fired_rules"]
    assert client.post(f"/api/v1/products/match/{uscc(77)}").status_code == 404


def test_a_review_needs_its_resolution(client: TestClient, tmp_path: Path) -> None:
    application_id = _submit(client, "http-review-1").json()["application_id"]
    response = client.post(
        f"/api/v1/applications/{application_id}/transitions", json={"action": "review"}
    )
    assert response.status_code == 422
    assert "resolution" in response.json()["detail"]


def test_staff_see_only_applications_of_their_branches(client: TestClient) -> None:
    _as(client, ADMIN)
    application_id = _submit(client, "scope-branch-1").json()["application_id"]  # 330100-01
    path = f"/api/v1/applications/{application_id}"
    try:
        _as(client, _principal(Role.ACCOUNT_MANAGER, Scope(False, frozenset({"330100-01"}))))
        assert client.get(path).status_code == 200
        other = _principal(Role.ACCOUNT_MANAGER, Scope(False, frozenset({"330200-01"})))
        _as(client, other)
        unknown = client.get("/api/v1/applications/no-such-application")
        hidden = client.get(path)
        assert hidden.status_code == unknown.status_code == 404
        moved = client.post(f"{path}/transitions", json={"action": "withdraw"})
        assert moved.status_code == 404
        _as(client, _principal(Role.MODEL_DEVELOPER, BANK))
        assert client.get(path).status_code == 403
    finally:
        _as(client, ADMIN)
    assert client.get(path).json()["state"] == "submitted"


def test_only_reviewers_resolve_a_referral_and_the_signed_in_reviewer_is_recorded(
    client: TestClient,
) -> None:
    _as(client, ADMIN)
    application_id = _submit(client, "scope-review-1").json()["application_id"]
    path = f"/api/v1/applications/{application_id}/transitions"
    body = {"action": "review", "resolution": "approve", "actor": "someone-else"}
    try:
        _as(client, _principal(Role.ACCOUNT_MANAGER, BANK, "CM0001"))
        refused = client.post(path, json=body)
        assert refused.status_code == 403 and "risk_officer" in refused.json()["detail"]
        _as(client, _principal(Role.RISK_OFFICER, BANK, "RO0001"))
        # The application is not referred: the step is illegal, but the role may try it.
        assert client.post(path, json=body).status_code == 409
    finally:
        _as(client, ADMIN)
