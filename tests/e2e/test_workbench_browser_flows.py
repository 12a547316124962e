"""Each role's main flows in headless Chromium, on the pages added for warnings, marketing,
origination, the sentinel, model monitoring and audit (Playwright driving /usr/bin/chromium).

One world per module, built by ``support.workbench_flows`` (the shared province with its store
copied, the alarm scanned, fixture models, a marketing run, referred applications, a consent
and a bureau query); ``scripts/screenshots.py`` builds the same world for the README's
screenshots. Screenshots go to ``tests/e2e/artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.workbench_flows import CHROMIUM, FlowWorld, build_flow_world, flow_app, serve, sign_in

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).parent / "artifacts"

# --- fixtures ----------------------------------------------------------------------------------

if not CHROMIUM.exists():  # pragma: no cover - depends on the machine
    pytest.skip(
        "Debian's chromium is not installed (scripts/setup-system.sh)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> FlowWorld:  # type: ignore[no-untyped-def]
    return build_flow_world(tmp_path_factory.mktemp("flows") / "data")


@pytest.fixture(scope="module")
def base_url(world: FlowWorld) -> Iterator[str]:
    url, server, thread = serve(flow_app(world))
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    playwright_api = pytest.importorskip("playwright.sync_api")
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

    def on_failed(request) -> None:  # type: ignore[no-untyped-def]
        # ERR_ABORTED is the browser cancelling a load itself because the page moved on (a
        # form post redirecting while the favicon is still loading on a busy machine).
        if request.failure != "net::ERR_ABORTED":
            problems.append(f"failed {request.url}: {request.failure}")

    page.on("requestfailed", on_failed)
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


# --- account manager ---------------------------------------------------------------------------


def test_account_manager_opens_a_task_reads_the_evidence_and_records_a_disposal(
    page, world: FlowWorld
) -> None:
    sign_in(page, world.credentials, "demo_account_manager")
    page.goto("/alarm/tasks")
    link = page.locator(f"a[href='/alarm/warnings/{world.warning_id}']").first
    assert link.count() == 1, "the handed-over warning is not among my tasks"
    shot(page, "flow_account_manager_tasks")
    link.click()
    page.wait_for_selector("[data-testid=evidence] tbody tr")
    assert page.locator("[data-testid=evidence] tbody tr").count() >= 1
    shot(page, "flow_account_manager_warning_evidence")
    form = page.locator("[data-testid=dispose-form]").first
    form.locator("select[name=action]").select_option("freeze_line")
    note = "已实地走访：主要客户流失、开票骤降属实，冻结未用额度并每周跟踪"
    form.locator("textarea[name=verification]").fill(note)
    form.locator("input[name=site_visit]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/alarm/warnings/{world.warning_id}")
    tasks = page.inner_text("[data-testid=task-list]")
    assert note in tasks and "freeze_line" in tasks
    shot(page, "flow_account_manager_disposal_saved")
    page.click("a[href^='/firms/']")  # on to the firm's 360 profile and its warning history
    page.wait_for_selector("[data-testid=warning-history]")
    history = page.locator(
        f"[data-testid=warning-history] a[href='/alarm/warnings/{world.warning_id}']"
    )
    assert history.count() == 1


def test_account_manager_records_a_marketing_outcome(page, world: FlowWorld) -> None:
    sign_in(page, world.credentials, "demo_account_manager")
    page.goto("/marketing")
    row = page.locator("[data-testid=marketing-list] tbody tr").first
    uscc = row.get_attribute("data-uscc")
    assert uscc
    row.locator("select[name=outcome]").select_option("contacted")
    row.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert f"{uscc}: contacted" in page.inner_text("[data-testid=marketing-message]")
    saved = page.locator(f"[data-testid=marketing-list] tr[data-uscc='{uscc}']")
    assert "contacted" in saved.inner_text()
    shot(page, "flow_account_manager_marketing")


def test_account_manager_sees_own_applications_only(page, world: FlowWorld) -> None:
    sign_in(page, world.credentials, "demo_account_manager")
    page.goto("/applications")
    listing = page.inner_text("[data-testid=applications]")
    assert world.applications["own"][:8] in listing
    assert world.applications["other"][:8] not in listing
    shot(page, "flow_account_manager_applications")
    response = page.goto(f"/applications/{world.applications['other']}")
    assert response is not None and response.status == 404


def test_account_manager_profile_draws_the_two_hop_graph(page, world: FlowWorld) -> None:
    sign_in(page, world.credentials, "demo_account_manager")
    page.goto(f"/firms/{world.own_firm}")
    graph = page.locator("[data-testid=related-graph-2hop] svg")
    graph.wait_for()
    assert page.locator("[data-testid=related-graph-2hop] circle.node-firm-centre").count() == 1
    people = page.locator("[data-testid=related-graph-2hop] .party-person text").evaluate_all(
        "els => els.map(e => e.textContent)"  # SVG text has no innerText
    )
    assert people and all("*" in name for name in people)
    shot(page, "flow_account_manager_profile_graph")


def test_a_manager_cannot_open_another_branchs_firm(page, world: FlowWorld) -> None:
    sign_in(page, world.credentials, "demo_account_manager")
    response = page.goto(f"/firms/{world.other_branch_firm}")
    assert response is not None and response.status == 404
    assert "not among the firms" in page.inner_text("[data-testid=error-detail]")
    shot(page, "flow_account_manager_other_branch_refused")


# --- risk officer ------------------------------------------------------------------------------


def test_risk_officer_decides_a_referred_application_from_the_queue(page, world: FlowWorld) -> None:
    sign_in(page, world.credentials, "demo_risk_officer")
    page.goto("/reviews")
    queued = world.applications["other"]
    shot(page, "flow_risk_officer_review_queue")
    page.click(f"[data-testid=review-queue] a[href='/applications/{queued}']")
    page.wait_for_selector("[data-testid=review-form]")
    page.check("[data-testid=review-form] input[name=resolution][value=approve]")
    page.fill("[data-testid=review-form] [name=note]", "流水与纳税相符，同意放款")
    page.click("[data-testid=review-form] button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("[data-testid=state]") == "decided"  # approved: on to the offer
    resolved = page.inner_text("[data-testid=resolved]")
    officer = world.credentials["demo_risk_officer"].staff_id
    assert "approve" in resolved and "流水与纳税相符" in resolved
    assert officer in resolved  # the reviewer on record
    shot(page, "flow_risk_officer_review_decided")
    page.goto("/reviews")
    assert page.locator(f"a[href='/applications/{queued}']").count() == 0


def test_risk_officer_runs_a_what_if_replay(page, world: FlowWorld) -> None:
    sign_in(page, world.credentials, "demo_risk_officer")
    page.set_default_timeout(180_000)  # the first visit builds the sentinel's index
    page.goto("/sentinel")
    page.wait_for_selector("[data-testid=sentinel-whatif] form")
    refer = page.locator("input[name=refer_points]")
    page.fill("input[name=reject_points]", "40")
    refer.fill("20")
    page.click("[data-testid=sentinel-whatif] button[type=submit]")
    page.wait_for_selector("[data-testid=sentinel-arms]")
    arms = page.locator("[data-testid=sentinel-arms] tbody tr").all_inner_texts()
    assert len(arms) == 2 and arms[0].startswith("base") and arms[1].startswith("candidate")
    shot(page, "flow_risk_officer_sentinel_what_if")


def _open_warnings_by_branch(world: FlowWorld) -> dict[str, int]:
    """What the scan left open, read from the world's store (not through the page)."""
    from sqlalchemy import func, select

    from puhui.data.store import make_engine, make_session_factory
    from puhui.data.store.alarm_tables import AlarmWarning

    engine = make_engine(f"sqlite:///{(world.data_dir / 'puhui.db').resolve()}")
    try:
        with make_session_factory(engine)() as session:
            rows = session.execute(
                select(AlarmWarning.branch_id, func.count())
                .where(AlarmWarning.status == "open")
                .group_by(AlarmWarning.branch_id)
            ).all()
    finally:
        engine.dispose()
    return {branch or "-": int(n) for branch, n in rows}


