"""An external identity-verification vendor over HTTP (httpx), with retries and a circuit breaker.

The wire contract (what the fake vendor in the tests serves, and what a real vendor's adapter
maps to):

- ``POST {base_url}/v1/three-factor`` ``{"name", "id_number", "phone"}``
  → ``{"request_id", "result": "match" | "mismatch", "reason"}``
- ``POST {base_url}/v1/face`` ``{"reference": base64, "frames": [base64, ...]}``
  → ``{"request_id", "result": "match" | "mismatch", "live": bool, "similarity": float}``

Requests carry ``X-App-Id``, ``X-Timestamp`` and ``X-Signature`` (hex HMAC-SHA256 of
``timestamp + "\\n" + body`` with the app secret). Time-outs, connection failures, 429 and 5xx
are retried with exponential backoff; other 4xx are not. After ``failure_threshold`` calls in a
row fail for good, the breaker opens and calls fail fast for ``reset_after``; then one trial
call decides whether it closes again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from puhui.actions.consent.records import VerificationKind
from puhui.adapters.identity.provider import (
    CircuitOpenError,
    FaceRequest,
    ThreeFactorRequest,
    VendorError,
    VendorTimeoutError,
    VerificationResult,
)
from puhui.data.store.consent_tables import AttemptOutcome
from puhui.data.store.tables import utc_now

_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class VendorConfig:
    """Where the vendor is, how to sign requests, and how patient to be."""

    base_url: str
    app_id: str
    secret: str
    timeout_seconds: float = 5.0
    retries: int = 2
    backoff_seconds: float = 0.5
    backoff_cap_seconds: float = 4.0
    failure_threshold: int = 3
    reset_after: timedelta = timedelta(seconds=30)
    name: str = "vendor"

    def __repr__(self) -> str:
        return f"VendorConfig(base_url={self.base_url!r}, app_id={self.app_id!r}, secret=***)"


class CircuitBreaker:
    """Closed → open after ``threshold`` failures in a row → half-open after ``reset_after``."""

    def __init__(
        self, threshold: int, reset_after: timedelta, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.threshold = threshold
        self.reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at: datetime | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() >= self._opened_at + self.reset_after else "open"

    def before_call(self, what: str) -> None:
        """Refuse the call while open; in half-open, let one trial through."""
        if self.state == "open":
            assert self._opened_at is not None
            until = self._opened_at + self.reset_after
            raise CircuitOpenError(
                f"{what}: circuit open after {self._failures} failed calls in a row; "
                f"not calling the vendor until {until.isoformat()}"
            )

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def record_failure(self) -> None:
        self._failures += 1
        if self._failures >= self.threshold or self._opened_at is not None:
            self._opened_at = self._clock()


class HttpVendorProvider:
    """``IdentityProvider`` backed by an external vendor's HTTP API."""

    def __init__(
        self,
        config: VendorConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self._clock = clock
        self._sleep = sleep
        self.breaker = CircuitBreaker(config.failure_threshold, config.reset_after, clock)
        self._client = httpx.Client(
            base_url=config.base_url, timeout=config.timeout_seconds, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def verify_three_factors(self, request: ThreeFactorRequest) -> VerificationResult:
        body = {"name": request.name, "id_number": request.id_number, "phone": request.phone}
        answer = self._call("/v1/three-factor", body)
        return self._result(VerificationKind.THREE_FACTOR, answer)

    def verify_face(self, request: FaceRequest) -> VerificationResult:
        body = {
            "reference": base64.b64encode(request.reference).decode(),
            "frames": [base64.b64encode(frame).decode() for frame in request.frames],
        }
        answer = self._call("/v1/face", body)
        base = self._result(VerificationKind.FACE, answer)
        live = bool(answer.get("live"))
        spoofed = base.passed and not live
        return replace(
            base,
            outcome=AttemptOutcome.NOT_LIVE if spoofed else base.outcome,
            reason="vendor: liveness check failed" if spoofed else base.reason,
            score=answer.get("similarity"),
            live=live,
        )

    def _result(self, kind: VerificationKind, answer: dict[str, Any]) -> VerificationResult:
        verdict = answer.get("result")
        if verdict not in {"match", "mismatch"} or not answer.get("request_id"):
            raise VendorError(f"{self.name}: unexpected answer {str(answer)[:200]}")
        return VerificationResult(
            kind=kind,
            provider=self.name,
            outcome=AttemptOutcome.PASSED if verdict == "match" else AttemptOutcome.MISMATCH,
            result_id=str(answer["request_id"]),
            checked_at=self._clock(),
            reason=str(answer.get("reason") or ""),
        )

    def _headers(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(self._clock().timestamp()))
        signature = hmac.new(
            self.config.secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256
        ).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-App-Id": self.config.app_id,
            "X-Timestamp": timestamp,
            "X-Signature": signature,
        }

    def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        what = f"{self.name} {path}"
        self.breaker.before_call(what)
        body = json.dumps(payload, ensure_ascii=False).encode()
        last_problem = ""
        timed_out = False
        for attempt in range(self.config.retries + 1):
            if attempt:
                delay = min(
                    self.config.backoff_seconds * 2 ** (attempt - 1),
                    self.config.backoff_cap_seconds,
                )
                self._sleep(delay)
            try:
                response = self._client.post(path, content=body, headers=self._headers(body))
            except httpx.TimeoutException:
                timed_out, last_problem = True, f"no answer within {self.config.timeout_seconds} s"
                continue
            except httpx.TransportError as error:
                timed_out, last_problem = False, f"connection failed: {error}"
                continue
            if response.status_code in _RETRYABLE_STATUS:
                timed_out, last_problem = False, f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                # The request itself is wrong (credentials, payload); retrying will not help,
                # and it says nothing about the vendor's health.
                raise VendorError(f"{what}: HTTP {response.status_code}: {response.text[:200]}")
            try:
                answer = response.json()
            except ValueError as error:
                self.breaker.record_failure()
                raise VendorError(f"{what}: answer is not JSON") from error
            self.breaker.record_success()
            return dict(answer)
        self.breaker.record_failure()
        tries = self.config.retries + 1
        if timed_out:
            raise VendorTimeoutError(f"{what}: {last_problem} after {tries} tries")
        raise VendorError(f"{what}: {last_problem} after {tries} tries")
