"""Chinese identifiers and their check codes.

- 统一社会信用代码 (USCC), GB 32100-2015: 18 characters, the last one a mod-31 check.
- 居民身份证号码 (resident identity number), GB 11643-1999: 18 characters, ISO 7064 mod 11-2.
- Mobile numbers: 11 digits starting with 1.

Each check has a scalar form for validation at the edges and a vectorised (numpy) form for the
simulator, which makes millions of identifiers at once.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_PATTERN = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
_ID_PATTERN = re.compile(r"[0-9]{17}[0-9X]")
_PHONE_PATTERN = re.compile(r"1[3-9][0-9]{8}[0-9]")


def uscc_check_char(first17: str) -> str:
    """The 18th character of a USCC whose first 17 characters are given."""
    if len(first17) != 17 or any(c not in _USCC_VALUE for c in first17):
        raise ValueError(f"not 17 USCC characters: {first17!r}")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """Whether ``code`` is a well-formed USCC with the right check character."""
    if not isinstance(code, str) or not _USCC_PATTERN.fullmatch(code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def id_check_char(first17: str) -> str:
    """The 18th character of a resident identity number whose first 17 digits are given."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"not 17 digits: {first17!r}")
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def is_valid_id_number(number: str) -> bool:
    """Whether ``number`` is an 18-character identity number with a real date and check char."""
    if not isinstance(number, str) or not _ID_PATTERN.fullmatch(number):
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return id_check_char(number[:17]) == number[17]


def is_valid_phone(phone: str) -> bool:
    """Whether ``phone`` looks like a mainland mobile number."""
    return isinstance(phone, str) and bool(_PHONE_PATTERN.fullmatch(phone))


def mask_id_number(number: str) -> str:
    """Show only the region and the check char: ``330102********123X`` style masking."""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_phone(phone: str) -> str:
    """Show the first three and last four digits of a mobile number."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


# --- vectorised forms for the simulator -------------------------------------------------------


def _chars_to_strings(chars: np.ndarray) -> np.ndarray:
    """Join an (n, k) array of single characters into n strings."""
    return chars.view(f"<U{chars.shape[1]}").ravel()


def make_usccs(division_codes: np.ndarray, serials: np.ndarray) -> np.ndarray:
    """USCCs for enterprises (prefix ``91``) from 6-digit division codes and unique serials.

    The organisation part is ``X`` followed by the serial in base 31, so distinct serials give
    distinct codes. Real codes issued by market regulation start that part with ``MA``; the
    leading ``X`` keeps synthetic codes valid in form and recognisably fictitious.
    """
    n = len(serials)
    alphabet = np.array(list(USCC_ALPHABET))
    values = np.zeros((n, 17), dtype=np.int64)
    values[:, 0] = 9
    values[:, 1] = 1
    divisions = np.asarray(division_codes).astype("<U6")
    division_digits = divisions.view("<U1").reshape(n, 6)
    values[:, 2:8] = division_digits.astype(np.int64)
    values[:, 8] = _USCC_VALUE["X"]
    remaining = np.asarray(serials, dtype=np.int64).copy()
    if (remaining < 0).any() or (remaining >= 31**8).any():
        raise ValueError("serials must lie in [0, 31**8)")
    for position in range(16, 8, -1):
        values[:, position] = remaining % 31
        remaining //= 31
    weights = np.array(USCC_WEIGHTS, dtype=np.int64)
    check = (31 - (values * weights).sum(axis=1) % 31) % 31
    chars = np.empty((n, 18), dtype="<U1")
    chars[:, :17] = alphabet[values]
    chars[:, 17] = alphabet[check]
    return _chars_to_strings(chars)


def make_id_numbers(
    division_codes: np.ndarray, birth_dates: np.ndarray, sequences: np.ndarray
) -> np.ndarray:
    """Identity numbers from division codes, ``datetime64[D]`` birth dates and 3-digit sequences.

    The sequence's parity carries the sex (odd = male), as in the standard.
    """
    n = len(sequences)
    divisions = np.asarray(division_codes).astype("<U6")
    births = np.datetime_as_string(np.asarray(birth_dates, dtype="datetime64[D]"), unit="D")
    births = np.char.replace(births, "-", "")
    seq = np.char.zfill(np.asarray(sequences, dtype=np.int64).astype("<U3"), 3)
    first17 = np.char.add(np.char.add(divisions, births), seq)
    digits = first17.view("<U1").reshape(n, 17).astype(np.int64)
    weights = np.array(ID_WEIGHTS, dtype=np.int64)
    check = np.array(list(ID_CHECK_CHARS))[(digits * weights).sum(axis=1) % 11]
    return np.char.add(first17, check)


def valid_uscc_mask(codes: np.ndarray) -> np.ndarray:
    """Vectorised :func:`is_valid_uscc` (for ingest validation of large batches)."""
    return np.fromiter((is_valid_uscc(c) for c in codes), dtype=bool, count=len(codes))


def valid_id_number_mask(numbers: np.ndarray) -> np.ndarray:
    """Vectorised :func:`is_valid_id_number`."""
    return np.fromiter((is_valid_id_number(c) for c in numbers), dtype=bool, count=len(numbers))
