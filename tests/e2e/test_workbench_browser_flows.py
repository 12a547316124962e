"""Each role's main flows in headless Chromium, on the pages added for warnings, marketing,
origination, the sentinel, model monitoring and audit (Playwright driving /usr/bin/chromium).

One world per module: the shared 500-firm province with its store copied, the alarm scanned,
two fixture models registered (a champion and a challenger of ``application_pd`` plus the
``propensity`` champion; their quality is not what is tested here), a marketing run built and
allocated, two referred applications, a consent and a bureau query. ``scripts/screenshots.py``
builds the same world for the README's screenshots. Screenshots go to ``tests/e2e/artifacts/``.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
SCAN_DAY = date(2026, 6, 10)
QUEUED_AT = datetime(2026, 1, 5, 2, tzinfo=UTC)
PD_FEATURES = [
    "bureau_ent_overdue_amount_mean_3m",
    "tax_declared_revenue_sum_12m",
    "reg_age_months",
]
TAKEUP_FEATURES = ["ent_queries_count_12m", "tax_declared_revenue_growth_12m", "reg_age_months"]


@dataclass(frozen=True)
class FlowWorld:
    """A served demo world: where it lives, who may sign in, and the ids the flows open."""

    data_dir: Path
    credentials: dict[str, Any]
    warning_id: int
    applications: dict[str, str]  # "own" (the demo manager's branch), "other"
    run_id: str
    other_branch_firm: str
    own_firm: str


# --- the world ---------------------------------------------------------------------------------


def _copy_province(source: Path, folder: Path) -> None:
    """The store and keys copied (the flows write to them); the lake and features linked."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        target = folder / item.name
        if item.name in {"lake", "features", "incoming"}:
            target.symlink_to(item.resolve(), target_is_directory=True)
        elif item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)


def _register_models(data_dir: Path, sessions: Any, as_of: date) -> None:
    """Fixture champions for marketing and monitoring, each with its development baseline.

    ``application_pd`` v1 is trained on the whole universe (the book differs from it: drift);
    v2, the challenger, on the borrowers' own rows (stable by construction)."""
    import numpy as np
    import pandas as pd
    import polars as pl

    from puhui.features.store import load_features
    from puhui.models.artifacts import ModelMetadata
    from puhui.models.gbm import LightGBMChallenger
    from puhui.models.registry import ModelRegistry
    from puhui.models.training import (
        DEVELOPMENT,
        OUT_OF_TIME,
        PD_COLUMN,
        SPLIT_COLUMN,
        TARGET_COLUMN,
        TIME_COLUMN,
        VALIDATION,
    )
    from puhui.web.monitoring import book_usccs

    registry = ModelRegistry(sessions, data_dir / "models")
    frame = load_features(data_dir / "features", as_of)
    book = set(book_usccs(_lake(data_dir)))

    def fit(name: str, features: list[str], rows: pl.DataFrame, label: pl.Series, status: str):
        X = rows.select(features).to_pandas()
        y = label.to_numpy()
        # Rows split 3:1:1 into development, validation and out-of-time (one snapshot only).
        split = np.array([DEVELOPMENT, DEVELOPMENT, DEVELOPMENT, VALIDATION, OUT_OF_TIME])
        split = split[np.arange(len(X)) % 5]
        development = split == DEVELOPMENT
        model = LightGBMChallenger(n_estimators=20, num_leaves=4, min_child_samples=5)
        model.fit(X[development], y[development])
        evaluation = X.copy()
        evaluation[SPLIT_COLUMN] = split
        evaluation[TARGET_COLUMN] = y
        evaluation[PD_COLUMN] = model.predict_proba(X)[:, 1]
        evaluation[TIME_COLUMN] = pd.Timestamp(as_of)
        metadata = ModelMetadata(
            name=name,
            version="",
            kind=model.kind,
            features=features,
            target=name,
            trained_by="S_DEMO_MD",
            trained_at=datetime(2026, 1, 2, tzinfo=UTC),
            metrics={"development": {"auc": 0.7}},
        )
        entry = registry.register(model, metadata, evaluation)
        if status == "champion":
            registry.promote(name, entry.version, actor="S_DEMO_RISK")
        else:
            registry.set_challenger(name, entry.version, actor="S_DEMO_RISK")

    def pd_label(rows: pl.DataFrame) -> pl.Series:
        return rows.select((pl.col("uscc").hash(7) % 25 == 0).cast(pl.Int8)).to_series()

    fit("application_pd", PD_FEATURES, frame, pd_label(frame), "champion")
    borrowers = frame.filter(pl.col("uscc").is_in(sorted(book)))
    label = pd_label(borrowers)
    if label.sum() == 0:  # the toy label needs both classes
        label = pl.Series(np.arange(borrowers.height) % 20 == 0).cast(pl.Int8)
    fit("application_pd", PD_FEATURES, borrowers, label, "challenger")
    takeup = frame.select((pl.col("ent_queries_count_12m").fill_null(0) > 0).cast(pl.Int8))
    fit("propensity", TAKEUP_FEATURES, frame, takeup.to_series(), "champion")


