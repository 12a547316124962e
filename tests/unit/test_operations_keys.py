"""Key rotation by command: consents and node signatures made before still verify."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from operations_factories import grant, migrated, person_id, uscc
from sqlalchemy import select

from puhui.actions.consent.keyfile import KeyFile
from puhui.actions.consent.service import ConsentService
from puhui.cli.main import run
from puhui.data.store.tables import AuditEvent
from puhui.operations.keys import (
    NODE_KEY_VARIABLE,
    KeyRotationError,
    NodeKeyHistory,
    load_node_signing_key,
    rotate_node_key,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PUHUI_STORE_URL", "PUHUI_DATA_DIR", "PUHUI_CONFIG", "PUHUI_CONSENT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def test_rotate_keys_command_keeps_old_consents_verifiable(data_dir: Path) -> None:
    engine, sessions = migrated(data_dir / "puhui.db")
    keys = KeyFile(data_dir / "keys" / "consent_ed25519.json")
    first = keys.create(T0)
    grant(
        sessions,
        first,
        person=person_id(9),
        firm=uscc(9),
        at=T0 + timedelta(days=1),
        keyring=keys.keyring(),
    )

    code = run(["--data-dir", str(data_dir), "ops", "rotate-keys", "--operator", "ADM001"])

    assert code == 0
    second = keys.signer()
    assert second.key_id != first.key_id
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    now = datetime.now(UTC)
    grant(sessions, second, person=person_id(10), firm=uscc(10), at=now, keyring=keys.keyring())
    report = ConsentService(sessions, keys.keyring(), clock=lambda: now).verify()
    assert report.ok and report.entries == 2
    with sessions() as session:
        entry = session.scalars(select(AuditEvent).where(AuditEvent.action == "keys.rotate")).one()
    assert entry.detail["consent"]["retired"] == first.key_id
    assert entry.detail["consent"]["active"] == second.key_id
    assert "private" not in str(entry.detail)
    engine.dispose()


def test_node_key_rotation_keeps_old_signatures_verifiable_in_their_window(tmp_path: Path) -> None:
    node = tmp_path / "bank-node"
    node.mkdir()
    old = SigningKey.generate()
    (node / "node.key").write_text(old.encode().hex() + "\n")
    (node / "node.key").chmod(0o600)
    message = b"joint job 42 result"
    old_signature = old.sign(message).signature.hex()
    rotated_at = T0 + timedelta(days=30)

    rotation = rotate_node_key(node, rotated_at, environ={})

    new = load_node_signing_key(node, environ={})
    assert new.verify_key.encode().hex() == rotation.new_public_key != rotation.old_public_key
    assert (node / "node.pub").read_text().strip() == rotation.new_public_key
    assert stat.S_IMODE(rotation.retired_key_file.stat().st_mode) == 0o600
    history = NodeKeyHistory.load(node)
    assert history.verify(message, old_signature, rotated_at - timedelta(days=1))
    assert not history.verify(message, old_signature, rotated_at + timedelta(seconds=1))
    new_signature = new.sign(message).signature.hex()
    assert history.verify(message, new_signature, rotated_at + timedelta(days=1))
    assert not history.verify(message, new_signature, rotated_at - timedelta(days=1))

    # A second rotation closes the second key's window and keeps all three.
    rotate_node_key(node, rotated_at + timedelta(days=30), environ={})
    assert len(NodeKeyHistory.load(node).keys) == 3
    assert NodeKeyHistory.load(node).verify(message, old_signature, rotated_at - timedelta(days=1))


def test_node_key_from_the_environment_is_loaded_but_not_rotated_here(tmp_path: Path) -> None:
    seed = SigningKey.generate()
    environ = {NODE_KEY_VARIABLE: seed.encode().hex()}

    assert load_node_signing_key(tmp_path, environ=environ).encode() == seed.encode()
    with pytest.raises(KeyRotationError, match="secret store"):
        rotate_node_key(tmp_path, T0, environ=environ)
    with pytest.raises(KeyRotationError, match="not a 32-byte hex seed"):
        load_node_signing_key(tmp_path, environ={NODE_KEY_VARIABLE: "abc"})