def test_risk_officer_sees_two_up_two_control_warnings_and_model_monitoring(
    page, world: FlowWorld
) -> None:
    sign_in(page, world.credentials, "demo_risk_officer")
    page.goto("/portfolio")
    rows = page.locator("[data-testid=two-up-two-control] tbody tr")
    assert rows.count() == 4
    warnings = page.locator("[data-testid=warnings-by-level]")
    warnings.wait_for()
    headers = warnings.locator("thead th").all_inner_texts()
    assert [h.strip() for h in headers[1:5]] == ["红色", "橙色", "黄色", "蓝色"]
    expected = _open_warnings_by_branch(world)
    assert sum(expected.values()) > 0, "the scan left no open warning"
    shown = {
        row.get_attribute("data-branch"): int(row.locator("[data-level=total]").inner_text())
        for row in warnings.locator("tbody tr").all()
    }
    assert shown == expected  # every branch, each with its open warnings
    total = warnings.locator("tfoot [data-level=total]").inner_text()
    assert int(total) == sum(expected.values())
    monitoring = page.locator("[data-testid=model-monitoring] tbody tr")
    names = monitoring.locator("td:first-child").all_inner_texts()
    assert sorted(names) == ["application_pd", "application_pd", "propensity"]
    challenger = page.locator("[data-testid=model-monitoring] tr[data-status=challenger]")
    assert challenger.get_attribute("data-flagged") == "0"  # trained on the book itself
    shot(page, "flow_risk_officer_portfolio_monitoring")


# --- model developer and auditor ---------------------------------------------------------------


def test_model_developer_sees_registry_champion_challenger_and_a_report(
    page, world: FlowWorld
) -> None:
    sign_in(page, world.credentials, "demo_model_developer")
    statuses = page.locator("[data-testid=models] tbody tr").all_inner_texts()
    assert any("champion" in s for s in statuses) and any("challenger" in s for s in statuses)
    shot(page, "flow_model_developer_registry")
    response = page.goto("/models/application_pd/2/report")
    assert response is not None and response.status == 200
    shot(page, "flow_model_developer_validation_report")


def test_auditor_sees_bureau_queries_consents_and_data_access(page, world: FlowWorld) -> None:
    sign_in(page, world.credentials, "demo_auditor")
    bureau = page.inner_text("[data-testid=bureau-log]")
    manager = world.credentials["demo_account_manager"].staff_id
    assert manager in bureau and "served" in bureau and world.own_firm in bureau
    consent = page.inner_text("[data-testid=consent-chain]")
    assert "完整" in consent and "1" in consent
    page.select_option("select[name=action]", "data.view")
    page.click("form.row button")
    page.wait_for_load_state()
    assert "data.view" in page.inner_text("[data-testid=audit-log]")
    shot(page, "flow_auditor_logs")
