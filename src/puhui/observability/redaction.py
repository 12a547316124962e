"""Redaction of personal data in free text (脱敏): identity numbers and mobile phone numbers.

Pure functions. An 18-character identity number (GB 11643, with a valid check character) and
an 11-digit mainland mobile number are masked wherever they appear in a log message, an
exception or an error tail captured from a job. Masking keeps the same shape as
``puhui.data.identifiers`` (region and last four of an identity number, first three and last
four of a phone) so an operator can still tell two people apart without reading either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from puhui.data.identifiers import is_valid_id_number, mask_id_number, mask_phone

# Not preceded or followed by another digit or letter: part of a longer number is not a match.
_ID_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
_PHONE_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?(1[3-9]\d{9})(?![0-9A-Za-z])")


def _mask_id(match: re.Match[str]) -> str:
    text = match.group(0)
    normalized = text[:17] + text[17].upper()
    return mask_id_number(normalized) if is_valid_id_number(normalized) else text


def _mask_phone(match: re.Match[str]) -> str:
    return mask_phone(match.group(1))


def redact_text(text: str) -> str:
    """``text`` with every identity number and mobile number masked."""
    if not text or not any(char.isdigit() for char in text):
        return text
    return _PHONE_CANDIDATE.sub(_mask_phone, _ID_CANDIDATE.sub(_mask_id, text))


def redact_value(value: Any) -> Any:
    """Strings redacted, containers walked; other values returned unchanged."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value
