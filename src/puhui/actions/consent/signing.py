"""Ed25519 signatures over consent payloads, and the keyring that says which key was valid when.

Every payload names the ``key_id`` that signed it. The keyring holds public keys with validity
windows: a signature counts only if its key existed and had not been retired at the moment the
record says it was made. Rotating keys therefore never invalidates old consents, while a retired
key cannot be used to back-date new ones past its retirement. Pure: no files (see ``keyfile``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from puhui.actions.consent.records import ConsentError, canonical_bytes


class ConsentSignatureError(ConsentError):
    """A consent signature does not verify, or names a key the keyring does not know."""


@dataclass(frozen=True)
class PublicKey:
    """One public key of the keyring and the window in which it may sign."""

    key_id: str
    public_key: bytes
    valid_from: datetime
    valid_until: datetime | None = None

    def valid_at(self, moment: datetime) -> bool:
        """Whether this key was the one allowed to sign at ``moment``."""
        if moment < self.valid_from:
            return False
        return self.valid_until is None or moment < self.valid_until


@dataclass(frozen=True)
class Signer:
    """A private key with its id; signs payloads that name this key id."""

    key_id: str
    signing_key: SigningKey = field(repr=False)

    @classmethod
    def generate(cls, key_id: str | None = None) -> Signer:
        """A fresh key; the id is random unless given."""
        return cls(key_id=key_id or f"k-{secrets.token_hex(4)}", signing_key=SigningKey.generate())

    @property
    def public_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    def sign(self, payload: Mapping[str, Any]) -> str:
        """Hex Ed25519 signature over the canonical bytes of ``payload``."""
        if payload.get("key_id") != self.key_id:
            raise ConsentSignatureError(
                f"payload names key {payload.get('key_id')!r} but is being signed with "
                f"key {self.key_id!r}"
            )
        return self.signing_key.sign(canonical_bytes(payload)).signature.hex()


class Keyring:
    """Public keys by id, each with the window in which it was allowed to sign."""

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        self._keys: dict[str, PublicKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise ConsentError(f"keyring lists key {key.key_id!r} twice")
            self._keys[key.key_id] = key

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._keys.values(), key=lambda k: k.valid_from))

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, key_id: str) -> PublicKey:
        try:
            return self._keys[key_id]
        except KeyError:
            raise ConsentSignatureError(f"signing key {key_id!r} is not in the keyring") from None

    def verify(self, payload: Mapping[str, Any], signature_hex: str, signed_at: datetime) -> None:
        """Raise ``ConsentSignatureError`` unless the payload's key signed it within its window."""
        key_id = str(payload.get("key_id"))
        key = self.get(key_id)
        if not key.valid_at(signed_at):
            raise ConsentSignatureError(
                f"key {key_id!r} was not valid at {signed_at.isoformat()} "
                f"(valid from {key.valid_from.isoformat()}"
                + (f" until {key.valid_until.isoformat()})" if key.valid_until else ")")
            )
        try:
            VerifyKey(key.public_key).verify(canonical_bytes(payload), bytes.fromhex(signature_hex))
        except (BadSignatureError, ValueError) as error:
            raise ConsentSignatureError(
                f"signature of consent {payload.get('consent_id')!r} by key {key_id!r} "
                "does not verify (record altered or signed by another key)"
            ) from error
