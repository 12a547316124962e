"""Consent use cases over the store: grant, revoke, find a usable consent, verify the log.

Each use case runs in its own transaction and also writes an entry to the audit log. The
decisions themselves (what a record must hold, what is valid when) are the pure functions of
``records`` and ``ledger``; this module only loads, calls them, and appends.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.consent.ledger import (
    ConsentStatus,
    ConsentUse,
    LedgerReport,
    open_entry,
    sign_record,
    status_at,
    to_audit_entry,
    verify_ledger,
)
from puhui.actions.consent.records import (
    ConsentError,
    ConsentGrant,
    ConsentRevocation,
    ConsentScope,
    VerificationEvidence,
)
from puhui.actions.consent.signing import ConsentSignatureError, Keyring, Signer
from puhui.data.store.audit import append_audit
from puhui.data.store.consent_log import (
    append_consent_entry,
    iter_links,
    links_for_consents,
    links_for_subject,
)
from puhui.data.store.consent_tables import BureauQuery, QueryOutcome
from puhui.data.store.tables import utc_now

DEFAULT_VALIDITY = timedelta(days=90)


class ConsentRequiredError(ConsentError):
    """No valid, in-scope, unexpired, unrevoked consent covers the query asked for."""


class UnknownConsentError(ConsentError):
    """A consent id that the log does not hold."""


@dataclass(frozen=True)
class GrantRequest:
    """What a member of staff asks to record; the service adds id, times, key and signature."""

    scopes: Sequence[ConsentScope]
    purpose: str
    staff_id: str
    channel: str
    evidence: Sequence[VerificationEvidence]
    subject_uscc: str | None = None
    subject_person_id: str | None = None
    subject_name: str | None = None
    validity: timedelta = DEFAULT_VALIDITY
    valid_from: datetime | None = None


class ConsentService:
    """Grant, revoke and check consents in the store's consent log."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        keyring: Keyring,
        *,
        signer: Signer | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._sessions = session_factory
        self._keyring = keyring
        self._signer = signer
        self._clock = clock
        self._new_id = new_id

    def _require_signer(self) -> Signer:
        if self._signer is None:
            raise ConsentError("this consent service has no signing key; it can only verify")
        return self._signer

    def grant(self, request: GrantRequest, *, actor_role: str = "account_manager") -> ConsentGrant:
        """Record, sign and chain a consent; refuse one without evidence of verification."""
        signer = self._require_signer()
        if not request.evidence:
            raise ConsentError(
                "a consent needs evidence of identity verification (three-factor or face)"
            )
        now = self._clock()
        start = request.valid_from or now
        try:
            grant = ConsentGrant(
                consent_id=self._new_id(),
                subject_uscc=request.subject_uscc,
                subject_person_id=request.subject_person_id,
                subject_name=request.subject_name,
                scopes=tuple(request.scopes),
                purpose=request.purpose,
                staff_id=request.staff_id,
                channel=request.channel,
                granted_at=now,
                valid_from=start,
                valid_until=start + request.validity,
                evidence=tuple(request.evidence),
                key_id=signer.key_id,
            )
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "consent"
            raise ConsentError(f"consent {where}: {first['msg']}") from error
        signed = sign_record(grant, signer)
        with self._sessions.begin() as session:
            append_consent_entry(
                session,
                to_audit_entry(signed, actor_role=request.channel),
                subject_uscc=grant.subject_uscc,
                subject_person_id=grant.subject_person_id,
                valid_until=grant.valid_until,
                key_id=grant.key_id,
            )
            append_audit(
                session,
                actor=grant.staff_id,
                actor_role=actor_role,
                action="consent.grant",
                subject_type="enterprise" if grant.subject_uscc else "person",
                subject_id=grant.subject_uscc or grant.masked_person_id,
                purpose=grant.purpose,
                detail={
                    "consent_id": grant.consent_id,
                    "scopes": [scope.value for scope in grant.scopes],
                    "valid_until": grant.valid_until,
                    "key_id": grant.key_id,
                    "evidence": [item.result_id for item in grant.evidence],
                },
                occurred_at=now,
            )
        return grant

    def revoke(
        self, consent_id: str, *, staff_id: str, reason: str, actor_role: str = "account_manager"
    ) -> ConsentRevocation:
        """Append a signed revocation of ``consent_id``; effective from now."""
        signer = self._require_signer()
        now = self._clock()
        with self._sessions.begin() as session:
            links = links_for_consents(session, [consent_id])
            if not links:
                raise UnknownConsentError(f"consent {consent_id} is not in the consent log")
            records = [open_entry(link, self._keyring).record for link in links]
            if any(isinstance(record, ConsentRevocation) for record in records):
                raise ConsentError(f"consent {consent_id} is already revoked")
            revocation = ConsentRevocation(
                consent_id=consent_id,
                revoked_at=now,
                staff_id=staff_id,
                reason=reason,
                key_id=signer.key_id,
            )
            signed = sign_record(revocation, signer)
            append_consent_entry(
                session,
                to_audit_entry(signed, actor_role="revocation"),
                subject_uscc=None,
                subject_person_id=None,
                valid_until=None,
                key_id=revocation.key_id,
            )
            append_audit(
                session,
                actor=staff_id,
                actor_role=actor_role,
                action="consent.revoke",
                subject_type="consent",
                subject_id=consent_id,
                purpose=reason,
                detail={"key_id": revocation.key_id},
                occurred_at=now,
            )
        return revocation

    def usable_consent(
        self,
        session: Session,
        scope: ConsentScope,
        *,
        uscc: str | None = None,
        person_id: str | None = None,
        at: datetime | None = None,
    ) -> ConsentGrant:
        """The newest consent covering ``scope`` for this subject, valid at ``at`` (now).

        Each entry relied on is checked on its own (hash, header, signature); a broken one is
        skipped and named in the error if nothing else covers the query.
        """
        moment = at or self._clock()
        grants: dict[str, ConsentGrant] = {}
        revoked: dict[str, datetime] = {}
        broken: list[str] = []
        for link in links_for_subject(session, uscc=uscc, person_id=person_id):
            try:
                record = open_entry(link, self._keyring).record
            except ConsentSignatureError as error:
                broken.append(str(error))
                continue
            if isinstance(record, ConsentGrant):
                grants[record.consent_id] = record
            else:
                revoked.setdefault(record.consent_id, record.revoked_at)
        statuses: list[str] = []
        usable = []
        for grant in grants.values():
            if not grant.covers(scope, uscc=uscc, person_id=person_id):
                continue
            status = status_at(grant, revoked.get(grant.consent_id), moment)
            if status is ConsentStatus.VALID:
                usable.append(grant)
            else:
                statuses.append(f"{grant.consent_id} {status.value}")
        if usable:
            return max(usable, key=lambda grant: grant.granted_at)
        subject = uscc if scope is ConsentScope.ENTERPRISE_REPORT else "the person"
        found = "; ".join(statuses + broken) or "none on record"
        raise ConsentRequiredError(
            f"no valid consent covers {scope.value} for {subject} at {moment.isoformat()} "
            f"(consents found: {found}); record one with `puhui consent grant`"
        )

    def verify(self) -> LedgerReport:
        """Walk the whole log and check every served bureau query against its consent."""
        with self._sessions() as session:
            uses = [
                ConsentUse(
                    query_id=row.id,
                    consent_id=row.consent_id,
                    scope=ConsentScope(row.report_type),
                    uscc=row.subject_uscc,
                    person_id=row.subject_person_id,
                    queried_at=row.queried_at,
                )
                for row in session.execute(
                    select(BureauQuery).where(BureauQuery.outcome == QueryOutcome.SERVED)
                ).scalars()
                if row.consent_id is not None
            ]
            return verify_ledger(iter_links(session), self._keyring, self._clock(), uses)
