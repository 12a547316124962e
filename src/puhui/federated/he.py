"""Packed CKKS (TenSEAL) for the one cross-party product vertical LR needs: Xᵀ·[[r]].

The key owner encrypts a vector r, 4,096 values per ciphertext (secret-key encryption, so fresh
ciphertexts travel seed-compressed). The matrix owner multiplies each ciphertext by the matching
rows of each plain column and accumulates over ciphertexts, so slot s of column j's result holds
a partial sum over the rows ≡ s (mod 4,096); it then adds an independent uniform mask in
±2^16 to every slot and keeps only their total M_j. The key owner decrypts, sums the slots and
gets ``Σᵢ X[i, j]·r[i] + M_j``; the matrix owner removes M_j. No rotations (so no Galois keys)
are needed; each decrypted slot is a value of order 10^-3 under a mask 2^16 wide, statistically
hidden to about 2^-26 per slot. Neither side sees the other's vector or matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from puhui.federated.errors import FederatedError

SLOTS = 4096  # poly modulus degree 8192 → 4096 CKKS slots
MASK_BOUND = 2.0**16  # per-slot mask; room in the last 60-bit modulus at scale 2^40 is 2^19

try:  # tenseal is optional at import time so the rest of puhui works without it
    import tenseal as ts
except ImportError:  # pragma: no cover - exercised only where tenseal is missing
    ts = None


def _tenseal():
    if ts is None:
        raise FederatedError("vertical LR needs the tenseal package: pip install tenseal==0.3.18")
    return ts


def new_secret_context():
    """A CKKS context with secret key (N = 8192, moduli 60/40/60 bits, scale 2^40): one
    plaintext multiplication deep, which is all the cross product needs."""
    tenseal = _tenseal()
    context = tenseal.context(
        tenseal.SCHEME_TYPE.CKKS,
        8192,
        coeff_mod_bit_sizes=[60, 40, 60],
        encryption_type=tenseal.ENCRYPTION_TYPE.SYMMETRIC,
    )
    context.global_scale = 2.0**40
    return context


def public_context_bytes(context) -> bytes:
    """The context's parameters without any key, for the peer (it only multiplies by plaintext)."""
    return context.serialize(
        save_public_key=False, save_secret_key=False, save_galois_keys=False, save_relin_keys=False
    )


def load_context(blob: bytes):
    """A context (public or secret) from bytes."""
    return _tenseal().context_from(blob)


def _padded_chunks(values: np.ndarray) -> np.ndarray:
    padded = np.pad(np.asarray(values, dtype=np.float64), (0, -len(values) % SLOTS))
    return padded.reshape(-1, SLOTS)


def encrypt_vector(context, values: np.ndarray) -> list[bytes]:
    """``values`` as serialized ciphertexts of 4,096 slots each (the last zero-padded)."""
    tenseal = _tenseal()
    return [
        tenseal.ckks_vector(context, chunk.tolist()).serialize() for chunk in _padded_chunks(values)
    ]


def masked_cross_products(
    public_context, encrypted: Sequence[bytes], matrix: np.ndarray, rng: np.random.Generator
) -> tuple[list[bytes], np.ndarray]:
    """Ciphertexts of ``matrixᵀ·r + mask`` (one per column) and the masks to subtract later."""
    tenseal = _tenseal()
    chunks = [tenseal.ckks_vector_from(public_context, blob) for blob in encrypted]
    n_rows = matrix.shape[0]
    if len(chunks) != -(-n_rows // SLOTS):
        raise FederatedError(
            f"{len(chunks)} ciphertexts do not cover {n_rows} rows of {SLOTS} slots each"
        )
    padded = np.pad(np.asarray(matrix, dtype=np.float64), ((0, -n_rows % SLOTS), (0, 0)))
    results, masks = [], np.empty(matrix.shape[1])
    for column in range(matrix.shape[1]):
        total = None
        for index, chunk in enumerate(chunks):
            part = chunk * padded[index * SLOTS : (index + 1) * SLOTS, column].tolist()
            total = part if total is None else total + part
        slot_masks = rng.uniform(-MASK_BOUND, MASK_BOUND, size=SLOTS)
        masks[column] = slot_masks.sum()
        results.append((total + slot_masks.tolist()).serialize())
    return results, masks


def decrypt_totals(secret_context, blobs: Sequence[bytes]) -> np.ndarray:
    """The (masked) total of the slots of each ciphertext."""
    tenseal = _tenseal()
    return np.array(
        [np.sum(tenseal.ckks_vector_from(secret_context, blob).decrypt()) for blob in blobs]
    )
