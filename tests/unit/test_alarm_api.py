"""The warnings and task API end to end: an account manager lists their tasks, opens a warning
with its evidence, records the disposal; other managers' tasks stay invisible (404); the
workbench pages render the same."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from puhui.actions.access.policy import AccessPolicy
from puhui.actions.alarm.feeds import LakeFeeds
from puhui.actions.alarm.runner import DuckDBScanEngine
from puhui.actions.alarm.scan import AlarmScanner
from puhui.actions.alarm.wiring import feature_lags
from puhui.api import create_app
from puhui.data.lake import Lake
from puhui.data.store import make_engine, make_session_factory
from puhui.data.store.alarm_tables import AlarmTask, AlarmWarning
from puhui.data.store.tables import AuditEvent
from puhui.decisions.alarm.policy import load_policy
from puhui.decisions.alarm.spec import load_signal_library
from puhui.settings import Settings
from support.workbench import cheap_passwords, shared_province

DAY = date(2026, 6, 10)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The shared province with its store copied, scanned once, and one warning handed to the
    demo account manager (whoever manages the riskiest borrower in the simulation)."""
    province = shared_province()
    folder = tmp_path_factory.mktemp("alarm-api")
    store = folder / "store.db"
    shutil.copy(province.data_dir / "puhui.db", store)
    sessions = make_session_factory(make_engine(f"sqlite:///{store}"))
    lake = Lake(province.data_dir / "lake")
    library, lags = load_signal_library(), feature_lags()
    runner = DuckDBScanEngine()
    AlarmScanner(
        lake=lake,
        sessions=sessions,
        library=library,
        policy=load_policy(),
        lags=lags,
        work_dir=folder / "alarm",
        feeds=LakeFeeds(lake, library, lags),
    ).scan(DAY, runner)
    runner.close()
    manager = province.credentials["demo_account_manager"]
    with sessions.begin() as session:
        warning = session.scalars(select(AlarmWarning).order_by(AlarmWarning.score.desc())).first()
        warning.account_manager_id = manager.staff_id
        warning.branch_id = manager.branch_id
        session.execute(
            update(AlarmTask)
            .where(AlarmTask.warning_id == warning.id)
            .values(assignee_id=manager.staff_id, branch_id=manager.branch_id)
        )
        other = session.scalars(
            select(AlarmTask).where(AlarmTask.assignee_id != manager.staff_id)
        ).first()
        ids = {"warning": warning.id, "other_task": other.id}
    settings = Settings(data_dir=province.data_dir, store_url=f"sqlite:///{store}")
    app = create_app(
        settings, passwords=cheap_passwords(), policy=AccessPolicy(client_attempts=10_000)
    )
    return app, province.credentials, ids, sessions


def login(app, credentials, username: str) -> TestClient:
    client = TestClient(app)
    credential = credentials[username]
    response = client.post(
        "/api/v1/auth/token",
        json={"username": credential.username, "password": credential.password},
    )
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


def test_an_account_manager_disposes_a_task_through_the_api(world):
    app, credentials, ids, sessions = world
    client = login(app, credentials, "demo_account_manager")
    tasks = client.get("/api/v1/alarm/tasks", params={"today": DAY.isoformat()})
    assert tasks.status_code == 200
    mine = [t for t in tasks.json() if t["warning_id"] == ids["warning"]]
    assert len(mine) == 1 and mine[0]["status"] == "open"
    staff = credentials["demo_account_manager"].staff_id
    assert all(staff in (t["assignee_id"], t["escalated_to"]) for t in tasks.json())

    detail = client.get(f"/api/v1/alarm/warnings/{ids['warning']}")
    assert detail.status_code == 200
    body = detail.json()
    evidence = body["warning"]["evidence"]
    assert evidence and {"signal", "value", "date", "source", "zh"} <= set(evidence[0])
    assert body["history"][0]["action"] == "open"

    bad = client.post(
        f"/api/v1/alarm/tasks/{mine[0]['id']}/disposal",
        json={"action": "nonsense", "verification": "x" * 20, "verified_on": DAY.isoformat()},
    )
    assert bad.status_code == 422
    done = client.post(
        f"/api/v1/alarm/tasks/{mine[0]['id']}/disposal",
        json={
            "action": "demand_collateral",
            "verification": "实地走访：主要客户流失，要求追加保证人",
            "site_visit": True,
            "verified_on": DAY.isoformat(),
        },
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done"
    assert done.json()["disposal"]["action"] == "demand_collateral"
    again = client.post(
        f"/api/v1/alarm/tasks/{mine[0]['id']}/disposal",
        json={
            "action": "exit",
            "verification": "a second disposal attempt",
            "verified_on": DAY.isoformat(),
        },
    )
    assert again.status_code == 409
    with sessions() as session:
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "alarm.task.dispose")
        ).all()
        assert [a.actor for a in audit] == [staff]


def test_other_managers_tasks_and_warnings_are_not_found(world):
    app, credentials, ids, _ = world
    client = login(app, credentials, "demo_account_manager_2")
    assert client.get(f"/api/v1/alarm/warnings/{ids['warning']}").status_code == 404
    response = client.post(
        f"/api/v1/alarm/tasks/{ids['other_task']}/disposal",
        json={
            "action": "watch",
            "verification": "not my borrower at all",
            "verified_on": DAY.isoformat(),
        },
    )
    assert response.status_code in (404, 409)
    assert TestClient(app).get("/api/v1/alarm/tasks").status_code == 401


def test_the_risk_officer_sees_every_branch_by_level(world):
    app, credentials, _, _ = world
    client = login(app, credentials, "demo_risk_officer")
    summary = client.get("/api/v1/alarm/summary").json()
    assert len(summary) >= 2 and sum(r["red"] + r["orange"] for r in summary) > 0
    reds = client.get("/api/v1/alarm/warnings", params={"level": "red"}).json()
    assert all(w["level"] == "red" for w in reds)


def test_the_workbench_shows_tasks_and_the_warning_with_its_disposal_form(world):
    app, credentials, ids, sessions = world
    client = TestClient(app)
    credential = credentials["demo_account_manager"]
    login_page = client.get("/login")
    csrf = login_page.text.split('name="csrf" value="')[1].split('"')[0]
    client.post(
        "/login",
        data={"username": credential.username, "password": credential.password, "csrf": csrf},
    )
    tasks = client.get("/alarm/tasks")
    assert tasks.status_code == 200 and "/alarm/warnings/" in tasks.text
    page = client.get(f"/alarm/warnings/{ids['warning']}")
    assert page.status_code == 200 and 'data-testid="evidence"' in page.text
    officer = TestClient(app)
    credential = credentials["demo_risk_officer"]
    csrf = officer.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    officer.post(
        "/login",
        data={"username": credential.username, "password": credential.password, "csrf": csrf},
    )
    # the overview lists the EW-PD the level reads (policy.yaml pd_horizon_months), not another
    months = load_policy().pd_horizon_months
    with sessions.begin() as session:
        session.execute(
            update(AlarmWarning)
            .where(AlarmWarning.id == ids["warning"])
            .values({f"pd_{months}m": 0.0123, "pd_3m": 0.9876, "pd_12m": 0.9876})
        )
    overview = officer.get("/alarm")
    assert overview.status_code == 200 and 'data-testid="by-branch"' in overview.text
    assert f"PD {months}m" in overview.text
    assert "1.23%" in overview.text and "98.76%" not in overview.text