def _lake(data_dir: Path) -> Any:
    from puhui.data.lake import Lake

    return Lake(data_dir / "lake")


def _scan_alarm(data_dir: Path, sessions: Any, manager: Any) -> int:
    """One alarm scan; the riskiest warning of the manager's branch and its tasks handed to
    the demo manager."""
    from sqlalchemy import select, update

    from puhui.actions.alarm.feeds import LakeFeeds
    from puhui.actions.alarm.runner import DuckDBScanEngine
    from puhui.actions.alarm.scan import AlarmScanner
    from puhui.actions.alarm.wiring import feature_lags
    from puhui.data.store.alarm_tables import AlarmTask, AlarmWarning
    from puhui.data.store.tables import Enterprise
    from puhui.decisions.alarm.policy import load_policy
    from puhui.decisions.alarm.spec import load_signal_library

    lake = _lake(data_dir)
    library, lags = load_signal_library(), feature_lags()
    runner = DuckDBScanEngine()
    try:
        AlarmScanner(
            lake=lake,
            sessions=sessions,
            library=library,
            policy=load_policy(),
            lags=lags,
            work_dir=data_dir / "alarm-work",
            feeds=LakeFeeds(lake, library, lags),
        ).scan(SCAN_DAY, runner)
    finally:
        runner.close()
    with sessions.begin() as session:
        ranked = select(AlarmWarning).order_by(AlarmWarning.score.desc())
        # A firm booked in the manager's branch (its profile link then opens for them).
        own = ranked.join(Enterprise, Enterprise.uscc == AlarmWarning.uscc).where(
            Enterprise.branch_id == manager.branch_id
        )
        warning = session.scalars(own).first()
        assert warning is not None, "the alarm scan raised no warning in the manager's branch"
        warning.account_manager_id = manager.staff_id
        warning.branch_id = manager.branch_id
        session.execute(
            update(AlarmTask)
            .where(AlarmTask.warning_id == warning.id)
            .values(assignee_id=manager.staff_id, branch_id=manager.branch_id)
        )
        return warning.id


def _marketing(data_dir: Path, sessions: Any, manager: Any, as_of: date) -> str:
    """A run built and allocated from the CLI; a few prospects handed to the demo manager."""
    from sqlalchemy import select

    from puhui.cli.main import run
    from puhui.data.store.marketing_tables import MarketingAssignment

    argv = ["--data-dir", str(data_dir), "marketing"]
    assert run([*argv, "build", "--as-of", as_of.isoformat(), "--by", "S_DEMO_RISK"]) == 0
    assert run([*argv, "allocate", "--by", "S_DEMO_RISK"]) == 0
    with sessions.begin() as session:
        rows = list(session.scalars(select(MarketingAssignment).order_by(MarketingAssignment.id)))
        assert rows, "the marketing run assigned nobody"
        if not any(r.staff_id == manager.staff_id for r in rows):
            for row in rows[:5]:
                row.staff_id, row.outlet_id = manager.staff_id, manager.branch_id
        return rows[0].run_id


