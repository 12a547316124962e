"""ECDH-PSI group arithmetic: hash identifiers into Curve25519's prime-order group, exponentiate.

An identifier is hashed (SHA-512, domain-separated, 255 bits kept) to a field element r and
mapped onto Curve25519 by Elligator 2, keeping only the Montgomery u-coordinate: u = -A/(1 + 2r²),
or -A - u when that is not on the curve (one Legendre symbol decides). X25519
(``crypto_scalarmult``) then exponentiates. X25519 clamps every secret key to a multiple of 8, so
the first blinding also clears the cofactor: H(x)^a is [a/8]·[8]P, a point of prime order ℓ, the
same group libsodium's ``crypto_core_ed25519_from_uniform`` hashes into (a test checks the two
agree). Blinding by two keys commutes: ``blind(b, blind(a, H(x))) == blind(a, blind(b, H(x)))``.
Points travel as 32-byte u-coordinates.

Where the CPU has AVX-512 IFMA, the C extension ``_x25519`` runs both the map and the blinding
eight points at a time, a batch per call: about 9 µs an exponentiation against libsodium's
50-55 µs called point by point from Python, and 1.4 µs for the map against 4.5 µs in gmpy2, with
the same bytes out (tests compare them); 1M × 1M takes about 26 s instead of 123 s. Elsewhere (or
built without a C compiler) the map runs in gmpy2 (one batched inversion and one Legendre symbol
per identifier, a fifth of libsodium's Edwards map) and the blinding in libsodium. Either way the
work is split in batches over a process pool so that both cores work.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import Executor

import gmpy2
import nacl.bindings as sodium
import numpy as np

try:
    from puhui.federated import _x25519
except ImportError:  # installed without a C compiler: libsodium and gmpy2 do the work
    _x25519 = None

VECTOR_PATH = (
    _x25519 is not None
    and _x25519.has_vector_path()
    and os.environ.get("PUHUI_PSI_VECTOR", "1") != "0"
)
"""Whether the AVX-512 IFMA extension hashes and blinds here (else gmpy2 and libsodium);
``PUHUI_PSI_VECTOR=0`` keeps to the libraries (same bytes, about five times slower)."""
POINT_BYTES = 32
FIELD_PRIME = 2**255 - 19
HASH_DOMAIN = b"puhui-psi-v2:"
HASH_VERSION = "sha512-elligator2-x25519-v2"
"""Named in every PSI job so that two nodes hashing differently fail loudly, not match nothing."""
MONTGOMERY_A = 486662
_FIELD = gmpy2.mpz(FIELD_PRIME)
_LOW_255_BITS = (1 << 255) - 1


def new_psi_key() -> bytes:
    """A fresh secret exponent for one PSI job (32 random bytes; X25519 clamps it)."""
    return os.urandom(32)


def _batch_inverse(values: Sequence[gmpy2.mpz]) -> list[gmpy2.mpz]:
    """Inverses mod p of non-zero field elements with one modular inversion (Montgomery's trick)."""
    prefix: list[gmpy2.mpz] = []
    running = gmpy2.mpz(1)
    for value in values:
        running = running * value % _FIELD
        prefix.append(running)
    inverse = gmpy2.invert(running, _FIELD)
    out: list[gmpy2.mpz] = [gmpy2.mpz(0)] * len(values)
    for index in range(len(values) - 1, 0, -1):
        out[index] = inverse * prefix[index - 1] % _FIELD
        inverse = inverse * values[index] % _FIELD
    if values:
        out[0] = inverse
    return out


def field_bytes(identifiers: Sequence[str]) -> bytes:
    """First half of SHA-512 of each domain-separated id, concatenated (32 bytes each)."""
    return b"".join(
        hashlib.sha512(HASH_DOMAIN + identifier.encode("utf-8")).digest()[:32]
        for identifier in identifiers
    )


def field_elements(identifiers: Sequence[str]) -> list[gmpy2.mpz]:
    """SHA-512 of each domain-separated id: the low 255 bits of its first half (as libsodium)."""
    return [
        gmpy2.mpz(
            int.from_bytes(
                hashlib.sha512(HASH_DOMAIN + identifier.encode("utf-8")).digest()[:32], "little"
            )
            & _LOW_255_BITS
        )
        for identifier in identifiers
    ]


def elligator2_u(field_values: Sequence[gmpy2.mpz]) -> list[bytes]:
    """Elligator 2 onto Curve25519, u-coordinate only (non-square 2; 1 + 2r² is never 0 mod p)."""
    denominators = [(1 + 2 * r * r) % _FIELD for r in field_values]
    out: list[bytes] = []
    for inverse in _batch_inverse(denominators):
        u = -MONTGOMERY_A * inverse % _FIELD
        curve_side = u * (u * (u + MONTGOMERY_A) + 1) % _FIELD
        if gmpy2.legendre(curve_side, _FIELD) == -1:
            u = (-u - MONTGOMERY_A) % _FIELD
        out.append(int(u).to_bytes(POINT_BYTES, "little"))
    return out


def hash_to_group_with_gmpy2(identifiers: Sequence[str]) -> bytes:
    """The portable hash: the points of ``hash_to_group``, concatenated, computed in gmpy2."""
    return b"".join(elligator2_u(field_elements(identifiers)))


def hash_to_group_blob(identifiers: Sequence[str]) -> bytes:
    """Each id as a Curve25519 point (u only, 32 bytes), concatenated."""
    if VECTOR_PATH:
        return _x25519.elligator2_many(field_bytes(identifiers))
    return hash_to_group_with_gmpy2(identifiers)


def hash_to_group(identifiers: Sequence[str]) -> list[bytes]:
    """Each id as a Curve25519 point (u only); X25519's clamping clears its cofactor."""
    return split(hash_to_group_blob(identifiers), POINT_BYTES)


def hash_and_blind(key: bytes, identifiers: Sequence[str]) -> bytes:
    """H(id)^key for each identifier, concatenated; one batch of work for a pool worker."""
    return reblind(key, hash_to_group_blob(identifiers))


def reblind_with_libsodium(key: bytes, blob: bytes, keep_bytes: int = POINT_BYTES) -> bytes:
    """The portable blinding: ``reblind`` through libsodium's X25519, one call per point."""
    out = bytearray()
    for offset in range(0, len(blob), POINT_BYTES):
        point = blob[offset : offset + POINT_BYTES]
        out += sodium.crypto_scalarmult(key, point)[:keep_bytes]
    return bytes(out)


def reblind(key: bytes, blob: bytes, keep_bytes: int = POINT_BYTES) -> bytes:
    """Raise each 32-byte point in ``blob`` to ``key``; keep the first ``keep_bytes`` of each."""
    if len(blob) % POINT_BYTES:
        raise ValueError(f"blob of {len(blob)} bytes is not whole {POINT_BYTES}-byte points")
    if VECTOR_PATH:
        return _x25519.scalarmult_many(key, blob, keep_bytes)
    return reblind_with_libsodium(key, blob, keep_bytes)


def split(blob: bytes, width: int) -> list[bytes]:
    """A concatenation of fixed-width records back into its records."""
    return [blob[offset : offset + width] for offset in range(0, len(blob), width)]


def parallel_hash_and_blind(
    executor: Executor | None, key: bytes, identifiers: Sequence[str], chunk: int = 20_000
) -> bytes:
    """``hash_and_blind`` over chunks on the executor (in order); inline when it is None."""
    batches = [identifiers[start : start + chunk] for start in range(0, len(identifiers), chunk)]
    if executor is None:
        return b"".join(hash_and_blind(key, batch) for batch in batches)
    return b"".join(executor.map(hash_and_blind, [key] * len(batches), batches))


def parallel_reblind(
    executor: Executor | None,
    key: bytes,
    blob: bytes,
    keep_bytes: int = POINT_BYTES,
    chunk: int = 20_000,
) -> bytes:
    """``reblind`` over chunks on the executor (in order); inline when it is None."""
    step = chunk * POINT_BYTES
    pieces = [blob[start : start + step] for start in range(0, len(blob), step)]
    if executor is None:
        return b"".join(reblind(key, piece, keep_bytes) for piece in pieces)
    count = len(pieces)
    return b"".join(executor.map(reblind, [key] * count, pieces, [keep_bytes] * count))


def matching_positions(mine: bytes, theirs: bytes, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in mine, in theirs) of equal ``width``-byte records."""
    index = {record: position for position, record in enumerate(split(theirs, width))}
    mine_positions, their_positions = [], []
    for position, record in enumerate(split(mine, width)):
        match = index.get(record)
        if match is not None:
            mine_positions.append(position)
            their_positions.append(match)
    return np.asarray(mine_positions, dtype=np.int64), np.asarray(their_positions, dtype=np.int64)
