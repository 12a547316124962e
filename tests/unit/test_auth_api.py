"""The API behind bearer tokens: branch scoping of the profile, audited unmask, headers, docs."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from puhui.actions.access import AccessPolicy
from puhui.api import create_app
from puhui.data.identifiers import uscc_check_char
from puhui.data.store import make_engine, make_session_factory
from puhui.data.store.tables import AuditEvent
from puhui.settings import Settings
from support.workbench import cheap_passwords, other_branch_firm, own_firm, shared_province

PROFILE = "/api/v1/enterprises/{}/profile"


@pytest.fixture(scope="module")
def province():  # type: ignore[no-untyped-def]
    return shared_province()


@pytest.fixture(scope="module")
def client(province) -> TestClient:  # type: ignore[no-untyped-def]
    app = create_app(
        Settings(data_dir=province.data_dir),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )
    with TestClient(app) as test_client:
        yield test_client


def token(client: TestClient, province, username: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    password = province.credentials[username].password
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def audit_count(province, action: str) -> int:  # type: ignore[no-untyped-def]
    engine = make_engine(province.store_url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
    finally:
        engine.dispose()


def test_the_profile_needs_a_bearer_token(client, province) -> None:
    firm = own_firm(province, province.credentials["demo_account_manager"].staff_id)
    response = client.get(PROFILE.format(firm))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "/api/v1/auth/token" in response.json()["detail"]
    bad = client.get(PROFILE.format(firm), headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and "expired or revoked" in bad.json()["detail"]


def test_an_account_manager_sees_own_branch_firms_and_never_another_branchs(
    client, province
) -> None:
    am = province.credentials["demo_account_manager"]
    headers = token(client, province, am.username)
    mine = client.get(PROFILE.format(own_firm(province, am.staff_id)), headers=headers)
    assert mine.status_code == 200 and mine.json()["masked"] is True
    elsewhere = other_branch_firm(province, {am.branch_id})
    refused = client.get(PROFILE.format(elsewhere), headers=headers)
    first17 = "91330100" + "Y" * 9
    unknown = client.get(PROFILE.format(first17 + uscc_check_char(first17)), headers=headers)
    assert refused.status_code == unknown.status_code == 404
    assert "not among the firms of your branches" in refused.json()["detail"]
    # The refusal is worded exactly like an unknown firm's: it reveals nothing.
    assert refused.json()["detail"].replace(elsewhere, "X") == unknown.json()["detail"].replace(
        first17 + uscc_check_char(first17), "X"
    )


def test_a_branch_manager_is_scoped_and_a_risk_officer_sees_every_branch(client, province) -> None:
    bm = province.credentials["demo_branch_manager"]
    me = client.get("/api/v1/me", headers=token(client, province, bm.username)).json()
    assert not me["all_branches"] and bm.branch_id in me["branch_ids"]
    elsewhere = other_branch_firm(province, set(me["branch_ids"]))
    bm_headers = token(client, province, bm.username)
    assert client.get(PROFILE.format(elsewhere), headers=bm_headers).status_code == 404
    risk = token(client, province, "demo_risk_officer")
    assert client.get(PROFILE.format(elsewhere), headers=risk).status_code == 200


def test_a_model_developer_may_not_open_firms(client, province) -> None:
    headers = token(client, province, "demo_model_developer")
    firm = own_firm(province, province.credentials["demo_account_manager"].staff_id)
    response = client.get(PROFILE.format(firm), headers=headers)
    assert response.status_code == 403 and "model_developer" in response.json()["detail"]


def test_a_malformed_uscc_is_422_before_any_scope_check(client, province) -> None:
    headers = token(client, province, "demo_account_manager")
    response = client.get(PROFILE.format("91330100XXXXXXXXX0"), headers=headers)
    assert response.status_code == 422 and "统一社会信用代码" in response.json()["detail"]


def test_every_profile_served_is_in_the_data_access_log(client, province) -> None:
    headers = token(client, province, "demo_risk_officer")
    firm = own_firm(province, province.credentials["demo_account_manager"].staff_id)
    before = audit_count(province, "data.view")
    assert client.get(PROFILE.format(firm), headers=headers).status_code == 200
    assert audit_count(province, "data.view") == before + 1


def test_unmasking_needs_a_reason_and_writes_an_audit_entry_each_time(client, province) -> None:
    am = province.credentials["demo_account_manager"]
    headers = token(client, province, am.username)
    firm = own_firm(province, am.staff_id)
    url = f"/api/v1/enterprises/{firm}/unmask"
    assert client.post(url, json={"reason": "    "}, headers=headers).status_code == 422
    assert client.post(url, json={}, headers=headers).status_code == 422
    before = audit_count(province, "pii.unmask")
    response = client.post(url, json={"reason": "贷前电话核实"}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert "*" not in body["legal_rep_id_number"] and len(body["legal_rep_id_number"]) == 18
    assert audit_count(province, "pii.unmask") == before + 1
    elsewhere = other_branch_firm(province, {am.branch_id})
    refused = client.post(
        f"/api/v1/enterprises/{elsewhere}/unmask", json={"reason": "贷前电话核实"}, headers=headers
    )
    assert refused.status_code == 404
    assert audit_count(province, "pii.unmask") == before + 1


def test_a_revoked_token_stops_working(client, province) -> None:
    headers = token(client, province, "demo_auditor")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def fresh_app(province):  # type: ignore[no-untyped-def]
    # The per-client throttle counts every test's logins from "testclient" in this process;
    # lifted, so a test sees only what it is about.
    return create_app(
        Settings(data_dir=province.data_dir),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )


def concurrent_statuses(app, headers: dict[str, str], n: int) -> list[int]:  # type: ignore[no-untyped-def]
    """``n`` requests with one token, all in flight at once on one event loop (as in a worker)."""
    import asyncio

    import httpx

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(
                *(client.get("/api/v1/products", headers=headers) for _ in range(n))
            )
        return [r.status_code for r in responses]

    return asyncio.run(burst())


def test_repeated_wrong_passwords_lock_the_api_login_with_retry_after(province) -> None:
    app = fresh_app(province)
    with TestClient(app) as client:
        body = {"username": "demo_admin", "password": "Wrong-password-1"}
        codes = [client.post("/api/v1/auth/token", json=body).status_code for _ in range(5)]
        assert codes == [401] * 5
        right = {"username": "demo_admin", "password": province.credentials["demo_admin"].password}
        locked = client.post("/api/v1/auth/token", json=right)
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert "locked" in locked.json()["detail"]
    from puhui.actions.access import AccessService

    engine = make_engine(province.store_url)
    try:
        AccessService(make_session_factory(engine), passwords=cheap_passwords()).set_password(
            "demo_admin", province.credentials["demo_admin"].password
        )
    finally:
        engine.dispose()


def test_every_response_carries_the_security_headers(client) -> None:
    for path in ("/api/v1/me", "/login", "/openapi.json"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "http" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"


def test_the_docs_page_loads_only_local_files(client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources)
    for source in sources:
        assert client.get(source).status_code == 200, source
    assert "/api/v1/enterprises/{uscc}/profile" in client.get("/openapi.json").json()["paths"]


def test_origination_routes_need_a_bearer_token_too(client, province) -> None:
    assert client.get("/api/v1/products").status_code == 401
    headers = token(client, province, "demo_risk_officer")
    assert client.get("/api/v1/products", headers=headers).status_code != 401


def test_concurrent_requests_with_a_token_due_for_recheck_read_the_store_once(province) -> None:
    """When a token's trusted interval ends under load, the requests in flight share one store
    read instead of each reading (and touching) the session: the herd stalled the worker and,
    on SQLite, failed with "database is locked"."""
    import threading
    import time

    app = fresh_app(province)
    with TestClient(app) as sync_client:
        headers = token(sync_client, province, "demo_risk_officer")
    services = app.state.services
    access = services.access
    real_resolve = access.resolve
    reads: list[int] = []
    lock = threading.Lock()

    def slow_resolve(token_value, kind):  # type: ignore[no-untyped-def]
        with lock:
            reads.append(1)
        time.sleep(0.3)  # a slow store: every request below arrives while this one runs
        return real_resolve(token_value, kind)

    access.forget_checked_tokens()  # the interval ended: the next request must read the store
    access.resolve = slow_resolve  # type: ignore[method-assign]
    assert concurrent_statuses(app, headers, 20) == [200] * 20
    assert len(reads) == 1
    assert len(services.token_checks) == 0  # nothing is kept once answered
    services.close()


def test_a_revoked_token_is_refused_by_every_request_sharing_the_recheck(province) -> None:
    app = fresh_app(province)
    with TestClient(app) as sync_client:
        headers = token(sync_client, province, "demo_risk_officer")
        assert sync_client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert concurrent_statuses(app, headers, 10) == [401] * 10
    app.state.services.close()
