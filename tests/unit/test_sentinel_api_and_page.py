"""The sentinel's staff routes and the risk officer's strategy page on the shared province."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from puhui.actions.access import AccessPolicy
from puhui.api import create_app
from puhui.settings import Settings
from support.workbench import cheap_passwords, shared_province

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def app():  # type: ignore[no-untyped-def]
    return create_app(
        Settings(data_dir=shared_province().data_dir),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )


def _token_client(app, username: str) -> TestClient:  # type: ignore[no-untyped-def]
    credential = shared_province().credentials[username]
    client = TestClient(app)
    response = client.post(
        "/api/v1/auth/token",
        json={"username": credential.username, "password": credential.password},
    )
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


def test_a_risk_officer_reads_strategies_replays_and_screens(app) -> None:  # type: ignore[no-untyped-def]
    client = _token_client(app, "demo_risk_officer")
    body = client.get("/api/v1/sentinel/strategies").json()
    assert len(body["strategies"]) >= 100
    replay = client.get("/api/v1/sentinel/replay", params={"refer_points": 20}).json()
    assert replay["candidate"]["passed"] <= replay["base"]["passed"]
    assert replay["changed_count"] >= replay["base"]["passed"] - replay["candidate"]["passed"]
    firm = replay["changed"][0]["uscc"] if replay["changed"] else None
    if firm:
        screened = client.post(f"/api/v1/sentinel/screen/{firm}").json()
        assert screened["verdict"] in {"pass", "review", "reject"}
    assert client.post("/api/v1/sentinel/screen/NOSUCHFIRM").status_code == 404
    bad = client.get("/api/v1/sentinel/replay", params={"disable": "NOPE"})
    assert bad.status_code == 422 and "NOPE" in bad.text


def test_an_account_manager_may_not_manage_strategies(app) -> None:  # type: ignore[no-untyped-def]
    client = _token_client(app, "demo_account_manager")
    assert client.get("/api/v1/sentinel/strategies").status_code == 403


def test_the_strategy_page_shows_groups_and_the_what_if_result(app) -> None:  # type: ignore[no-untyped-def]
    credential = shared_province().credentials["demo_risk_officer"]
    client = TestClient(app)
    form = client.get("/login")
    client.post(
        "/login",
        data={
            "username": credential.username,
            "password": credential.password,
            "csrf": CSRF.search(form.text).group(1),
            "next": "/",
        },
        follow_redirects=False,
    )
    page = client.get("/sentinel", params={"refer_points": 40, "disable": "EA004"})
    assert page.status_code == 200, page.text
    assert 'data-testid="sentinel-arms"' in page.text
    assert "养数据" in page.text and "套模型" in page.text and "EA004" in page.text
