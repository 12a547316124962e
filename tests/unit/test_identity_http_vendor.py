"""The HTTP vendor adapter against a fake vendor server started on a free local port:
success, mismatch, time-out with retries, the circuit breaker, and signed requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from puhui.adapters.identity.http_vendor import HttpVendorProvider, VendorConfig
from puhui.adapters.identity.provider import (
    CircuitOpenError,
    FaceRequest,
    InvalidIdentityInputError,
    ThreeFactorRequest,
    VendorError,
    VendorTimeoutError,
)
from puhui.data.identifiers import id_check_char
from puhui.data.store.consent_tables import AttemptOutcome

SECRET = "s3cret"
PERSON = "33010219800101001" + id_check_char("33010219800101001")
REQUEST = ThreeFactorRequest("张三", PERSON, "13800001234")


class FakeVendor:
    """What the fake vendor does next: answer, stall, or fail; and what it received."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.requests: list[dict] = []  # type: ignore[type-arg]
        self.bad_signatures = 0


def _handler(vendor: FakeVendor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = hmac.new(
                SECRET.encode(), self.headers["X-Timestamp"].encode() + b"\n" + body, hashlib.sha256
            ).hexdigest()
            if not hmac.compare_digest(expected, self.headers.get("X-Signature", "")):
                vendor.bad_signatures += 1
                self._send(401, {"error": "bad signature"})
                return
            payload = json.loads(body)
            vendor.requests.append({"path": self.path, **payload})
            if vendor.delay:
                time.sleep(vendor.delay)
            if vendor.mode == "error":
                self._send(503, {"error": "overloaded"})
                return
            number = len(vendor.requests)
            if self.path == "/v1/face":
                live = vendor.mode != "spoof"
                self._send(
                    200,
                    {
                        "request_id": f"F{number}",
                        "result": "match",
                        "live": live,
                        "similarity": 0.93,
                    },
                )
                return
            verdict = "mismatch" if vendor.mode == "mismatch" else "match"
            self._send(200, {"request_id": f"R{number}", "result": verdict, "reason": verdict})

        def _send(self, status: int, answer: dict) -> None:  # type: ignore[type-arg]
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def vendor() -> Iterator[tuple[FakeVendor, str]]:
    fake = FakeVendor()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _provider(url: str, clock: Clock, sleeps: list[float], **config: object) -> HttpVendorProvider:
    settings = {"timeout_seconds": 2.0, "retries": 2, "backoff_seconds": 0.5, **config}
    return HttpVendorProvider(
        VendorConfig(base_url=url, app_id="puhui", secret=SECRET, **settings),  # type: ignore[arg-type]
        clock=clock,
        sleep=sleeps.append,
    )


def test_three_factor_match_passes_with_a_signed_request(vendor) -> None:
    fake, url = vendor
    provider = _provider(url, Clock(), [])

    result = provider.verify_three_factors(REQUEST)

    assert result.outcome is AttemptOutcome.PASSED and result.result_id == "R1"
    assert fake.requests[0]["id_number"] == PERSON and fake.bad_signatures == 0
    assert len(result.evidence_hash) == 64


def test_three_factor_mismatch_is_an_answer_not_an_error(vendor) -> None:
    fake, url = vendor
    fake.mode = "mismatch"

    result = _provider(url, Clock(), []).verify_three_factors(REQUEST)

    assert result.outcome is AttemptOutcome.MISMATCH and not result.passed


def test_face_that_matches_but_is_not_live_fails(vendor) -> None:
    fake, url = vendor
    fake.mode = "spoof"

    result = _provider(url, Clock(), []).verify_face(FaceRequest(b"ref", [b"f1", b"f2", b"f3"]))

    assert result.outcome is AttemptOutcome.NOT_LIVE and result.live is False
    assert result.score == pytest.approx(0.93)


def test_timeout_is_retried_with_backoff_then_reported(vendor) -> None:
    fake, url = vendor
    fake.delay = 0.6
    sleeps: list[float] = []
    provider = _provider(url, Clock(), sleeps, timeout_seconds=0.1, retries=2)

    with pytest.raises(VendorTimeoutError, match="after 3 tries"):
        provider.verify_three_factors(REQUEST)

    assert sleeps == [0.5, 1.0]


def test_wrong_credentials_fail_at_once_without_retry(vendor) -> None:
    fake, url = vendor
    sleeps: list[float] = []
    provider = HttpVendorProvider(
        VendorConfig(base_url=url, app_id="puhui", secret="wrong"), sleep=sleeps.append
    )

    with pytest.raises(VendorError, match="HTTP 401"):
        provider.verify_three_factors(REQUEST)

    assert fake.bad_signatures == 1 and sleeps == []


def test_circuit_opens_after_repeated_failures_and_half_opens_later(vendor) -> None:
    fake, url = vendor
    fake.mode = "error"
    clock = Clock()
    provider = _provider(
        url, clock, [], retries=0, failure_threshold=2, reset_after=timedelta(seconds=30)
    )

    for _ in range(2):
        with pytest.raises(VendorError, match="HTTP 503"):
            provider.verify_three_factors(REQUEST)
    calls = len(fake.requests)
    with pytest.raises(CircuitOpenError, match="circuit open"):
        provider.verify_three_factors(REQUEST)
    assert len(fake.requests) == calls  # refused without calling the vendor

    clock.now += timedelta(seconds=31)
    fake.mode = "ok"
    assert provider.breaker.state == "half_open"
    assert provider.verify_three_factors(REQUEST).passed
    assert provider.breaker.state == "closed"


def test_a_failed_trial_call_reopens_the_circuit(vendor) -> None:
    fake, url = vendor
    fake.mode = "error"
    clock = Clock()
    provider = _provider(url, clock, [], retries=0, failure_threshold=1)
    with pytest.raises(VendorError):
        provider.verify_three_factors(REQUEST)
    clock.now += timedelta(seconds=31)

    with pytest.raises(VendorError, match="HTTP 503"):
        provider.verify_three_factors(REQUEST)

    assert provider.breaker.state == "open"


def test_identity_number_with_a_wrong_check_digit_is_refused_before_any_call() -> None:
    wrong = PERSON[:17] + ("1" if PERSON[17] != "1" else "2")
    with pytest.raises(InvalidIdentityInputError, match="check character"):
        ThreeFactorRequest("张三", wrong, "13800001234")
