"""``GET /api/v1/enterprises/{uscc}/profile``: the CLI's JSON, 404 and 422 with clear details."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from puhui.actions.access.policy import AccessPolicy
from puhui.api import create_app
from puhui.cli.main import run
from puhui.data.identifiers import uscc_check_char
from puhui.features.store import load_features
from puhui.settings import Settings
from support.workbench import AS_OF, cheap_passwords, shared_province


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return shared_province().data_dir


@pytest.fixture(scope="module")
def client(data_dir: Path) -> TestClient:
    """A client logged in as the risk officer, who may open every branch's firms."""
    app = create_app(
        Settings(data_dir=data_dir),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )
    credential = shared_province().credentials["demo_risk_officer"]
    with TestClient(app) as test_client:
        response = test_client.post(
            "/api/v1/auth/token",
            json={"username": credential.username, "password": credential.password},
        )
        assert response.status_code == 200, response.text
        test_client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        yield test_client


@pytest.fixture(scope="module")
def firm(data_dir: Path) -> str:
    frame = load_features(data_dir / "features", AS_OF, columns=["tax_declared_revenue_sum_12m"])
    with_revenue = frame.filter(pl.col("tax_declared_revenue_sum_12m").is_not_null())
    return with_revenue.sort("uscc")["uscc"][0]


def _url(uscc: str) -> str:
    return f"/api/v1/enterprises/{uscc}/profile"


def test_the_api_returns_the_same_json_as_the_cli(client, data_dir, firm, capsys) -> None:
    response = client.get(_url(firm), params={"as_of": AS_OF.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert body["uscc"] == firm and body["as_of"] == "2026-01-01" and body["masked"] is True
    argv = ["--data-dir", str(data_dir), "profile", firm, "--as-of", "2026-01-01", "--json"]
    assert run(argv) == 0
    assert json.loads(capsys.readouterr().out) == body


def test_without_a_date_the_latest_snapshot_is_used(client, firm) -> None:
    response = client.get(_url(firm))
    assert response.status_code == 200 and response.json()["as_of"] == "2026-01-01"


def test_an_unknown_firm_is_404_naming_it(client) -> None:
    first17 = "91330100" + "Y" * 9
    code = first17 + uscc_check_char(first17)
    response = client.get(_url(code))
    assert response.status_code == 404
    assert code in response.json()["detail"]


def test_a_date_without_a_snapshot_is_404_with_the_build_command(client, firm) -> None:
    response = client.get(_url(firm), params={"as_of": "2025-03-01"})
    assert response.status_code == 404
    assert "puhui features build --as-of 2025-03-01" in response.json()["detail"]


def test_a_malformed_uscc_is_422(client, firm) -> None:
    wrong_check = firm[:17] + ("0" if firm[17] != "0" else "1")
    response = client.get(_url(wrong_check))
    assert response.status_code == 422
    assert "统一社会信用代码" in response.json()["detail"]


def test_a_malformed_date_is_422(client, firm) -> None:
    assert client.get(_url(firm), params={"as_of": "2026-13-01"}).status_code == 422


def test_the_openapi_schema_documents_the_profile(client) -> None:
    schema = client.get("/openapi.json").json()
    assert "/api/v1/enterprises/{uscc}/profile" in schema["paths"]
    assert "EnterpriseProfile" in schema["components"]["schemas"]
