"""Writing and verifying the audit log (审计日志) in the store.

``append_audit`` links each new entry to the newest one. Concurrent appenders queue on a
chain lock held until their transaction ends: an advisory lock on PostgreSQL, a row lock on
the tail entry on MySQL/MariaDB (under READ COMMITTED, which ``make_engine`` sets). The
unique ``prev_hash`` is the safety net: a writer that still races (the very first entry, or
a writer bypassing this module) gets a unique violation in a savepoint, re-reads the tail
and tries again. Because the lock lasts until commit, append late in long transactions.
On SQLite the file lock serialises writers; a racing writer gets "database is locked".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from puhui.data.store.audit_chain import (
    GENESIS_HASH,
    AuditEntry,
    ChainLink,
    ChainVerification,
    entry_hash,
    link_of,
    normalize_detail,
    verify_links,
)
from puhui.data.store.engine import StoreError
from puhui.data.store.tables import AuditEvent, utc_now

SYSTEM_ACTOR = "system"
_APPEND_ATTEMPTS = 5
# Key of the transaction-scoped advisory lock that queues PostgreSQL appenders.
_POSTGRES_CHAIN_LOCK = int.from_bytes(
    hashlib.sha256(b"puhui.audit_event").digest()[:8], "big", signed=True
)
_VERIFY_BATCH = 1000


class AuditChainConflictError(StoreError):
    """Other writers kept extending the audit chain while this entry tried to join it."""


class AuditEntryError(StoreError):
    """An audit entry is malformed: a required field is empty or a field is too long."""


def append_audit(
    session: Session,
    *,
    actor: str,
    actor_role: str,
    action: str,
    subject_type: str | None = None,
    subject_id: str | None = None,
    purpose: str | None = None,
    detail: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Append one entry in the caller's transaction and return it (flushed, with its id).

    ``occurred_at`` comes from the caller's clock when given (tests, replays); it defaults to
    now in UTC. The entry becomes permanent when the caller commits.
    """
    _check_fields(
        actor=actor,
        actor_role=actor_role,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        purpose=purpose,
    )
    entry = AuditEntry(
        occurred_at=occurred_at or utc_now(),
        actor=actor,
        actor_role=actor_role,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        purpose=purpose,
        detail=normalize_detail(detail),
    )
    last_tail: str | None = None
    last_failure: IntegrityError | None = None
    for _attempt in range(_APPEND_ATTEMPTS):
        prev_hash = _tail_hash(session)
        if prev_hash == last_tail and last_failure is not None:
            # The tail did not move, so the failure was not a race: it is the entry itself.
            raise last_failure
        event = AuditEvent(
            occurred_at=entry.occurred_at,
            actor=entry.actor,
            actor_role=entry.actor_role,
            action=entry.action,
            subject_type=entry.subject_type,
            subject_id=entry.subject_id,
            purpose=entry.purpose,
            detail=dict(entry.detail),
            prev_hash=prev_hash,
            hash=entry_hash(prev_hash, entry),
        )
        try:
            with session.begin_nested():
                session.add(event)
        except IntegrityError as error:
            # Most likely another transaction appended after our read of the tail.
            last_tail, last_failure = prev_hash, error
            continue
        return event
    raise AuditChainConflictError(
        f"could not append audit entry {action!r} by {actor!r}: the chain tail kept moving "
        f"after {_APPEND_ATTEMPTS} attempts"
    )


def _check_fields(**fields: str | None) -> None:
    """Refuse what a server would reject, on SQLite too (which ignores VARCHAR lengths)."""
    columns = AuditEvent.__table__.c
    for name, value in fields.items():
        if value is None and not columns[name].nullable:
            raise AuditEntryError(f"audit entry needs {name}; got None")
        length = getattr(columns[name].type, "length", None)
        if value is not None and length is not None and len(value) > length:
            raise AuditEntryError(
                f"audit {name} {value[:40]!r}… is {len(value)} characters, longer than {length}"
            )


def _tail_hash(session: Session) -> str:
    """The newest entry's hash, after taking the chain lock where the server has one.

    Appenders queue on the lock instead of racing, so nobody starves under load; the lock
    lasts until the caller's transaction ends.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_POSTGRES_CHAIN_LOCK)))
        return _read_tail(session)[1]
    if dialect in {"mysql", "mariadb"}:
        return _lock_mysql_tail(session)
    return _read_tail(session)[1]


def _read_tail(session: Session) -> tuple[int | None, str]:
    row = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    return (None, GENESIS_HASH) if row is None else (row.id, row.hash)


def _lock_mysql_tail(session: Session) -> str:
    """Lock the tail row (a record lock, no gap lock) and make sure it is still the tail.

    Under READ COMMITTED each plain read sees the latest commit, so after waiting for the
    lock the tail is read again; if it moved, the new tail is locked in turn.
    """
    tail_id, tail_hash = _read_tail(session)
    while tail_id is not None:
        session.execute(select(AuditEvent.id).where(AuditEvent.id == tail_id).with_for_update())
        latest_id, latest_hash = _read_tail(session)
        if latest_id == tail_id:
            return tail_hash
        tail_id, tail_hash = latest_id, latest_hash
    # The very first entry: nothing to lock; the unique prev_hash settles a race.
    return tail_hash


def verify_audit_chain(session: Session) -> ChainVerification:
    """Walk the whole audit log in id order and report the first entry that does not verify."""
    return verify_links(_links(session))


def _links(session: Session) -> Iterator[ChainLink]:
    """Stored entries in id order, read in batches of plain rows (no identity map growth)."""
    columns = (
        AuditEvent.id,
        AuditEvent.prev_hash,
        AuditEvent.hash,
        AuditEvent.occurred_at,
        AuditEvent.actor,
        AuditEvent.actor_role,
        AuditEvent.action,
        AuditEvent.subject_type,
        AuditEvent.subject_id,
        AuditEvent.purpose,
        AuditEvent.detail,
    )
    last_id = 0
    while True:
        rows = session.execute(
            select(*columns)
            .where(AuditEvent.id > last_id)
            .order_by(AuditEvent.id)
            .limit(_VERIFY_BATCH)
        ).all()
        if not rows:
            return
        yield from (link_of(row) for row in rows)
        last_id = rows[-1].id
