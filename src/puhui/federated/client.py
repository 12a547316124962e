"""Signed HTTP calls to the peer node (httpx); every response's signature is checked too."""

from __future__ import annotations

import json
from typing import Any

import httpx
from nacl.signing import VerifyKey

from puhui.federated.auth import HEADER_NONCE, NodeIdentity, verify_response
from puhui.federated.errors import PeerError


class PeerClient:
    """Posts signed bodies to one peer and counts the bytes on the wire both ways."""

    def __init__(
        self,
        base_url: str,
        identity: NodeIdentity,
        peer_key: VerifyKey,
        peer_role: str,
        timeout: float | None = 600.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity = identity
        self.peer_key = peer_key
        self.peer_role = peer_role
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self.bytes_sent = 0
        self.bytes_received = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PeerClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def post(self, path: str, body: bytes = b"") -> bytes:
        """POST ``body``; the peer's verified response body, or ``PeerError`` with its reason."""
        headers = self.identity.sign_request("POST", path, body)
        try:
            response = self._http.post(path, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise PeerError(f"{self.peer_role} node at {self.base_url}{path}: {error}") from error
        self.bytes_sent += len(body) + sum(len(k) + len(v) for k, v in headers.items())
        self.bytes_received += len(response.content)
        verify_response(
            self.peer_key,
            self.peer_role,
            response.status_code,
            headers[HEADER_NONCE],
            response.headers,
            response.content,
        )
        if response.status_code != 200:
            try:
                reason = response.json().get("detail", response.text)
            except ValueError:
                reason = response.text
            raise PeerError(
                f"{self.peer_role} node refused {path} ({response.status_code}): {reason}"
            )
        return response.content

    def post_json(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a JSON object and decode the JSON answer."""
        return json.loads(self.post(path, json.dumps(payload or {}).encode()))

    def post_json_bytes(self, path: str, payload: dict[str, Any]) -> bytes:
        """POST a JSON object and return the raw (binary) answer."""
        return self.post(path, json.dumps(payload).encode())

    @property
    def bytes_total(self) -> int:
        return self.bytes_sent + self.bytes_received
