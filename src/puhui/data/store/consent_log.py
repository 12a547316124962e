"""Appending to and reading the consent log (``consent_log``), a hash chain like the audit log.

The hashing and the chain walk are the audit log's (``audit_chain.entry_hash`` and
``verify_links``); only the table differs. Appenders queue the same way as ``append_audit``:
an advisory lock on PostgreSQL, a row lock on the tail on MySQL/MariaDB, SQLite's file lock;
the unique ``prev_hash`` settles any race that slips through (retried in a savepoint).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from puhui.data.store.audit_chain import (
    GENESIS_HASH,
    AuditEntry,
    ChainLink,
    entry_hash,
    link_of,
    normalize_detail,
)
from puhui.data.store.consent_tables import ConsentLogEntry
from puhui.data.store.engine import StoreError

_ATTEMPTS = 5
_BATCH = 1000
_POSTGRES_LOCK = int.from_bytes(
    hashlib.sha256(b"puhui.consent_log").digest()[:8], "big", signed=True
)


class ConsentLogConflictError(StoreError):
    """Other writers kept extending the consent log while this entry tried to join it."""


def append_consent_entry(
    session: Session,
    entry: AuditEntry,
    *,
    subject_uscc: str | None,
    subject_person_id: str | None,
    valid_until: datetime | None,
    key_id: str,
) -> ConsentLogEntry:
    """Append one chained entry in the caller's transaction and return it (flushed)."""
    entry = AuditEntry(
        occurred_at=entry.occurred_at,
        actor=entry.actor,
        actor_role=entry.actor_role,
        action=entry.action,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        purpose=entry.purpose,
        detail=normalize_detail(entry.detail),
    )
    failure: IntegrityError | None = None
    last_tail: str | None = None
    for _attempt in range(_ATTEMPTS):
        prev_hash = _tail_hash(session)
        if failure is not None and prev_hash == last_tail:
            raise failure
        row = ConsentLogEntry(
            occurred_at=entry.occurred_at,
            actor=entry.actor,
            actor_role=entry.actor_role,
            action=entry.action,
            subject_type=entry.subject_type,
            subject_id=entry.subject_id,
            purpose=entry.purpose,
            detail=dict(entry.detail),
            subject_uscc=subject_uscc,
            subject_person_id=subject_person_id,
            valid_until=valid_until,
            key_id=key_id,
            prev_hash=prev_hash,
            hash=entry_hash(prev_hash, entry),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError as error:
            failure, last_tail = error, prev_hash
            continue
        return row
    raise ConsentLogConflictError(
        f"could not append consent entry for {entry.subject_id!r}: the log tail kept moving"
    )


def _read_tail(session: Session) -> tuple[int | None, str]:
    row = session.execute(
        select(ConsentLogEntry.id, ConsentLogEntry.hash)
        .order_by(ConsentLogEntry.id.desc())
        .limit(1)
    ).first()
    return (None, GENESIS_HASH) if row is None else (row.id, row.hash)


def _tail_hash(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_POSTGRES_LOCK)))
    elif dialect in {"mysql", "mariadb"}:
        tail_id, tail_hash = _read_tail(session)
        while tail_id is not None:
            session.execute(
                select(ConsentLogEntry.id).where(ConsentLogEntry.id == tail_id).with_for_update()
            )
            latest_id, latest_hash = _read_tail(session)
            if latest_id == tail_id:
                return tail_hash
            tail_id, tail_hash = latest_id, latest_hash
        return tail_hash
    return _read_tail(session)[1]


to_link = link_of  # a consent-log row links into its chain exactly like an audit row


_COLUMNS = (
    ConsentLogEntry.id,
    ConsentLogEntry.prev_hash,
    ConsentLogEntry.hash,
    ConsentLogEntry.occurred_at,
    ConsentLogEntry.actor,
    ConsentLogEntry.actor_role,
    ConsentLogEntry.action,
    ConsentLogEntry.subject_type,
    ConsentLogEntry.subject_id,
    ConsentLogEntry.purpose,
    ConsentLogEntry.detail,
)


def iter_links(session: Session) -> Iterator[ChainLink]:
    """Every entry in id order, read in batches of plain rows."""
    last_id = 0
    while True:
        rows = session.execute(
            select(*_COLUMNS)
            .where(ConsentLogEntry.id > last_id)
            .order_by(ConsentLogEntry.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        yield from (to_link(row) for row in rows)
        last_id = rows[-1].id


def links_for_subject(
    session: Session, *, uscc: str | None = None, person_id: str | None = None
) -> list[ChainLink]:
    """Grants naming this firm or person, and every revocation of those grants, in id order."""
    conditions = []
    if uscc is not None:
        conditions.append(ConsentLogEntry.subject_uscc == uscc)
    if person_id is not None:
        conditions.append(ConsentLogEntry.subject_person_id == person_id)
    if not conditions:
        return []
    grants = session.execute(select(*_COLUMNS).where(or_(*conditions))).all()
    consent_ids = sorted({row.subject_id for row in grants})
    return links_for_consents(session, consent_ids)


def links_for_consents(session: Session, consent_ids: Sequence[str]) -> list[ChainLink]:
    """Every entry (grant and revocations) of these consent ids, in id order."""
    if not consent_ids:
        return []
    rows = session.execute(
        select(*_COLUMNS)
        .where(ConsentLogEntry.subject_id.in_(list(consent_ids)))
        .order_by(ConsentLogEntry.id)
    ).all()
    return [to_link(row) for row in rows]
