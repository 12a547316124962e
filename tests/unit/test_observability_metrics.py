"""/metrics after some requests, /healthz and /readyz (store down or lake missing → 503)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from operations_factories import migrated, uscc

from puhui.api import create_app
from puhui.observability import metrics
from puhui.observability.metrics import sample_value
from puhui.observability.middleware import ObservabilityMiddleware
from puhui.settings import Settings


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("observability")
    engine, _sessions = migrated(root / "puhui.db")
    engine.dispose()
    (root / "lake").mkdir()
    return root


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=data_dir), web=False)) as test_client:
        yield test_client


def requests(route: str, status: str, method: str = "GET") -> float:
    return sample_value(
        "puhui_http_requests_total", {"method": method, "route": route, "status": status}
    )


def test_metrics_count_requests_per_route_template_and_status(client: TestClient) -> None:
    before_health = requests("/healthz", "200")
    before_profile = requests("/api/v1/enterprises/{uscc}/profile", "401")
    before_unmatched = requests("unmatched", "404")

    for _ in range(3):
        assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get(f"/api/v1/enterprises/{uscc(5)}/profile").status_code == 401
    assert client.get("/no/such/page").status_code == 404

    body = client.get("/metrics")
    assert body.status_code == 200
    assert body.headers["content-type"].startswith("text/plain")
    text = body.text
    assert requests("/healthz", "200") - before_health == 3
    assert requests("/api/v1/enterprises/{uscc}/profile", "401") - before_profile == 1
    assert requests("unmatched", "404") - before_unmatched == 1
    assert (
        'puhui_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz"}'
        in text
    )
    # The firm's USCC never becomes a label.
    assert uscc(5) not in text
    for name in (
        "puhui_decisions_total",
        "puhui_sentinel_hits_total",
        "puhui_alarm_warnings_total",
        "puhui_job_duration_seconds",
        "puhui_job_lag_seconds",
        "process_cpu_seconds_total",
    ):
        assert f"# HELP {name.removesuffix('_total')}" in text or name in text


def test_domain_counters_are_importable_and_exposed(client: TestClient) -> None:
    metrics.DECISIONS.labels(outcome="approve").inc()
    metrics.SENTINEL_HITS.labels(strategy="shared_device").inc(2)
    metrics.WARNINGS.labels(level="red").inc()

    text = client.get("/metrics").text
    assert 'puhui_decisions_total{outcome="approve"}' in text
    assert 'puhui_sentinel_hits_total{strategy="shared_device"}' in text
    assert 'puhui_alarm_warnings_total{level="red"}' in text


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    echoed = client.get("/healthz", headers={"X-Request-ID": "lb-123"})
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})

    assert echoed.headers["x-request-id"] == "lb-123"
    assert generated.headers["x-request-id"] not in {"", "bad id with spaces"}


def test_ready_when_store_and_lake_answer(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {
        "store": {"ok": True, "detail": "ok"},
        "lake": {"ok": True, "detail": "ok"},
    }


def test_not_ready_when_the_store_is_down_but_still_alive(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    settings = Settings(
        data_dir=tmp_path, store_url="postgresql+psycopg://puhui@127.0.0.1:1/nothing"
    )
    with TestClient(create_app(settings, web=False)) as down:
        assert down.get("/healthz").status_code == 200
        response = down.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["store"]["ok"] is False and "cannot reach the store" in checks["store"]["detail"]
    assert checks["lake"]["ok"] is True


def test_not_ready_when_the_lake_is_missing(data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, store_url=f"sqlite:///{data_dir / 'puhui.db'}")
    with TestClient(create_app(settings, web=False)) as no_lake:
        response = no_lake.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["lake"]["ok"] is False


def test_unhandled_errors_count_as_server_errors() -> None:
    app = FastAPI()
    app.add_middleware(ObservabilityMiddleware)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("broken")

    before = sample_value("puhui_http_errors_total", {"method": "GET", "route": "/boom"})
    with TestClient(app, raise_server_exceptions=False) as test_client:
        assert test_client.get("/boom").status_code == 500

    assert (
        sample_value("puhui_http_errors_total", {"method": "GET", "route": "/boom"}) == before + 1
    )
