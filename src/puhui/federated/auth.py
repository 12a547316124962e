"""Mutual authentication between nodes: Ed25519-signed requests and responses (PyNaCl).

Every request carries the sender's role, a timestamp and a random nonce, and a signature over
``method, path, role, timestamp, nonce, sha256(body)``. The receiver checks the signature with the
peer's public key, refuses timestamps outside a window and any nonce it has already seen inside
it (replay). Each response is signed over the request's nonce and its own body hash, so the
caller knows the answer came from the peer and belongs to its request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from puhui.federated.errors import AuthenticationError, FederatedError, ReplayError

HEADER_ROLE = "x-puhui-node"
HEADER_TIMESTAMP = "x-puhui-timestamp"
HEADER_NONCE = "x-puhui-nonce"
HEADER_SIGNATURE = "x-puhui-signature"
DEFAULT_WINDOW_SECONDS = 120.0
KEY_FILE = "node.key"
PUBLIC_KEY_FILE = "node.pub"
PEER_KEY_FILE = "peer.pub"


def _request_message(
    method: str, path: str, role: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join(["req", method.upper(), path, role, timestamp, nonce, digest]).encode()


def _response_message(status: int, role: str, request_nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join(["resp", str(status), role, request_nonce, digest]).encode()


@dataclass(frozen=True)
class NodeIdentity:
    """A node's role and its Ed25519 signing key (the private half never leaves its folder)."""

    role: str
    signing_key: SigningKey

    @property
    def public_key_hex(self) -> str:
        return self.signing_key.verify_key.encode().hex()

    def sign_request(self, method: str, path: str, body: bytes) -> dict[str, str]:
        """Headers that authenticate ``body`` sent to ``path``."""
        timestamp = f"{time.time():.3f}"
        nonce = secrets.token_hex(16)
        message = _request_message(method, path, self.role, timestamp, nonce, body)
        signature = self.signing_key.sign(message).signature.hex()
        return {
            HEADER_ROLE: self.role,
            HEADER_TIMESTAMP: timestamp,
            HEADER_NONCE: nonce,
            HEADER_SIGNATURE: signature,
        }

    def sign_response(self, status: int, request_nonce: str, body: bytes) -> dict[str, str]:
        """Headers binding a response body to the request it answers."""
        message = _response_message(status, self.role, request_nonce, body)
        return {
            HEADER_ROLE: self.role,
            HEADER_SIGNATURE: self.signing_key.sign(message).signature.hex(),
        }


def load_or_create_identity(data_dir: Path, role: str) -> NodeIdentity:
    """The node's key from ``<data_dir>/node.key``, created (mode 0600) on first use."""
    key_path = Path(data_dir) / KEY_FILE
    if key_path.is_file():
        try:
            key = SigningKey(bytes.fromhex(key_path.read_text().strip()))
        except ValueError as error:
            raise FederatedError(f"node key {key_path} is not a 32-byte hex seed") from error
    else:
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key = SigningKey.generate()
        key_path.write_text(key.encode().hex() + "\n")
        key_path.chmod(0o600)
    (Path(data_dir) / PUBLIC_KEY_FILE).write_text(key.verify_key.encode().hex() + "\n")
    return NodeIdentity(role=role, signing_key=key)


def parse_public_key(text: str, source: str) -> VerifyKey:
    """A peer's Ed25519 public key from hex; ``source`` names where it came from."""
    try:
        raw = bytes.fromhex(text.strip())
        if len(raw) != 32:
            raise ValueError("length")
        return VerifyKey(raw)
    except ValueError as error:
        raise FederatedError(f"peer public key from {source} is not 32 bytes of hex") from error


def load_peer_key(data_dir: Path, override: str | None = None) -> VerifyKey:
    """The peer's public key: ``override`` hex, else ``<data_dir>/peer.pub``."""
    if override:
        return parse_public_key(override, "--peer-key")
    path = Path(data_dir) / PEER_KEY_FILE
    if not path.is_file():
        raise FederatedError(f"no peer public key: write it to {path} or pass --peer-key")
    return parse_public_key(path.read_text(), str(path))


class NonceCache:
    """Nonces seen within the time window; a repeat is a replay."""

    def __init__(self, window_seconds: float, capacity: int = 200_000) -> None:
        self.window_seconds = window_seconds
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check_and_add(self, nonce: str, now: float) -> None:
        with self._lock:
            while self._seen:
                oldest, seen_at = next(iter(self._seen.items()))
                if now - seen_at <= 2 * self.window_seconds and len(self._seen) < self.capacity:
                    break
                self._seen.pop(oldest)
            if nonce in self._seen:
                raise ReplayError(f"nonce {nonce} was already used: replayed request refused")
            self._seen[nonce] = now


class RequestVerifier:
    """Checks requests from one peer: role, signature, timestamp window and nonce."""

    def __init__(
        self,
        peer_role: str,
        peer_keys: Mapping[str, VerifyKey],
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.peer_role = peer_role
        self.peer_keys = dict(peer_keys)
        self.window_seconds = window_seconds
        self.clock = clock
        self.nonces = NonceCache(window_seconds)

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
        """The sender's role if the request is authentic and fresh; raises otherwise."""
        lowered = {key.lower(): value for key, value in headers.items()}
        missing = [
            name
            for name in (HEADER_ROLE, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
            if name not in lowered
        ]
        if missing:
            raise AuthenticationError(f"request to {path} lacks header(s) {', '.join(missing)}")
        role = lowered[HEADER_ROLE]
        key = self.peer_keys.get(role)
        if key is None:
            raise AuthenticationError(f"request to {path} from unknown node role {role!r}")
        timestamp, nonce = lowered[HEADER_TIMESTAMP], lowered[HEADER_NONCE]
        message = _request_message(method, path, role, timestamp, nonce, body)
        try:
            key.verify(message, bytes.fromhex(lowered[HEADER_SIGNATURE]))
        except (BadSignatureError, ValueError) as error:
            raise AuthenticationError(
                f"request to {path} from {role!r}: bad signature (wrong key or tampered body)"
            ) from error
        try:
            sent_at = float(timestamp)
        except ValueError as error:
            raise AuthenticationError(f"request to {path}: timestamp {timestamp!r}") from error
        now = self.clock()
        if abs(now - sent_at) > self.window_seconds:
            raise ReplayError(
                f"request to {path} from {role!r} is {now - sent_at:.0f} s old; "
                f"window is {self.window_seconds:.0f} s"
            )
        self.nonces.check_and_add(f"{role}:{nonce}", now)
        return role


def verify_response(
    peer_key: VerifyKey,
    peer_role: str,
    status: int,
    request_nonce: str,
    headers: Mapping[str, str],
    body: bytes,
) -> None:
    """Raise unless the response is signed by the peer and bound to our request's nonce."""
    lowered = {key.lower(): value for key, value in headers.items()}
    role, signature = lowered.get(HEADER_ROLE), lowered.get(HEADER_SIGNATURE)
    if role != peer_role or signature is None:
        raise AuthenticationError(f"response lacks the {peer_role} node's signature")
    try:
        peer_key.verify(
            _response_message(status, role, request_nonce, body), bytes.fromhex(signature)
        )
    except (BadSignatureError, ValueError) as error:
        raise AuthenticationError(
            f"response from {peer_role!r}: bad signature (wrong key or tampered body)"
        ) from error
