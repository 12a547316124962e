"""Signed requests between nodes: good ones pass; replays, tampering and wrong keys do not."""

from __future__ import annotations

import json

import pytest
from nacl.signing import SigningKey

from puhui.federated.audit import AuditLog, read_audit_file, verify_audit_file
from puhui.federated.auth import (
    HEADER_NONCE,
    HEADER_TIMESTAMP,
    NodeIdentity,
    RequestVerifier,
    load_or_create_identity,
    verify_response,
)
from puhui.federated.errors import AuthenticationError, FederatedError, ReplayError

BANK = NodeIdentity("bank", SigningKey.generate())
PLATFORM = NodeIdentity("platform", SigningKey.generate())


def _verifier(**kwargs) -> RequestVerifier:
    return RequestVerifier("bank", {"bank": BANK.signing_key.verify_key}, **kwargs)


def test_a_signed_request_is_accepted():
    headers = BANK.sign_request("POST", "/psi/j1/start", b'{"reveal":"both"}')
    assert _verifier().verify("POST", "/psi/j1/start", headers, b'{"reveal":"both"}') == "bank"


def test_a_replayed_request_is_refused():
    verifier, body = _verifier(), b"payload"
    headers = BANK.sign_request("POST", "/lr/j/round1", body)
    verifier.verify("POST", "/lr/j/round1", headers, body)
    with pytest.raises(ReplayError, match="already used"):
        verifier.verify("POST", "/lr/j/round1", headers, body)


def test_a_stale_request_is_refused():
    headers = BANK.sign_request("POST", "/x", b"")
    verifier = _verifier(window_seconds=60, clock=lambda: float(headers[HEADER_TIMESTAMP]) + 600)
    with pytest.raises(ReplayError, match="window"):
        verifier.verify("POST", "/x", headers, b"")


def test_a_tampered_body_or_path_is_refused():
    headers = BANK.sign_request("POST", "/score/m1", b'{"psi_job":"p1"}')
    with pytest.raises(AuthenticationError, match="bad signature"):
        _verifier().verify("POST", "/score/m1", headers, b'{"psi_job":"p2"}')
    headers = BANK.sign_request("POST", "/score/m1", b"")
    with pytest.raises(AuthenticationError, match="bad signature"):
        _verifier().verify("POST", "/score/m2", headers, b"")


def test_a_request_signed_with_the_wrong_key_is_refused():
    impostor = NodeIdentity("bank", SigningKey.generate())
    headers = impostor.sign_request("POST", "/psi/j/start", b"")
    with pytest.raises(AuthenticationError, match="bad signature"):
        _verifier().verify("POST", "/psi/j/start", headers, b"")


def test_an_unknown_role_or_missing_header_is_refused():
    headers = PLATFORM.sign_request("POST", "/x", b"")
    with pytest.raises(AuthenticationError, match="unknown node role"):
        _verifier().verify("POST", "/x", headers, b"")
    headers = BANK.sign_request("POST", "/x", b"")
    del headers[HEADER_NONCE]
    with pytest.raises(AuthenticationError, match="lacks header"):
        _verifier().verify("POST", "/x", headers, b"")


def test_a_response_is_bound_to_its_request_and_signer():
    headers = PLATFORM.sign_response(200, "nonce-1", b"answer")
    verify_response(PLATFORM.signing_key.verify_key, "platform", 200, "nonce-1", headers, b"answer")
    with pytest.raises(AuthenticationError):
        verify_response(
            PLATFORM.signing_key.verify_key, "platform", 200, "nonce-2", headers, b"answer"
        )
    with pytest.raises(AuthenticationError):
        verify_response(
            PLATFORM.signing_key.verify_key, "platform", 200, "nonce-1", headers, b"forged"
        )
    with pytest.raises(AuthenticationError):
        verify_response(BANK.signing_key.verify_key, "platform", 200, "nonce-1", headers, b"answer")


def test_node_key_is_created_once_and_reused(tmp_path):
    first = load_or_create_identity(tmp_path, "bank")
    assert load_or_create_identity(tmp_path, "bank").public_key_hex == first.public_key_hex
    assert (tmp_path / "node.key").stat().st_mode & 0o077 == 0


def test_audit_log_chains_and_detects_an_edited_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, node="bank")
    log.append("psi.start", "psi-1", own_rows=10)
    log.append("psi.finish", "psi-1", intersection=4)
    assert [r["event"] for r in read_audit_file(path)] == ["psi.start", "psi.finish"]
    verify_audit_file(path)
    AuditLog(path, node="bank").append("lr.start", "lr-1")  # reopening continues the chain
    verify_audit_file(path)
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["details"]["intersection"] = 5
    lines[1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FederatedError, match="line 2"):
        verify_audit_file(path)
