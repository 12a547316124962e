"""The consent signing key file: private keys on disk, readable by the owner only (0600).

The file (JSON) lists every key ever used, newest last, each with its validity window; the
last one without ``valid_until`` is the active signer. ``rotate`` closes the active key's window
and adds a new key, so older consents still verify. This module is the only file I/O of the
consent package. In production the private key would sit in an HSM or KMS; the file keeps the
same shape (key id, window) so that swap touches only this module.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from puhui.actions.consent.records import ConsentError
from puhui.actions.consent.signing import Keyring, PublicKey, Signer
from puhui.data.store.audit_chain import format_timestamp

FILE_VERSION = 1
DEFAULT_KEY_FILE = Path("keys") / "consent_ed25519.json"
KEY_FILE_VARIABLE = "PUHUI_CONSENT_KEY_FILE"


def consent_key_file(data_dir: Path) -> KeyFile:
    """The signing key file: the one ``PUHUI_CONSENT_KEY_FILE`` names, else the data folder's."""
    named = os.environ.get(KEY_FILE_VARIABLE)
    return KeyFile(Path(named) if named else data_dir / DEFAULT_KEY_FILE)


class KeyFileError(ConsentError):
    """The key file is missing, unreadable, malformed or readable by others."""


@dataclass(frozen=True)
class _StoredKey:
    key_id: str
    seed: bytes
    valid_from: datetime
    valid_until: datetime | None

    def public(self) -> PublicKey:
        verify_key = bytes(SigningKey(self.seed).verify_key)
        return PublicKey(self.key_id, verify_key, self.valid_from, self.valid_until)


class KeyFile:
    """The signing keys in one JSON file with owner-only permissions."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def keyring(self) -> Keyring:
        """Public keys of every key in the file (enough to verify, never to sign)."""
        return Keyring(key.public() for key in self._read())

    def signer(self) -> Signer:
        """The active key (the one whose window is still open)."""
        active = [key for key in self._read() if key.valid_until is None]
        if len(active) != 1:
            raise KeyFileError(
                f"key file {self.path} must have exactly one active key (no valid_until); "
                f"it has {len(active)}"
            )
        return Signer(active[0].key_id, SigningKey(active[0].seed))

    def create(self, now: datetime) -> Signer:
        """Write a new key file with one fresh key; refuses to overwrite an existing one."""
        if self.exists():
            raise KeyFileError(f"key file {self.path} already exists; use rotate")
        signer = Signer.generate()
        self._write([_StoredKey(signer.key_id, bytes(signer.signing_key), now, None)])
        return signer

    def ensure(self, now: datetime) -> Signer:
        """The active signer, creating the file with a first key when there is none."""
        return self.signer() if self.exists() else self.create(now)

    def rotate(self, now: datetime) -> Signer:
        """Close the active key's window at ``now`` and make a new key the active one."""
        keys = self._read()
        current = self.signer()
        if now <= next(k.valid_from for k in keys if k.key_id == current.key_id):
            raise KeyFileError(f"cannot rotate key {current.key_id!r} before it became valid")
        fresh = Signer.generate()
        while fresh.key_id in {k.key_id for k in keys}:
            fresh = Signer.generate()
        closed = [
            _StoredKey(k.key_id, k.seed, k.valid_from, now) if k.valid_until is None else k
            for k in keys
        ]
        self._write([*closed, _StoredKey(fresh.key_id, bytes(fresh.signing_key), now, None)])
        return fresh

    # --- file handling ------------------------------------------------------------------------

    def _read(self) -> list[_StoredKey]:
        if not self.exists():
            raise KeyFileError(
                f"consent key file {self.path} does not exist; run `puhui consent keys rotate` "
                "to create it"
            )
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"consent key file {self.path} has permissions {mode:o}; it must be readable by "
                "its owner only (chmod 600)"
            )
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            return [_parse_key(entry) for entry in document["keys"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KeyFileError(f"consent key file {self.path} is malformed: {error}") from error

    def _write(self, keys: list[_StoredKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document: dict[str, Any] = {
            "version": FILE_VERSION,
            "keys": [
                {
                    "key_id": key.key_id,
                    "private_key": key.seed.hex(),
                    "public_key": key.public().public_key.hex(),
                    "valid_from": format_timestamp(key.valid_from),
                    "valid_until": format_timestamp(key.valid_until) if key.valid_until else None,
                }
                for key in keys
            ],
        }
        staging = self.path.with_name(f".{self.path.name}.tmp")
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(descriptor, 0o600)
            os.write(descriptor, json.dumps(document, indent=2).encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(staging, self.path)


def _parse_key(entry: dict[str, Any]) -> _StoredKey:
    until = entry.get("valid_until")
    seed = bytes.fromhex(entry["private_key"])
    if len(seed) != 32:
        raise ValueError(f"key {entry.get('key_id')!r} private_key is not 32 bytes")
    return _StoredKey(
        key_id=str(entry["key_id"]),
        seed=seed,
        valid_from=datetime.fromisoformat(entry["valid_from"]),
        valid_until=datetime.fromisoformat(until) if until else None,
    )
