"""The audit hash chain as pure functions: no database, no clock, no I/O.

Each entry's hash covers its content and the previous entry's hash (sha256, hex). Editing an
entry breaks its own hash; deleting, inserting or reordering entries breaks the next entry's
``prev_hash``. Truncating the newest entries is not detectable from the chain alone, so the
latest hash should also be copied somewhere else (a report, a ticket) from time to time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any
from uuid import UUID

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first entry."""


@dataclass(frozen=True)
class AuditEntry:
    """What an audit entry says happened: who did what to which subject, why, and when."""

    occurred_at: datetime
    actor: str
    actor_role: str
    action: str
    subject_type: str | None
    subject_id: str | None
    purpose: str | None
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class ChainLink:
    """A stored entry with its position and the two hashes that link it into the chain."""

    id: int
    prev_hash: str
    hash: str
    entry: AuditEntry


def link_of(row: Any) -> ChainLink:
    """A stored row (ORM object or plain row with the chain's columns) as a chain link."""
    return ChainLink(
        id=row.id,
        prev_hash=row.prev_hash,
        hash=row.hash,
        entry=AuditEntry(
            occurred_at=row.occurred_at,
            actor=row.actor,
            actor_role=row.actor_role,
            action=row.action,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            purpose=row.purpose,
            detail=row.detail,
        ),
    )


@dataclass(frozen=True)
class ChainVerification:
    """The outcome of walking the chain: how many entries were checked and where it broke."""

    checked: int
    first_broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every entry checked links to its predecessor and matches its hash."""
        return self.first_broken_id is None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID | PurePath):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"audit detail value of type {type(value).__name__} is not JSON: {value!r}")


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text kept as is, no NaN."""
    return json.dumps(
        value,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
        default=_json_default,
    )


def normalize_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """``detail`` as plain JSON values, exactly as it will read back from any database.

    Decimals, dates and the like become strings here, once, so the stored detail and the
    hashed detail are the same object.
    """
    if detail is None:
        return {}
    if not isinstance(detail, Mapping):
        raise TypeError(f"audit detail must be a mapping, got {type(detail).__name__}")
    try:
        # Unsorted first: keys of mixed types only become comparable once they are strings.
        text = json.dumps(dict(detail), ensure_ascii=False, allow_nan=False, default=_json_default)
    except ValueError as error:
        raise ValueError(
            f"audit detail holds a non-finite number (NaN or infinity): {error}"
        ) from error
    normalized: dict[str, Any] = json.loads(text)
    return normalized


def format_timestamp(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds, the one spelling of a time that enters a hash."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"audit time {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    """sha256 (hex) of the previous hash and the entry's canonical content."""
    content = canonical_json(
        {
            "occurred_at": format_timestamp(entry.occurred_at),
            "actor": entry.actor,
            "actor_role": entry.actor_role,
            "action": entry.action,
            "subject_type": entry.subject_type,
            "subject_id": entry.subject_id,
            "purpose": entry.purpose,
            "detail": entry.detail,
        }
    )
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def verify_links(links: Iterable[ChainLink]) -> ChainVerification:
    """Walk ``links`` in id order and report the first one that does not verify."""
    expected_prev = GENESIS_HASH
    checked = 0
    for link in links:
        checked += 1
        if link.prev_hash != expected_prev:
            return ChainVerification(
                checked=checked,
                first_broken_id=link.id,
                reason=(
                    f"entry {link.id} points at prev_hash {link.prev_hash[:12]}… but the entry "
                    f"before it has hash {expected_prev[:12]}… (entries deleted, inserted or "
                    "reordered)"
                ),
            )
        recomputed = entry_hash(link.prev_hash, link.entry)
        if recomputed != link.hash:
            return ChainVerification(
                checked=checked,
                first_broken_id=link.id,
                reason=f"entry {link.id} content does not match its hash (entry edited)",
            )
        expected_prev = link.hash
    return ChainVerification(checked=checked)
