"""The demo world of the workbench's browser flows (工作台演示环境), built once per test module and
by ``scripts/screenshots.py`` for the README.

On a copy of the shared 500-firm province (``support.workbench``): the store copied, the alarm
scanned (the riskiest warning of the demo manager's branch handed to them), fixture models
registered (a champion and a challenger of ``application_pd`` plus the ``propensity`` champion;
their quality is not what is tested), a marketing run built and allocated, two referred
applications, a consent and a bureau query. Also serving it with uvicorn on a free local port
and signing in through the login form.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from support.workbench import (
    AS_OF,
    cheap_passwords,
    other_branch_firm,
    own_firm,
    shared_province,
)

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, driven by Playwright
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