def _applications(sessions: Any, firms: dict[str, str]) -> dict[str, str]:
    """Referred applications waiting for manual review, one per firm, booked where it is."""
    from puhui.data.store.origination_tables import (
        ApplicationTransition,
        LoanApplication,
        ManualReview,
    )
    from puhui.data.store.tables import Enterprise

    ids = {}
    for label, uscc in firms.items():
        application_id = str(uuid.uuid4())
        with sessions.begin() as session:
            branch = session.get(Enterprise, uscc).branch_id
            session.add(
                LoanApplication(
                    application_id=application_id,
                    idempotency_key=f"flow-{label}-{application_id[:8]}",
                    request_hash="0" * 64,
                    channel="wechat",
                    uscc=uscc,
                    requested_product="xiaowei_edai",
                    requested_amount=300_000,
                    branch_id=branch,
                    state="referred",
                    version=1,
                    decision_outcome="refer",
                    decision={"reasons": ["评分属 C 档, 转人工审批"]},
                    created_at=QUEUED_AT,
                    updated_at=QUEUED_AT,
                )
            )
            session.flush()
            session.add(
                ApplicationTransition(
                    application_id=application_id,
                    seq=1,
                    from_state="screened",
                    to_state="referred",
                    action="decide",
                    occurred_at=QUEUED_AT,
                    actor="system",
                    detail={"outcome": "refer"},
                )
            )
            session.add(
                ManualReview(
                    application_id=application_id,
                    queued_at=QUEUED_AT,
                    reason="score band C is referred",
                    branch_id=branch,
                )
            )
        ids[label] = application_id
    return ids


def build_flow_world(folder: Path) -> FlowWorld:
    """Everything the flows open, on a copy of the shared province (about a minute)."""
    from puhui.cli.main import run
    from puhui.data.store import make_engine, make_session_factory
    from support.workbench import AS_OF, other_branch_firm, own_firm, shared_province

    province = shared_province()
    _copy_province(province.data_dir, folder)
    engine = make_engine(f"sqlite:///{(folder / 'puhui.db').resolve()}")
    sessions = make_session_factory(engine)
    manager = province.credentials["demo_account_manager"]
    try:
        _register_models(folder, sessions, AS_OF)
        warning_id = _scan_alarm(folder, sessions, manager)
        run_id = _marketing(folder, sessions, manager, AS_OF)
        firms = {
            "own": own_firm(province, manager.staff_id),
            "other": other_branch_firm(province, {manager.branch_id}),
        }
        applications = _applications(sessions, firms)
    finally:
        engine.dispose()
    base = ["--data-dir", str(folder)]
    grant = ["consent", "grant", "--staff", manager.staff_id, "--uscc", firms["own"]]
    assert run([*base, *grant, "--from-lake", "--scope", "enterprise_report"]) == 0
    query = ["bureau", "query", "--staff", manager.staff_id, "--uscc", firms["own"]]
    assert run([*base, *query, "--purpose", "贷前审查", "--as-of", AS_OF.isoformat()]) == 0
    return FlowWorld(
        data_dir=folder,
        credentials=province.credentials,
        warning_id=warning_id,
        applications=applications,
        run_id=run_id,
        other_branch_firm=firms["other"],
        own_firm=firms["own"],
    )


def flow_app(world: FlowWorld) -> Any:
    """The service over the world; reviews need only the store side of origination."""
    from puhui.actions.access import AccessPolicy
    from puhui.actions.origination.ports import AcceptAnyConsent
    from puhui.actions.origination.service import OriginationService
    from puhui.actions.origination.wiring import Origination
    from puhui.api import create_app
    from puhui.data.store import make_engine, make_session_factory
    from puhui.settings import Settings
    from support.workbench import cheap_passwords

    app = create_app(
        Settings(data_dir=world.data_dir),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )
    engine = make_engine(f"sqlite:///{(world.data_dir / 'puhui.db').resolve()}")
    service = OriginationService(make_session_factory(engine), None, AcceptAnyConsent())  # type: ignore[arg-type]
    app.state.origination = Origination(engine, None, service, None)  # type: ignore[arg-type]
    return app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(app: Any) -> tuple[str, Any, threading.Thread]:
    """uvicorn on a free local port in a daemon thread; returns the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    return f"http://127.0.0.1:{port}", server, thread


def sign_in(page: Any, credentials: dict[str, Any], username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", credentials[username].password)
    page.click("[data-testid=login-submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:500]


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


def test_risk_officer_sees_two_up_two_control_and_model_monitoring(page, world: FlowWorld) -> None:
    sign_in(page, world.credentials, "demo_risk_officer")
    page.goto("/portfolio")
    rows = page.locator("[data-testid=two-up-two-control] tbody tr")
    assert rows.count() == 4
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
