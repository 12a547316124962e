"""Workbench pages through the test client: login with CSRF, scoping, roles, audited unmask."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from puhui.actions.access import AccessPolicy
from puhui.api import create_app
from puhui.settings import Settings
from support.workbench import cheap_passwords, other_branch_firm, own_firm, shared_province

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def province():  # type: ignore[no-untyped-def]
    return shared_province()


@pytest.fixture(scope="module")
def app(province):  # type: ignore[no-untyped-def]
    return create_app(
        Settings(data_dir=province.data_dir),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )


def signed_in(app, province, username: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": province.credentials[username].password,
            "csrf": CSRF.search(form.text).group(1),
            "next": "/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=strict" in response.headers["set-cookie"].lower()
    return client


def test_pages_redirect_to_the_login_and_back(app) -> None:
    client = TestClient(app)
    response = client.get("/portfolio", follow_redirects=False)
    assert (
        response.status_code == 303 and response.headers["location"] == "/login?next=%2Fportfolio"
    )


def test_a_login_without_the_forms_csrf_token_is_refused(app, province) -> None:
    client = TestClient(app)
    client.get("/login")
    password = province.credentials["demo_auditor"].password
    response = client.post(
        "/login", data={"username": "demo_auditor", "password": password, "csrf": "forged"}
    )
    assert response.status_code == 403
    assert "puhui_session" not in response.headers.get("set-cookie", "")


def test_a_wrong_password_shows_the_form_again_with_a_message(app) -> None:
    client = TestClient(app)
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "demo_auditor", "password": "x", "csrf": CSRF.search(form.text).group(1)},
    )
    assert response.status_code == 401 and "用户名或密码错误" in response.text


def test_login_never_redirects_to_another_site(app, province) -> None:
    client = TestClient(app)
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "demo_auditor",
            "password": province.credentials["demo_auditor"].password,
            "csrf": CSRF.search(form.text).group(1),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/audit"


def test_each_role_lands_on_its_home_page(app, province) -> None:
    homes = {
        "demo_account_manager": "/firms",
        "demo_branch_manager": "/portfolio",
        "demo_risk_officer": "/portfolio",
        "demo_model_developer": "/models",
        "demo_auditor": "/audit",
    }
    for username, path in homes.items():
        client = signed_in(app, province, username)
        assert client.get("/", follow_redirects=False).headers["location"] == path


def test_the_account_manager_lists_only_own_firms_and_cannot_open_another_branchs(
    app, province
) -> None:
    am = province.credentials["demo_account_manager"]
    client = signed_in(app, province, am.username)
    page = client.get("/firms?mine=0")
    branches = set(re.findall(r'data-branch="([^"]+)"', page.text))
    assert branches == {am.branch_id}
    elsewhere = other_branch_firm(province, {am.branch_id})
    assert elsewhere not in page.text
    searched = client.get(f"/firms?mine=0&q={elsewhere}").text
    assert f'data-uscc="{elsewhere}"' not in searched and "没有找到" in searched
    refused = client.get(f"/firms/{elsewhere}")
    assert refused.status_code == 404 and "not among the firms" in refused.text
    mine = client.get(f"/firms/{own_firm(province, am.staff_id)}")
    assert mine.status_code == 200
    assert '<svg class="chart radar"' in mine.text and 'class="chart line"' in mine.text
    assert "<script" not in mine.text


def test_unmasking_on_the_page_needs_the_csrf_token_and_shows_the_full_data(app, province) -> None:
    am = province.credentials["demo_account_manager"]
    client = signed_in(app, province, am.username)
    firm = own_firm(province, am.staff_id)
    page = client.get(f"/firms/{firm}")
    masked = re.search(r'data-testid="legal-rep-masked">(.*?)</p>', page.text, re.S).group(1)
    assert "*" in masked
    forged = client.post(f"/firms/{firm}/unmask", data={"csrf": "x", "reason": "电话核实经营"})
    assert forged.status_code == 403
    token = CSRF.search(page.text).group(1)
    shown = client.post(f"/firms/{firm}/unmask", data={"csrf": token, "reason": "电话核实经营"})
    assert shown.status_code == 200 and 'data-testid="unmasked"' in shown.text
    audit = signed_in(app, province, "demo_auditor").get("/audit?action=pii.unmask")
    assert "电话核实经营" in audit.text and firm in audit.text


def test_role_pages_refuse_other_roles(app, province) -> None:
    am = signed_in(app, province, "demo_account_manager")
    assert am.get("/audit").status_code == 403
    assert am.get("/models").status_code == 403
    assert am.get("/portfolio").status_code == 403
    developer = signed_in(app, province, "demo_model_developer")
    assert developer.get("/firms").status_code == 403
    assert developer.get("/models").status_code == 200


def test_the_portfolio_shows_balance_borrowers_and_npl(app, province) -> None:
    page = signed_in(app, province, "demo_risk_officer").get("/portfolio")
    assert page.status_code == 200
    assert 'data-testid="npl"' in page.text and 'data-testid="branches"' in page.text
    bm = province.credentials["demo_branch_manager"]
    scoped = signed_in(app, province, bm.username).get("/portfolio")
    rows = re.findall(r'<tr><td class="mono">([^<]+)</td>', scoped.text)
    assert rows and all(row.startswith(bm.branch_id) for row in rows)


def test_the_audit_page_verifies_the_chain_and_lists_logins(app, province) -> None:
    page = signed_in(app, province, "demo_auditor").get("/audit")
    assert page.status_code == 200 and "完整" in page.text and "auth.login" in page.text


def test_the_language_switch_turns_the_pages_to_english(app, province) -> None:
    client = signed_in(app, province, "demo_auditor")
    assert "审计日志哈希链" in client.get("/audit").text
    response = client.get("/lang/en?next=/audit")
    assert response.status_code == 200 and "Audit log hash chain" in response.text
    assert (
        client.get("/lang/en?next=https://evil.example/", follow_redirects=False).headers[
            "location"
        ]
        == "/"
    )


def test_logout_needs_the_csrf_token_and_ends_the_session(app, province) -> None:
    client = signed_in(app, province, "demo_auditor")
    assert client.post("/logout", data={"csrf": "nope"}).status_code == 403
    token = CSRF.search(client.get("/audit").text).group(1)
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert client.get("/audit", follow_redirects=False).status_code == 303


def test_the_portfolio_shows_two_up_two_control_and_says_what_it_cannot_judge(
    app, province
) -> None:
    page = signed_in(app, province, "demo_risk_officer").get("/portfolio")
    table = page.text.split('data-testid="two-up-two-control"')[1].split("</table>")[0]
    keys = re.findall(r'data-indicator="([a-z_]+)"', table)
    assert keys == ["balance_growth", "borrowers", "asset_quality", "financing_cost"]
    # The bank-wide loan growth and NPL ratio are not configured in the test settings.
    assert table.count("需全行数据") >= 2
