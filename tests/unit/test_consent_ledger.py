"""Consent records, Ed25519 signing with key rotation, the chained log and its verification
(pure functions), and the private key file."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from puhui.actions.consent.keyfile import KeyFile, KeyFileError
from puhui.actions.consent.ledger import (
    ConsentStatus,
    ConsentUse,
    ProblemKind,
    open_entry,
    sign_record,
    to_audit_entry,
    verify_ledger,
)
from puhui.actions.consent.records import (
    ConsentGrant,
    ConsentRevocation,
    ConsentScope,
    VerificationEvidence,
    VerificationKind,
    canonical_bytes,
    record_payload,
)
from puhui.actions.consent.signing import (
    ConsentSignatureError,
    Keyring,
    PublicKey,
    Signer,
)
from puhui.data.identifiers import id_check_char, uscc_check_char
from puhui.data.store.audit_chain import GENESIS_HASH, ChainLink, entry_hash

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
USCC = "91330100X0000001" + "0"
USCC = USCC[:17] + uscc_check_char(USCC[:17])
PERSON = "33010219800101001"
PERSON = PERSON + id_check_char(PERSON)
EVIDENCE = VerificationEvidence(
    kind=VerificationKind.THREE_FACTOR,
    provider="local",
    result_id="local-1",
    evidence_hash="a" * 64,
    checked_at=T0,
)


def _grant(signer: Signer, consent_id: str = "consent-0001", **changes: object) -> ConsentGrant:
    values: dict[str, object] = {
        "consent_id": consent_id,
        "subject_uscc": USCC,
        "subject_person_id": PERSON,
        "scopes": (ConsentScope.ENTERPRISE_REPORT,),
        "purpose": "贷前审查",
        "staff_id": "CM0001",
        "channel": "online",
        "granted_at": T0,
        "valid_from": T0,
        "valid_until": T0 + timedelta(days=90),
        "evidence": (EVIDENCE,),
        "key_id": signer.key_id,
    }
    values.update(changes)
    return ConsentGrant(**values)  # type: ignore[arg-type]


def _keyring(*signers: Signer, start: datetime = T0 - timedelta(days=1)) -> Keyring:
    return Keyring(PublicKey(s.key_id, s.public_key, start) for s in signers)


def _chain(records: list, signer: Signer) -> list[ChainLink]:  # type: ignore[type-arg]
    links, prev = [], GENESIS_HASH
    for number, record in enumerate(records, start=1):
        entry = to_audit_entry(sign_record(record, signer), actor_role="online")
        digest = entry_hash(prev, entry)
        links.append(ChainLink(id=number, prev_hash=prev, hash=digest, entry=entry))
        prev = digest
    return links


def test_canonical_serialization_is_sorted_compact_utf8() -> None:
    payload = record_payload(_grant(Signer.generate("k1")))
    text = canonical_bytes(payload).decode("utf-8")

    assert text.startswith('{"channel":"online","consent_id":"consent-0001"')
    assert "贷前审查" in text and ", " not in text
    assert '"granted_at":"2025-06-02T02:00:00.000000+00:00"' in text


def test_grant_refuses_bad_check_digit_and_scope_without_subject() -> None:
    signer = Signer.generate("k1")
    with pytest.raises(ValueError, match="check digit"):
        _grant(signer, subject_person_id=PERSON[:17] + ("0" if PERSON[17] != "0" else "1"))
    with pytest.raises(ValueError, match="personal_report needs subject_person_id"):
        _grant(signer, subject_person_id=None, scopes=(ConsentScope.PERSONAL_REPORT,))


def test_signature_verifies_and_detects_an_edited_payload() -> None:
    signer = Signer.generate("k1")
    signed = sign_record(_grant(signer), signer)
    keyring = _keyring(signer)

    keyring.verify(signed.payload, signed.signature, T0)
    edited = {**signed.payload, "valid_until": "2035-01-01T00:00:00.000000+00:00"}
    with pytest.raises(ConsentSignatureError, match="does not verify"):
        keyring.verify(edited, signed.signature, T0)


def test_rotated_keys_verify_old_consents_but_not_backdated_new_ones() -> None:
    old, new = Signer.generate("k-old"), Signer.generate("k-new")
    rotated_at = T0 + timedelta(days=10)
    keyring = Keyring(
        [
            PublicKey("k-old", old.public_key, T0 - timedelta(days=1), rotated_at),
            PublicKey("k-new", new.public_key, rotated_at),
        ]
    )
    before = sign_record(_grant(old), old)
    keyring.verify(before.payload, before.signature, T0)

    late = _grant(old, granted_at=rotated_at + timedelta(hours=1))
    signed_late = sign_record(late, old)
    with pytest.raises(ConsentSignatureError, match="was not valid"):
        keyring.verify(signed_late.payload, signed_late.signature, late.granted_at)
    with pytest.raises(ConsentSignatureError, match="not in the keyring"):
        Keyring([]).verify(before.payload, before.signature, T0)


def test_verify_ledger_reports_valid_expired_and_revoked_consents() -> None:
    signer = Signer.generate("k1")
    records = [
        _grant(signer, "consent-valid"),
        _grant(signer, "consent-short", valid_until=T0 + timedelta(days=1)),
        _grant(signer, "consent-revoked"),
        ConsentRevocation(
            consent_id="consent-revoked",
            revoked_at=T0 + timedelta(hours=1),
            staff_id="CM0001",
            reason="客户撤回",
            key_id=signer.key_id,
        ),
    ]
    report = verify_ledger(_chain(records, signer), _keyring(signer), T0 + timedelta(days=2))

    statuses = {state.grant.consent_id: state.status for state in report.consents}
    assert statuses == {
        "consent-valid": ConsentStatus.VALID,
        "consent-short": ConsentStatus.EXPIRED,
        "consent-revoked": ConsentStatus.REVOKED,
    }
    assert report.ok
    assert {p.kind for p in report.problems} == {ProblemKind.EXPIRED, ProblemKind.REVOKED}


def test_verify_ledger_detects_an_entry_edited_and_rehashed() -> None:
    """Re-computing the hash chain after an edit still fails: the signature covers the record."""
    signer = Signer.generate("k1")
    links = _chain([_grant(signer, "consent-a"), _grant(signer, "consent-b")], signer)
    entry = links[0].entry
    forged_payload = {**entry.detail["payload"], "scopes": ["enterprise_report", "personal_report"]}
    forged = replace(entry, detail={**entry.detail, "payload": forged_payload})
    rehashed = entry_hash(GENESIS_HASH, forged)
    second = links[1]
    relinked = [
        ChainLink(1, GENESIS_HASH, rehashed, forged),
        ChainLink(2, rehashed, entry_hash(rehashed, second.entry), second.entry),
    ]

    report = verify_ledger(relinked, _keyring(signer), T0)

    assert report.chain.ok  # the attacker fixed the chain…
    assert not report.ok  # …but not the signature
    assert report.problems[0].kind is ProblemKind.TAMPERED
    assert "does not verify" in report.problems[0].message


def test_verify_ledger_detects_a_deleted_entry() -> None:
    signer = Signer.generate("k1")
    links = _chain([_grant(signer, f"consent-{n}") for n in range(3)], signer)

    report = verify_ledger([links[0], links[2]], _keyring(signer), T0)

    assert not report.ok and report.chain.first_broken_id == 3


def test_verify_ledger_flags_queries_outside_scope_or_validity() -> None:
    signer = Signer.generate("k1")
    links = _chain([_grant(signer, "consent-a")], signer)
    uses = [
        ConsentUse(1, "consent-a", ConsentScope.ENTERPRISE_REPORT, USCC, None, T0),
        ConsentUse(2, "consent-a", ConsentScope.PERSONAL_REPORT, None, PERSON, T0),
        ConsentUse(
            3, "consent-a", ConsentScope.ENTERPRISE_REPORT, USCC, None, T0 + timedelta(days=91)
        ),
        ConsentUse(4, "consent-zzz", ConsentScope.ENTERPRISE_REPORT, USCC, None, T0),
    ]

    report = verify_ledger(links, _keyring(signer), T0, uses)

    out_of_scope = [p for p in report.problems if p.kind is ProblemKind.OUT_OF_SCOPE]
    assert [p.message.split()[2] for p in out_of_scope] == ["2", "3", "4"]
    assert not report.ok


def test_open_entry_refuses_a_header_that_disagrees_with_the_signed_payload() -> None:
    signer = Signer.generate("k1")
    link = _chain([_grant(signer)], signer)[0]
    entry = replace(link.entry, actor="CM9999")
    moved = ChainLink(1, GENESIS_HASH, entry_hash(GENESIS_HASH, entry), entry)

    with pytest.raises(ConsentSignatureError, match="header"):
        open_entry(moved, _keyring(signer))


def test_key_file_is_owner_only_and_rotation_keeps_old_keys(tmp_path: Path) -> None:
    keys = KeyFile(tmp_path / "keys" / "consent.json")
    first = keys.create(T0)
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600

    second = keys.rotate(T0 + timedelta(days=30))
    keyring = keys.keyring()

    assert keys.signer().key_id == second.key_id != first.key_id
    assert keyring.get(first.key_id).valid_until == T0 + timedelta(days=30)
    assert keyring.get(second.key_id).valid_at(T0 + timedelta(days=31))
    signed = sign_record(_grant(first), first)
    keyring.verify(signed.payload, signed.signature, T0)


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    keys = KeyFile(tmp_path / "consent.json")
    keys.create(T0)
    os.chmod(keys.path, 0o644)

    with pytest.raises(KeyFileError, match="chmod 600"):
        keys.signer()
