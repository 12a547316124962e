"""Property-based fuzzing of the OpenAPI document (schemathesis): no 500s, and every bad input
gets a 4xx whose body says what was wrong. Bounded to a few dozen examples per operation."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from puhui.actions.access import AccessPolicy  # noqa: E402
from puhui.api import create_app  # noqa: E402
from puhui.settings import Settings  # noqa: E402
from support.workbench import cheap_passwords, shared_province  # noqa: E402

pytestmark = pytest.mark.integration

PROVINCE = shared_province()
APP = create_app(
    Settings(data_dir=PROVINCE.data_dir),
    passwords=cheap_passwords(),
    policy=AccessPolicy(client_attempts=1_000_000, max_failures=1_000_000),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


def _token(username: str) -> str:
    case_client = schemathesis.openapi.from_asgi("/openapi.json", APP)  # same app, fresh client
    del case_client
    from fastapi.testclient import TestClient

    with TestClient(APP) as client:
        password = PROVINCE.credentials[username].password
        body = {"username": username, "password": password}
        return client.post("/api/v1/auth/token", json=body).json()["access_token"]


HEADERS = {"Authorization": f"Bearer {_token('demo_account_manager')}"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_500_and_every_4xx_explains_itself(case) -> None:  # type: ignore[no-untyped-def]
    if case.operation.path == "/api/v1/auth/logout":
        pytest.skip("would revoke the token the other cases use")
    response = case.call(headers=HEADERS)
    assert response.status_code < 500, (case.path, response.text[:300])
    if 400 <= response.status_code < 500:
        detail = response.json().get("detail")
        assert detail, (case.path, response.text[:300])
