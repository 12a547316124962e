"""Unmasking personal data (个人信息查看), always with a stated reason and an audit entry.

Pages and the API show personal data masked. A user who needs a firm's legal representative in
full (to call them, to check a document) asks for it with a reason; the unmasked values are
shown once, in that response, and the audit log records who saw whose data, when and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
from sqlalchemy.orm import Session

from puhui.actions.access.roles import Principal
from puhui.data.lake import Lake
from puhui.data.store.audit import append_audit
from puhui.errors import PuhuiError

MIN_REASON_LENGTH = 4
MAX_REASON_LENGTH = 200


class UnmaskRefusedError(PuhuiError):
    """No reason given, or nothing to unmask for the firm named."""


@dataclass(frozen=True)
class UnmaskedContact:
    """The firm's legal representative and registered contact, in full."""

    uscc: str
    legal_rep_name: str
    legal_rep_id_number: str
    legal_rep_phone: str | None
    contact_phone: str | None


def check_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if len(text) < MIN_REASON_LENGTH:
        raise UnmaskRefusedError(
            f"viewing personal data needs a reason of at least {MIN_REASON_LENGTH} characters"
        )
    if len(text) > MAX_REASON_LENGTH:
        raise UnmaskRefusedError(f"the reason is longer than {MAX_REASON_LENGTH} characters")
    return text


def unmask_contact(
    lake: Lake,
    session: Session,
    principal: Principal,
    uscc: str,
    reason: str,
    *,
    now: datetime | None = None,
) -> UnmaskedContact:
    """Read the firm's legal representative from the registry and record the viewing.

    The caller has already checked that the principal may see the firm; the audit entry is
    appended in the caller's session and becomes permanent when it commits.
    """
    text = check_reason(reason)
    try:
        with lake.connect() as connection:
            row = connection.execute(
                "select p.name, p.person_id, p.phone, e.contact_phone from reg_enterprise e "
                "join reg_person p on p.person_id = e.legal_rep_id where e.uscc = ?",
                [uscc],
            ).fetchone()
    except duckdb.Error as error:
        reason = str(error).splitlines()[0]
        raise UnmaskRefusedError(
            f"enterprise {uscc}: the registry cannot be read ({reason})"
        ) from None
    if row is None:
        raise UnmaskRefusedError(
            f"enterprise {uscc} or its legal representative is not in the registry"
        )
    append_audit(
        session,
        actor=principal.staff_id,
        actor_role=principal.role.value,
        action="pii.unmask",
        subject_type="enterprise",
        subject_id=uscc,
        purpose=text,
        detail={
            "fields": ["legal_rep_name", "legal_rep_id_number", "legal_rep_phone", "contact_phone"],
            "user": principal.username,
        },
        occurred_at=now,
    )
    return UnmaskedContact(
        uscc=uscc,
        legal_rep_name=row[0],
        legal_rep_id_number=row[1],
        legal_rep_phone=row[2],
        contact_phone=row[3],
    )


def record_view(
    session: Session,
    principal: Principal,
    *,
    subject_type: str,
    subject_id: str,
    channel: str,
    now: datetime | None = None,
) -> None:
    """Write a data-access entry (``data.view``): who opened which record, through what."""
    append_audit(
        session,
        actor=principal.staff_id,
        actor_role=principal.role.value,
        action="data.view",
        subject_type=subject_type,
        subject_id=subject_id,
        detail={"channel": channel, "user": principal.username},
        occurred_at=now,
    )
