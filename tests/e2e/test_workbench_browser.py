"""The workbench in headless Chromium (Playwright driving Debian's /usr/bin/chromium).

A small province is served by uvicorn on a free local port; each role signs in through the
login form and walks its main pages; branch scoping is checked in the browser. Screenshots go
to ``tests/e2e/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"

if not CHROMIUM.exists():  # pragma: no cover - depends on the machine
    pytest.skip(
        "Debian's chromium is not installed (scripts/setup-system.sh)", allow_module_level=True
    )
playwright_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def province():  # type: ignore[no-untyped-def]
    from support.workbench import shared_province

    return shared_province()


@pytest.fixture(scope="module")
def base_url(province) -> Iterator[str]:  # type: ignore[no-untyped-def]
    import uvicorn

    from puhui.actions.access import AccessPolicy
    from puhui.api import create_app
    from puhui.settings import Settings
    from support.workbench import cheap_passwords

    app = create_app(
        Settings(data_dir=province.data_dir),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, base_url):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base_url)
    page = context.new_page()
    problems: list[str] = []
    expected = "Failed to load resource: the server responded with a status of 4"  # 403/404 pages

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error" and not message.text.startswith(expected):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((base_url, "data:")) else None,
    )
    yield page
    context.close()
    assert not outside, f"requests left the server: {outside}"
    assert not problems, f"browser errors (CSP violations show here): {problems}"


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, province, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", province.credentials[username].password)
    page.click("[data-testid=login-submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:500]


def test_account_manager_opens_a_firm_profile_and_unmasks_with_a_reason(page, province) -> None:
    sign_in(page, province, "demo_account_manager")
    assert page.url.endswith("/firms")
    shot(page, "account_manager_firms")
    page.locator("[data-testid=firm-list] a").first.click()
    page.wait_for_selector("[data-testid=radar] svg")
    assert page.locator("[data-testid=trends] svg").count() == 4
    assert "*" in page.inner_text("[data-testid=legal-rep-masked]")
    shot(page, "account_manager_profile")
    page.fill("input[name=reason]", "贷前电话核实")
    page.click("[data-testid=unmask]")
    page.wait_for_selector("[data-testid=unmasked]")
    assert "*" not in page.inner_text("[data-testid=unmasked]")


def test_account_manager_cannot_reach_another_branchs_firm_in_the_browser(page, province) -> None:
    from support.workbench import other_branch_firm

    am = province.credentials["demo_account_manager"]
    sign_in(page, province, am.username)
    page.select_option("select[name=mine]", "0")
    page.click("form.row button")
    page.wait_for_load_state()
    branches = set(
        page.locator("[data-branch]").evaluate_all("els => els.map(e => e.dataset.branch)")
    )
    assert branches == {am.branch_id}
    elsewhere = other_branch_firm(province, {am.branch_id})
    response = page.goto(f"/firms/{elsewhere}")
    assert response is not None and response.status == 404
    assert "not among the firms" in page.inner_text("[data-testid=error-detail]")
    shot(page, "account_manager_other_branch_refused")


def test_risk_officer_sees_the_portfolio_and_switches_to_english(page, province) -> None:
    sign_in(page, province, "demo_risk_officer")
    assert page.url.endswith("/portfolio")
    page.wait_for_selector("[data-testid=kpis]")
    shot(page, "risk_officer_portfolio")
    page.click("[data-testid=lang-switch]")
    page.wait_for_load_state()
    assert "Portfolio" in page.inner_text("h1")
    page.click("[data-testid=lang-switch]")


def test_branch_manager_portfolio_is_limited_to_the_branch(page, province) -> None:
    bm = province.credentials["demo_branch_manager"]
    sign_in(page, province, bm.username)
    rows = page.locator("[data-testid=branches] tbody tr td:first-child").all_inner_texts()
    assert rows and all(row.startswith(bm.branch_id) for row in rows)


def test_model_developer_sees_the_registry(page, province) -> None:
    sign_in(page, province, "demo_model_developer")
    assert page.url.endswith("/models")
    # Model developers also tune the sentinel's risk models and thresholds (what-if replay).
    assert page.locator("nav.main a").all_inner_texts() == ["模型登记册", "反欺诈哨兵"]
    shot(page, "model_developer_registry")


def test_auditor_sees_chains_bureau_log_and_the_unmask_entry(page, province) -> None:
    sign_in(page, province, "demo_auditor")
    assert page.url.endswith("/audit")
    assert "完整" in page.inner_text("[data-testid=audit-chain]")
    page.select_option("select[name=action]", "auth.login")
    page.click("form.row button")
    page.wait_for_load_state()
    assert "auth.login" in page.inner_text("[data-testid=audit-log]")
    shot(page, "auditor_audit")


def test_signing_out_ends_the_session(page, province) -> None:
    sign_in(page, province, "demo_auditor")
    page.click("[data-testid=logout]")
    page.wait_for_url("**/login")
    page.goto("/audit")
    assert "/login" in page.url


def test_the_api_docs_render_from_local_files(page) -> None:
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    assert "puhui" in page.inner_text(".swagger-ui .info")
