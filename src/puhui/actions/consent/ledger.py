"""The consent log as a hash chain of signed records, and its verification. Pure functions.

Each log entry is shaped like an audit entry (``puhui.data.store.audit_chain``) so the same
hashing and chain walk apply: ``action`` is ``consent.grant`` or ``consent.revoke``,
``subject_id`` the consent id, and ``detail`` holds the signed payload and its signature. The
chain shows edits, deletions and reordering; the signatures show who vouched for each record and
that its content is what was signed; the records themselves say what is valid when.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from puhui.actions.consent.records import (
    ConsentError,
    ConsentGrant,
    ConsentRecord,
    ConsentRevocation,
    ConsentScope,
    parse_record,
    record_payload,
)
from puhui.actions.consent.signing import ConsentSignatureError, Keyring, Signer
from puhui.data.store.audit_chain import (
    AuditEntry,
    ChainLink,
    ChainVerification,
    entry_hash,
    verify_links,
)

GRANT_ACTION = "consent.grant"
REVOKE_ACTION = "consent.revoke"
SUBJECT_TYPE = "consent"


class ConsentStatus(StrEnum):
    """Where a consent stands at a given moment."""

    VALID = "valid"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    TAMPERED = "tampered"


class ProblemKind(StrEnum):
    """What verification found wrong (tampered, out_of_scope) or worth telling (the rest)."""

    TAMPERED = "tampered"
    OUT_OF_SCOPE = "out_of_scope"
    EXPIRED = "expired"
    REVOKED = "revoked"


FAILING_PROBLEMS = frozenset({ProblemKind.TAMPERED, ProblemKind.OUT_OF_SCOPE})


@dataclass(frozen=True)
class SignedRecord:
    """A consent record with the signature over its canonical payload."""

    record: ConsentRecord
    payload: dict[str, Any]
    signature: str

    @property
    def signed_at(self) -> datetime:
        return signed_at(self.record)


def signed_at(record: ConsentRecord) -> datetime:
    """The moment the record says it was made: when granted or revoked."""
    return record.granted_at if isinstance(record, ConsentGrant) else record.revoked_at


def sign_record(record: ConsentRecord, signer: Signer) -> SignedRecord:
    """Sign a record with the active key (the record must name that key)."""
    payload = record_payload(record)
    return SignedRecord(record=record, payload=payload, signature=signer.sign(payload))


def to_audit_entry(signed: SignedRecord, *, actor_role: str) -> AuditEntry:
    """The chain entry for a signed record (what is hashed and stored)."""
    record = signed.record
    grant = isinstance(record, ConsentGrant)
    return AuditEntry(
        occurred_at=signed.signed_at,
        actor=record.staff_id,
        actor_role=actor_role,
        action=GRANT_ACTION if grant else REVOKE_ACTION,
        subject_type=SUBJECT_TYPE,
        subject_id=record.consent_id,
        purpose=record.purpose if isinstance(record, ConsentGrant) else record.reason,
        detail={"payload": signed.payload, "signature": signed.signature},
    )


def open_entry(link: ChainLink, keyring: Keyring) -> SignedRecord:
    """Check one stored entry on its own (its hash, header and signature) and return its record.

    Raises ``ConsentSignatureError`` naming the entry when anything does not hold. This is what
    the bureau gateway does before relying on a consent, without walking the whole chain.
    """
    if entry_hash(link.prev_hash, link.entry) != link.hash:
        raise ConsentSignatureError(f"consent log entry {link.id} does not match its hash (edited)")
    detail = link.entry.detail
    payload, signature = detail.get("payload"), detail.get("signature")
    if not isinstance(payload, dict) or not isinstance(signature, str):
        raise ConsentSignatureError(f"consent log entry {link.id} has no signed payload")
    try:
        record = parse_record(payload)
    except ConsentError as error:
        raise ConsentSignatureError(f"consent log entry {link.id}: {error}") from error
    keyring.verify(payload, signature, signed_at(record))
    expected_action = GRANT_ACTION if isinstance(record, ConsentGrant) else REVOKE_ACTION
    header = (link.entry.action, link.entry.subject_id, link.entry.actor, link.entry.occurred_at)
    if header != (expected_action, record.consent_id, record.staff_id, signed_at(record)):
        raise ConsentSignatureError(
            f"consent log entry {link.id} header (action, consent id, staff, time) does not "
            "match its signed payload"
        )
    return SignedRecord(record=record, payload=payload, signature=signature)


def status_at(grant: ConsentGrant, revoked_at: datetime | None, moment: datetime) -> ConsentStatus:
    """Whether ``grant`` (revoked at ``revoked_at``, if ever) allowed a query at ``moment``."""
    if revoked_at is not None and revoked_at <= moment:
        return ConsentStatus.REVOKED
    if moment < grant.valid_from:
        return ConsentStatus.NOT_YET_VALID
    if moment >= grant.valid_until:
        return ConsentStatus.EXPIRED
    return ConsentStatus.VALID


@dataclass(frozen=True)
class ConsentUse:
    """One bureau query that relied on a consent, as the query log recorded it."""

    query_id: int
    consent_id: str
    scope: ConsentScope
    uscc: str | None
    person_id: str | None
    queried_at: datetime


@dataclass(frozen=True)
class LedgerProblem:
    kind: ProblemKind
    consent_id: str | None
    message: str
    entry_id: int | None = None


@dataclass(frozen=True)
class ConsentState:
    grant: ConsentGrant
    entry_id: int
    status: ConsentStatus
    revoked_at: datetime | None = None


@dataclass
class LedgerReport:
    """The outcome of ``verify_ledger``: the chain, every consent's status, and the problems."""

    chain: ChainVerification
    entries: int = 0
    consents: list[ConsentState] = field(default_factory=list)
    problems: list[LedgerProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was tampered with and no query went beyond its consent."""
        return self.chain.ok and not any(p.kind in FAILING_PROBLEMS for p in self.problems)


def verify_ledger(
    links: Iterable[ChainLink],
    keyring: Keyring,
    now: datetime,
    uses: Sequence[ConsentUse] = (),
) -> LedgerReport:
    """Walk the whole log: the chain, every signature, each consent's status at ``now``, and
    whether each recorded bureau query was covered by a consent valid at its time."""
    links = list(links)
    report = LedgerReport(chain=verify_links(links), entries=len(links))
    if not report.chain.ok:
        report.problems.append(
            LedgerProblem(
                ProblemKind.TAMPERED, None, report.chain.reason or "", report.chain.first_broken_id
            )
        )
    grants: dict[str, tuple[int, ConsentGrant]] = {}
    revoked: dict[str, datetime] = {}
    tampered: set[str] = set()
    for link in links:
        try:
            signed = open_entry(link, keyring)
        except ConsentSignatureError as error:
            consent_id = link.entry.subject_id
            tampered.add(consent_id or "")
            report.problems.append(
                LedgerProblem(ProblemKind.TAMPERED, consent_id, str(error), link.id)
            )
            continue
        record = signed.record
        if isinstance(record, ConsentGrant):
            if record.consent_id in grants:
                report.problems.append(
                    LedgerProblem(
                        ProblemKind.TAMPERED,
                        record.consent_id,
                        f"consent {record.consent_id} is granted twice (entries "
                        f"{grants[record.consent_id][0]} and {link.id})",
                        link.id,
                    )
                )
                continue
            grants[record.consent_id] = (link.id, record)
        elif isinstance(record, ConsentRevocation):
            if record.consent_id not in grants:
                report.problems.append(
                    LedgerProblem(
                        ProblemKind.TAMPERED,
                        record.consent_id,
                        f"entry {link.id} revokes consent {record.consent_id}, which no earlier "
                        "entry grants",
                        link.id,
                    )
                )
                continue
            revoked.setdefault(record.consent_id, record.revoked_at)
    for consent_id, (entry_id, grant) in grants.items():
        status = (
            ConsentStatus.TAMPERED
            if consent_id in tampered
            else status_at(grant, revoked.get(consent_id), now)
        )
        report.consents.append(ConsentState(grant, entry_id, status, revoked.get(consent_id)))
        if status is ConsentStatus.EXPIRED:
            report.problems.append(
                LedgerProblem(
                    ProblemKind.EXPIRED,
                    consent_id,
                    f"consent {consent_id} expired at {grant.valid_until.isoformat()}",
                    entry_id,
                )
            )
        elif status is ConsentStatus.REVOKED:
            report.problems.append(
                LedgerProblem(
                    ProblemKind.REVOKED,
                    consent_id,
                    f"consent {consent_id} was revoked at {revoked[consent_id].isoformat()}",
                    entry_id,
                )
            )
    for use in uses:
        found = grants.get(use.consent_id)
        if found is None and use.consent_id in tampered:
            report.problems.append(
                LedgerProblem(
                    ProblemKind.TAMPERED,
                    use.consent_id,
                    f"bureau query {use.query_id} relied on consent {use.consent_id}, whose log "
                    "entry no longer verifies",
                )
            )
            continue
        if found is None:
            report.problems.append(
                LedgerProblem(
                    ProblemKind.OUT_OF_SCOPE,
                    use.consent_id,
                    f"bureau query {use.query_id} cites consent {use.consent_id}, which the "
                    "log does not hold",
                )
            )
            continue
        grant = found[1]
        when = status_at(grant, revoked.get(use.consent_id), use.queried_at)
        covered = grant.covers(use.scope, uscc=use.uscc, person_id=use.person_id)
        if when is not ConsentStatus.VALID or not covered:
            why = when.value if when is not ConsentStatus.VALID else f"does not cover {use.scope}"
            report.problems.append(
                LedgerProblem(
                    ProblemKind.OUT_OF_SCOPE,
                    use.consent_id,
                    f"bureau query {use.query_id} at {use.queried_at.isoformat()} relied on "
                    f"consent {use.consent_id}, which {why} for that subject and time",
                    found[0],
                )
            )
    return report
