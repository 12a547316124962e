"""Consent records (征信授权书) as plain values: who authorized what, for which purpose, until when.

A grant names the subject (the firm by USCC and/or a person by identity number), the reports it
covers, the purpose, the staff member and channel that took it, its validity window and the
evidence of identity verification (result ids and hashes, never images). A revocation names the
consent it ends. Both are turned into a canonical payload (sorted-key compact JSON, UTF-8) that
is what gets signed and chained; no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from puhui.data.identifiers import is_valid_id_number, is_valid_uscc, mask_id_number
from puhui.data.store.audit_chain import canonical_json, format_timestamp
from puhui.errors import PuhuiError


class ConsentError(PuhuiError):
    """A consent record is malformed, or a consent operation is not allowed."""


class ConsentScope(StrEnum):
    """Which credit report the subject authorizes the bank to query."""

    ENTERPRISE_REPORT = "enterprise_report"
    PERSONAL_REPORT = "personal_report"


class VerificationKind(StrEnum):
    """How the subject's identity was checked before consenting."""

    THREE_FACTOR = "three_factor"
    FACE = "face"


def _utc(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} {value.isoformat()} has no time zone")
    return value


class VerificationEvidence(BaseModel):
    """Proof the identity check happened: the provider's result id and a hash of the result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: VerificationKind
    provider: str = Field(min_length=1, max_length=64)
    result_id: str = Field(min_length=1, max_length=128)
    evidence_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    checked_at: datetime

    @field_validator("checked_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _utc(value, "checked_at")


class ConsentGrant(BaseModel):
    """One signed authorization to query credit reports for a subject."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["grant"] = "grant"
    consent_id: str = Field(min_length=8, max_length=36)
    subject_uscc: str | None = None
    subject_person_id: str | None = None
    subject_name: str | None = Field(default=None, max_length=200)
    scopes: tuple[ConsentScope, ...]
    purpose: str = Field(min_length=1, max_length=200)
    staff_id: str = Field(min_length=1, max_length=32)
    channel: str = Field(min_length=1, max_length=32)
    granted_at: datetime
    valid_from: datetime
    valid_until: datetime
    evidence: tuple[VerificationEvidence, ...] = ()
    key_id: str = Field(min_length=1, max_length=64)

    @field_validator("granted_at", "valid_from", "valid_until")
    @classmethod
    def _aware(cls, value: datetime, info: Any) -> datetime:
        return _utc(value, info.field_name)

    @field_validator("scopes")
    @classmethod
    def _sorted_scopes(cls, value: tuple[ConsentScope, ...]) -> tuple[ConsentScope, ...]:
        if not value:
            raise ValueError("a consent needs at least one scope")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _consistent(self) -> ConsentGrant:
        if self.subject_uscc is None and self.subject_person_id is None:
            raise ValueError("a consent names a firm (subject_uscc), a person, or both")
        if self.subject_uscc is not None and not is_valid_uscc(self.subject_uscc):
            raise ValueError(f"subject_uscc {self.subject_uscc!r} is not a valid USCC")
        if self.subject_person_id is not None and not is_valid_id_number(self.subject_person_id):
            raise ValueError(
                f"subject_person_id {mask_id_number(self.subject_person_id)} is not a valid "
                "identity number (GB 11643 check digit)"
            )
        if ConsentScope.ENTERPRISE_REPORT in self.scopes and self.subject_uscc is None:
            raise ValueError("scope enterprise_report needs subject_uscc")
        if ConsentScope.PERSONAL_REPORT in self.scopes and self.subject_person_id is None:
            raise ValueError("scope personal_report needs subject_person_id")
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self

    def covers(self, scope: ConsentScope, *, uscc: str | None, person_id: str | None) -> bool:
        """Whether this consent names ``scope`` for this very subject."""
        if scope not in self.scopes:
            return False
        if scope is ConsentScope.ENTERPRISE_REPORT:
            return uscc is not None and uscc == self.subject_uscc
        return person_id is not None and person_id == self.subject_person_id

    @property
    def masked_person_id(self) -> str:
        """The person's identity number with the middle hidden, for display."""
        return mask_id_number(self.subject_person_id) if self.subject_person_id else ""


class ConsentRevocation(BaseModel):
    """The end of a consent, asked for by the subject or the bank; appended, never an edit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["revoke"] = "revoke"
    consent_id: str = Field(min_length=8, max_length=36)
    revoked_at: datetime
    staff_id: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=1, max_length=200)
    key_id: str = Field(min_length=1, max_length=64)

    @field_validator("revoked_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _utc(value, "revoked_at")


ConsentRecord = ConsentGrant | ConsentRevocation


def record_payload(record: ConsentRecord) -> dict[str, Any]:
    """The record as plain JSON values, timestamps in the one UTC spelling the chain uses."""
    payload = record.model_dump(mode="python")
    return _plain(payload)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def canonical_bytes(payload: Mapping[str, Any]) -> bytes:
    """What is signed: sorted-key compact JSON of the payload, UTF-8."""
    return canonical_json(dict(payload)).encode("utf-8")


def parse_record(payload: Mapping[str, Any]) -> ConsentRecord:
    """A stored payload back as a grant or revocation; a malformed one is a ``ConsentError``."""
    kind = payload.get("kind")
    try:
        if kind == "grant":
            return ConsentGrant.model_validate(payload)
        if kind == "revoke":
            return ConsentRevocation.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        raise ConsentError(
            f"consent record {payload.get('consent_id')!r}: {where}: {first['msg']}"
        ) from error
    raise ConsentError(f"consent record {payload.get('consent_id')!r} has unknown kind {kind!r}")
