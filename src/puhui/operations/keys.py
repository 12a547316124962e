"""Key rotation (密钥轮换) for consent-signing keys and joint-modelling node credentials.

Consent keys already live in one owner-only file with a validity window per key
(``puhui.actions.consent.keyfile``); rotating closes the active window and adds a key, so every
consent signed before still verifies against the key that was valid when it was signed.

Node credentials (``<node_dir>/node.key``, an Ed25519 seed) get the same treatment here: the
old seed is kept as ``node.key.retired-<time>`` (0600) and ``node_keys.json`` lists every public
key with its window, so a signature made by the node at a known time can still be checked
after rotation (``NodeKeyHistory.verify``). Keys may come from files or from the environment
(``PUHUI_NODE_KEY`` a hex seed, ``PUHUI_NODE_KEY_FILE`` a path; ``PUHUI_CONSENT_KEY_FILE``
for consents); a key held in an environment variable is rotated in the secret store that
fills the variable, not by this command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from puhui.data.store.audit_chain import format_timestamp
from puhui.errors import PuhuiError

NODE_KEY_VARIABLE = "PUHUI_NODE_KEY"
NODE_KEY_FILE_VARIABLE = "PUHUI_NODE_KEY_FILE"
NODE_KEY_FILE = "node.key"
NODE_PUBLIC_KEY_FILE = "node.pub"
NODE_KEY_HISTORY_FILE = "node_keys.json"


class KeyRotationError(PuhuiError):
    """A key cannot be loaded or rotated: missing, malformed, held in the environment."""


@dataclass(frozen=True)
class NodePublicKey:
    """One public key a node has used and the window in which it signed."""

    public_key_hex: str
    valid_from: datetime | None
    valid_until: datetime | None

    def valid_at(self, moment: datetime) -> bool:
        if self.valid_from is not None and moment < self.valid_from:
            return False
        return self.valid_until is None or moment < self.valid_until


class NodeKeyHistory:
    """Every public key of one node with its window (``node_keys.json``)."""

    def __init__(self, keys: list[NodePublicKey]) -> None:
        self.keys = keys

    @classmethod
    def load(cls, node_dir: Path) -> NodeKeyHistory:
        path = Path(node_dir) / NODE_KEY_HISTORY_FILE
        if not path.is_file():
            current = Path(node_dir) / NODE_PUBLIC_KEY_FILE
            if current.is_file():
                return cls([NodePublicKey(current.read_text().strip(), None, None)])
            return cls([])
        try:
            document = json.loads(path.read_text("utf-8"))
            return cls(
                [
                    NodePublicKey(
                        entry["public_key"],
                        _parse_time(entry.get("valid_from")),
                        _parse_time(entry.get("valid_until")),
                    )
                    for entry in document["keys"]
                ]
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KeyRotationError(f"node key history {path} is malformed: {error}") from error

    def save(self, node_dir: Path) -> None:
        document = {
            "keys": [
                {
                    "public_key": key.public_key_hex,
                    "valid_from": format_timestamp(key.valid_from) if key.valid_from else None,
                    "valid_until": format_timestamp(key.valid_until) if key.valid_until else None,
                }
                for key in self.keys
            ]
        }
        _write_private(
            Path(node_dir) / NODE_KEY_HISTORY_FILE, json.dumps(document, indent=2), 0o644
        )

    def verify(self, message: bytes, signature_hex: str, signed_at: datetime) -> bool:
        """Whether a key valid at ``signed_at`` made this signature over ``message``."""
        for key in self.keys:
            if not key.valid_at(signed_at):
                continue
            try:
                VerifyKey(bytes.fromhex(key.public_key_hex)).verify(
                    message, bytes.fromhex(signature_hex)
                )
            except (BadSignatureError, ValueError):
                continue
            return True
        return False


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _write_private(path: Path, content: str, mode: int = 0o600) -> None:
    """Write atomically with ``mode`` set before any content lands."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(descriptor, mode)
        os.write(descriptor, content.encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(staging, path)


def load_node_signing_key(node_dir: Path, environ: Mapping[str, str] | None = None) -> SigningKey:
    """The node's key: ``PUHUI_NODE_KEY`` (hex), else ``PUHUI_NODE_KEY_FILE``, else
    ``<node_dir>/node.key``."""
    environ = os.environ if environ is None else environ
    if environ.get(NODE_KEY_VARIABLE):
        return _seed(environ[NODE_KEY_VARIABLE], NODE_KEY_VARIABLE)
    path = Path(environ.get(NODE_KEY_FILE_VARIABLE) or Path(node_dir) / NODE_KEY_FILE)
    if not path.is_file():
        raise KeyRotationError(f"node key file {path} does not exist")
    return _seed(path.read_text(), str(path))


def _seed(text: str, source: str) -> SigningKey:
    try:
        raw = bytes.fromhex(text.strip())
        if len(raw) != 32:
            raise ValueError("length")
    except ValueError as error:
        raise KeyRotationError(f"node key from {source} is not a 32-byte hex seed") from error
    return SigningKey(raw)


@dataclass(frozen=True)
class NodeRotation:
    """The result of a node key rotation: old and new public keys, where the old seed went."""

    old_public_key: str
    new_public_key: str
    retired_key_file: Path


def rotate_node_key(
    node_dir: Path, now: datetime, environ: Mapping[str, str] | None = None
) -> NodeRotation:
    """Retire the node's key at ``now`` and make a fresh one active.

    The new public key must then reach the peer (its ``peer.pub``); see the runbook.
    """
    environ = os.environ if environ is None else environ
    if environ.get(NODE_KEY_VARIABLE):
        raise KeyRotationError(
            f"the node key comes from {NODE_KEY_VARIABLE}; rotate it in the secret store that "
            "sets the variable (keep the old public key in node_keys.json for verification)"
        )
    node_dir = Path(node_dir)
    key_path = Path(environ.get(NODE_KEY_FILE_VARIABLE) or node_dir / NODE_KEY_FILE)
    old = load_node_signing_key(node_dir, environ)
    old_public = old.verify_key.encode().hex()
    history = NodeKeyHistory.load(node_dir)
    if not history.keys or history.keys[-1].public_key_hex != old_public:
        history.keys.append(NodePublicKey(old_public, None, None))
    last = history.keys[-1]
    if last.valid_from is not None and now <= last.valid_from:
        raise KeyRotationError(f"cannot rotate node key before it became valid ({last.valid_from})")
    retired = key_path.with_name(f"{key_path.name}.retired-{now.strftime('%Y%m%dT%H%M%S')}")
    _write_private(retired, old.encode().hex() + "\n")
    fresh = SigningKey.generate()
    fresh_public = fresh.verify_key.encode().hex()
    history.keys[-1] = NodePublicKey(last.public_key_hex, last.valid_from, now)
    history.keys.append(NodePublicKey(fresh_public, now, None))
    history.save(node_dir)
    _write_private(key_path, fresh.encode().hex() + "\n")
    _write_private(node_dir / NODE_PUBLIC_KEY_FILE, fresh_public + "\n", 0o644)
    return NodeRotation(old_public, fresh_public, retired)
