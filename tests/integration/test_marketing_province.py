"""Precision marketing end to end on a small province: build the lists from the CLI, allocate,
export, record outcomes and read feedback; the same through the API, scoped by role and
branch; the account manager's page. Models are champions fitted on the province's snapshot
(their quality is not what is tested here; the pipeline is)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from puhui.actions.access.policy import AccessPolicy
from puhui.api import create_app
from puhui.cli.main import run
from puhui.data.store import make_engine, make_session_factory
from puhui.data.store.marketing_tables import MarketingAssignment, MarketingProspect
from puhui.data.store.tables import AuditEvent
from puhui.features.store import load_features
from puhui.models.artifacts import ModelMetadata
from puhui.models.gbm import LightGBMChallenger
from puhui.models.registry import ModelRegistry
from puhui.settings import Settings
from support.workbench import AS_OF, WorkbenchProvince, build_province, cheap_passwords

PD_FEATURES = [
    "bureau_ent_overdue_amount_mean_3m",
    "tax_declared_revenue_sum_12m",
    "reg_age_months",
]
TAKEUP_FEATURES = ["ent_queries_count_12m", "tax_declared_revenue_growth_12m", "reg_age_months"]


def _register(registry: ModelRegistry, data_dir: Path, name: str, features: list[str], label):
    frame = load_features(data_dir / "features", AS_OF, columns=features)
    X = frame.select(features).to_pandas()
    y = label(frame).to_numpy()
    model = LightGBMChallenger(n_estimators=20, num_leaves=4, min_child_samples=5).fit(X, y)
    metadata = ModelMetadata(
        name=name,
        version="",
        kind=model.kind,
        features=features,
        target=name,
        trained_by="test",
        trained_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    entry = registry.register(model, metadata)
    registry.promote(name, entry.version, actor="test")


@pytest.fixture(scope="module")
def province() -> WorkbenchProvince:
    folder = Path(tempfile.mkdtemp(prefix="puhui-marketing-"))
    try:
        built = build_province(folder, enterprises=500, seed=23)
        engine = make_engine(built.store_url)
        try:
            registry = ModelRegistry(make_session_factory(engine), folder / "models")
            # A PD near the province's bad rate (scores in the approving bands) and a take-up
            # label from bureau queries (firms seeking credit); any label would do here.
            _register(
                registry,
                folder,
                "application_pd",
                PD_FEATURES,
                lambda f: f.select((pl.col("uscc").hash(7) % 25 == 0).cast(pl.Int8)).to_series(),
            )
            _register(
                registry,
                folder,
                "propensity",
                TAKEUP_FEATURES,
                lambda f: f.select(
                    (pl.col("ent_queries_count_12m").fill_null(0) > 0).cast(pl.Int8)
                ).to_series(),
            )
        finally:
            engine.dispose()
        yield built
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def built_run(province) -> str:
    argv = ["--data-dir", str(province.data_dir), "marketing"]
    assert run([*argv, "build", "--as-of", AS_OF.isoformat(), "--by", "tester"]) == 0
    assert run([*argv, "allocate", "--by", "tester"]) == 0
    engine = make_engine(province.store_url)
    try:
        with make_session_factory(engine)() as session:
            run_id = session.scalars(select(MarketingProspect.run_id)).first()
    finally:
        engine.dispose()
    assert run_id
    return run_id


def _store(province):
    engine = make_engine(province.store_url)
    return engine, make_session_factory(engine)


def test_the_cli_builds_screens_scores_and_allocates(province, built_run) -> None:
    engine, sessions = _store(province)
    try:
        with sessions() as session:
            prospects = session.scalars(
                select(MarketingProspect).where(MarketingProspect.run_id == built_run)
            ).all()
            assignments = session.scalars(
                select(MarketingAssignment).where(MarketingAssignment.run_id == built_run)
            ).all()
    finally:
        engine.dispose()
    assert prospects, "nothing was listed"
    assert all(p.product_code and p.offer_limit > 0 and p.rate_bp > 0 for p in prospects)
    values = [p.expected_value for p in sorted(prospects, key=lambda p: p.rank)]
    assert values == sorted(values, reverse=True)
    assert len({a.uscc for a in assignments}) == len(assignments) <= len(prospects)
    universe = pl.read_parquet(province.data_dir / "marketing" / built_run / "universe.parquet")
    excluded = universe.filter(pl.col("status") == "excluded")
    assert excluded.height > 0
    assert excluded["exclusion_reasons"].list.len().min() >= 1  # each carries its reason
    assert universe.filter(pl.col("status") == "borrower")["is_prospect"].sum() == 0


def test_export_outcome_and_feedback_from_the_cli(province, built_run, tmp_path, capsys) -> None:
    argv = ["--data-dir", str(province.data_dir), "marketing"]
    assert run([*argv, "export", "--run", built_run, "--out", str(tmp_path)]) == 0
    files = sorted((tmp_path / built_run).glob("*.csv"))
    assert files and all(f.with_suffix(".xlsx").exists() for f in files)
    staff_id = files[0].stem
    engine, sessions = _store(province)
    try:
        with sessions() as session:
            exports = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "marketing.export")
            ).all()
    finally:
        engine.dispose()
    assert [e.subject_id for e in exports] == [built_run]  # the export is audited
    with files[0].open(encoding="utf-8-sig") as handle:
        first = list(csv.reader(handle))[1]
    uscc = first[1]
    assert run([*argv, "outcome", uscc, "contacted", "--staff", staff_id, "--run", built_run]) == 0
    assert run([*argv, "outcome", uscc, "disbursed", "--staff", staff_id, "--run", built_run]) == 0
    assert run([*argv, "outcome", uscc, "applied", "--staff", staff_id, "--run", built_run]) == 1
    capsys.readouterr()
    assert run([*argv, "feedback", "--run", built_run, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["lift"]["converted"] == 1 and payload["extra"]["contacted"] == 1


@pytest.fixture(scope="module")
def app(province, built_run):
    return create_app(
        Settings(data_dir=province.data_dir),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )


def _login(client: TestClient, province, username: str) -> dict[str, str]:
    credential = province.credentials[username]
    response = client.post(
        "/api/v1/auth/token",
        json={"username": credential.username, "password": credential.password},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_the_api_serves_lists_scoped_by_role_and_branch(app, province, built_run) -> None:
    with TestClient(app) as client:
        risk = _login(client, province, "demo_risk_officer")
        runs = client.get("/api/v1/marketing/runs", headers=risk)
        assert runs.status_code == 200 and runs.json()[0]["run_id"] == built_run
        everything = client.get(f"/api/v1/marketing/runs/{built_run}/branches", headers=risk)
        assert everything.status_code == 200
        manager_credential = province.credentials["demo_account_manager"]
        manager = _login(client, province, "demo_account_manager")
        assert client.get("/api/v1/marketing/runs", headers=manager).status_code == 403
        mine = client.get("/api/v1/marketing/my-list", headers=manager)
        assert mine.status_code == 200
        assert all(row["staff_id"] == manager_credential.staff_id for row in mine.json())
        branch = _login(client, province, "demo_branch_manager")
        scoped = client.get(f"/api/v1/marketing/runs/{built_run}/branches", headers=branch)
        assert scoped.status_code == 200
        all_outlets = {row["branch_id"] for row in everything.json()}
        own = {row["branch_id"] for row in scoped.json()}
        assert own < all_outlets or len(all_outlets) == 1
        # An outcome on another manager's prospect is a 404, on one's own a 201.
        engine, sessions = _store(province)
        try:
            with sessions() as session:
                other = session.scalars(
                    select(MarketingAssignment).where(
                        MarketingAssignment.run_id == built_run,
                        MarketingAssignment.staff_id != manager_credential.staff_id,
                        MarketingAssignment.latest_outcome.is_(None),
                    )
                ).first()
        finally:
            engine.dispose()
        url = f"/api/v1/marketing/runs/{built_run}/outcomes"
        refused = client.post(
            url, json={"uscc": other.uscc, "outcome": "contacted"}, headers=manager
        )
        assert refused.status_code == 404
        assert mine.json(), "the demo account manager was given no prospects"
        if mine.json():
            own_uscc = next(r["uscc"] for r in mine.json() if r["latest_outcome"] is None)
            done = client.post(
                url, json={"uscc": own_uscc, "outcome": "contacted"}, headers=manager
            )
            assert done.status_code == 201 and done.json()["outcome"] == "contacted"
            again = client.post(
                url, json={"uscc": own_uscc, "outcome": "contacted"}, headers=manager
            )
            assert again.status_code == 409
            csv_file = client.get(
                f"/api/v1/marketing/runs/{built_run}/export/{manager_credential.staff_id}.csv",
                headers=manager,
            )
            assert csv_file.status_code == 200 and own_uscc in csv_file.text
        other_file = client.get(
            f"/api/v1/marketing/runs/{built_run}/export/{other.staff_id}.xlsx", headers=manager
        )
        assert other_file.status_code == 404
        feedback = client.get(f"/api/v1/marketing/runs/{built_run}/feedback", headers=risk)
        assert feedback.status_code == 200 and feedback.json()["basis"] == "recorded outcomes"
        built = client.post("/api/v1/marketing/runs", json={"as_of": "2026-01-01"}, headers=risk)
        assert built.status_code == 201 and built.json()["listed"] > 0
        allocated = client.post(
            f"/api/v1/marketing/runs/{built.json()['run_id']}/allocation", headers=risk
        )
        assert allocated.status_code == 200 and allocated.json()["placed"] > 0
        assert (
            client.post(
                f"/api/v1/marketing/runs/{built.json()['run_id']}/allocation", headers=risk
            ).status_code
            == 409
        )


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def test_the_account_manager_records_an_outcome_on_the_page(app, province, built_run) -> None:
    username = "demo_account_manager"
    with TestClient(app) as client:
        form = client.get("/login")
        signed = client.post(
            "/login",
            data={
                "username": username,
                "password": province.credentials[username].password,
                "csrf": CSRF.search(form.text).group(1),
                "next": "/",
            },
            follow_redirects=False,
        )
        assert signed.status_code == 303
        page = client.get(f"/marketing?run={built_run}")
        assert page.status_code == 200 and 'data-testid="marketing-list"' in page.text
        token = CSRF.search(page.text).group(1)
        uscc = re.search(r'<tr data-uscc="([0-9A-Z]{18})"><td>[0-9]+</td>', page.text)
        open_rows = re.findall(r'name="uscc" value="([0-9A-Z]{18})"', page.text)
        assert uscc and open_rows
        forged = client.post(
            "/marketing/outcome",
            data={"csrf": "x", "run_id": built_run, "uscc": open_rows[0], "outcome": "contacted"},
        )
        assert forged.status_code == 403
        done = client.post(
            "/marketing/outcome",
            data={"csrf": token, "run_id": built_run, "uscc": open_rows[0], "outcome": "applied"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        after = client.get(done.headers["location"])
        assert f"{open_rows[0]}: applied" in after.text
        branch_view = client.get("/marketing")
        assert 'data-testid="marketing-branches"' not in branch_view.text  # managers see lists
