"""ECDH-PSI arithmetic: hashing into the prime-order group, commutative blinding, matching."""

from __future__ import annotations

import os
import random
from concurrent.futures import ProcessPoolExecutor

import nacl.bindings as sodium
import pytest

from puhui.federated import psi_math

GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493


def _clamped(key: bytes) -> int:
    value = bytearray(key)
    value[0] &= 248
    value[31] = (value[31] & 127) | 64
    return int.from_bytes(value, "little")


def test_blinded_hash_is_libsodiums_prime_order_hash_raised_to_the_same_key():
    """H(x)^k from the x-only map equals libsodium's Ed25519 hash-to-group ([8]·Elligator 2)
    raised to k/8, carried to Montgomery form: the same prime-order group, the same points."""
    identifiers = [f"9133{index:014d}" for index in range(50)] + ["甲公司", ""]
    key = psi_math.new_psi_key()
    cofactor_free = (_clamped(key) // 8 % GROUP_ORDER).to_bytes(32, "little")
    expected = []
    for identifier in identifiers:
        uniform = psi_math.hashlib.sha512(psi_math.HASH_DOMAIN + identifier.encode()).digest()
        edwards = sodium.crypto_scalarmult_ed25519_noclamp(
            cofactor_free, sodium.crypto_core_ed25519_from_uniform(uniform[:32])
        )
        expected.append(sodium.crypto_sign_ed25519_pk_to_curve25519(edwards))
    assert psi_math.split(psi_math.hash_and_blind(key, identifiers), 32) == expected


def test_every_hashed_identifier_lands_on_the_curve_not_its_twist():
    """Euler's criterion, computed apart from gmpy2: u³ + Au² + u is a square for every point."""
    prime, a = psi_math.FIELD_PRIME, psi_math.MONTGOMERY_A
    for point in psi_math.hash_to_group([f"id-{index}" for index in range(64)]):
        u = int.from_bytes(point, "little")
        assert u < prime
        assert pow((u**3 + a * u * u + u) % prime, (prime - 1) // 2, prime) == 1


def test_blinding_by_two_keys_commutes():
    a, b = psi_math.new_psi_key(), psi_math.new_psi_key()
    identifiers = ["alpha", "beta", "甲公司"]
    ab = psi_math.reblind(b, psi_math.hash_and_blind(a, identifiers))
    ba = psi_math.reblind(a, psi_math.hash_and_blind(b, identifiers))
    assert ab == ba
    assert psi_math.hash_and_blind(a, identifiers) != psi_math.hash_and_blind(b, identifiers)


def test_reblind_keeps_only_the_requested_prefix():
    key = psi_math.new_psi_key()
    blob = psi_math.hash_and_blind(psi_math.new_psi_key(), ["x", "y"])
    assert len(psi_math.reblind(key, blob, 16)) == 32
    with pytest.raises(ValueError, match="not whole"):
        psi_math.reblind(key, blob[:-1])


needs_vector_path = pytest.mark.skipif(
    not psi_math.VECTOR_PATH, reason="no AVX-512 IFMA here (or _x25519 not built)"
)

SMALL_ORDER_POINTS = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    (psi_math.FIELD_PRIME - 1).to_bytes(32, "little"),
    psi_math.FIELD_PRIME.to_bytes(32, "little"),
    (psi_math.FIELD_PRIME + 1).to_bytes(32, "little"),
]


@needs_vector_path
def test_vector_blinding_gives_libsodiums_bytes_for_the_same_key_and_point():
    """Curve points, twist points (any 32 bytes), u ≥ p and a set bit 255, in batches that are and
    are not whole groups of eight lanes: byte for byte what libsodium's crypto_scalarmult gives."""
    rng = random.Random(20251129)
    on_curve = [sodium.crypto_scalarmult_base(rng.randbytes(32)) for _ in range(300)]
    any_bytes = [rng.randbytes(32) for _ in range(300)]
    edge = [(psi_math.FIELD_PRIME + 5).to_bytes(32, "little"), bytes([9] + [0] * 30 + [0x80])]
    points = on_curve + any_bytes + edge
    for size in (1, 7, 8, 9, len(points)):
        blob = b"".join(points[:size])
        for key in (os.urandom(32), bytes(32), b"\xff" * 32):
            expected = psi_math.reblind_with_libsodium(key, blob)
            assert psi_math._x25519.scalarmult_many(key, blob) == expected
            assert psi_math._x25519.scalarmult_many(
                key, blob, 16
            ) == psi_math.reblind_with_libsodium(key, blob, 16)


@needs_vector_path
def test_vector_hash_gives_the_gmpy2_points():
    identifiers = [f"9133{index:014d}" for index in range(1001)] + ["甲公司", "", "x" * 500]
    for size in (1, 8, 13, len(identifiers)):
        assert psi_math.hash_to_group_blob(identifiers[:size]) == (
            psi_math.hash_to_group_with_gmpy2(identifiers[:size])
        )


@needs_vector_path
@pytest.mark.parametrize("point", SMALL_ORDER_POINTS, ids=lambda point: point.hex()[:8])
def test_vector_blinding_refuses_a_point_of_small_order_as_libsodium_does(point):
    blob = sodium.crypto_scalarmult_base(os.urandom(32)) + point
    with pytest.raises(ValueError, match="point 1 is of small order"):
        psi_math.reblind(psi_math.new_psi_key(), blob)
    with pytest.raises(Exception):  # noqa: B017 - PyNaCl's own error type
        psi_math.reblind_with_libsodium(psi_math.new_psi_key(), blob)


@needs_vector_path
def test_vector_blinding_takes_only_32_byte_keys_and_whole_points():
    with pytest.raises(ValueError, match="key is 31 bytes"):
        psi_math._x25519.scalarmult_many(bytes(31), bytes(32))
    with pytest.raises(ValueError, match="not whole"):
        psi_math._x25519.scalarmult_many(bytes(32), bytes(33))
    with pytest.raises(ValueError, match="keep must be"):
        psi_math._x25519.scalarmult_many(bytes(32), bytes(32), 33)


def _psi(bank_ids, platform_ids, executor=None):
    a, b = psi_math.new_psi_key(), psi_math.new_psi_key()
    bank_double = psi_math.parallel_reblind(
        executor, b, psi_math.parallel_hash_and_blind(executor, a, bank_ids, chunk=300), 16, 300
    )
    platform_double = psi_math.parallel_reblind(
        executor, a, psi_math.parallel_hash_and_blind(executor, b, platform_ids, chunk=300), 16, 300
    )
    mine, theirs = psi_math.matching_positions(bank_double, platform_double, 16)
    assert [bank_ids[i] for i in mine] == [platform_ids[j] for j in theirs]
    return {bank_ids[i] for i in mine}


def test_psi_equals_the_plain_intersection():
    bank_ids = [f"E{index:06d}" for index in range(0, 1500)]
    platform_ids = [f"E{index:06d}" for index in range(1000, 2200, 1)][::-1]
    assert _psi(bank_ids, platform_ids) == set(bank_ids) & set(platform_ids)


def test_psi_on_a_process_pool_equals_the_plain_intersection():
    bank_ids = [f"F{index}" for index in range(0, 2000, 2)]
    platform_ids = [f"F{index}" for index in range(0, 2000, 3)]
    with ProcessPoolExecutor(max_workers=2) as executor:
        assert _psi(bank_ids, platform_ids, executor) == set(bank_ids) & set(platform_ids)


def test_psi_without_the_vector_path_equals_the_plain_intersection(monkeypatch):
    """The libsodium and gmpy2 path that CPUs without AVX-512 IFMA take."""
    monkeypatch.setattr(psi_math, "VECTOR_PATH", False)
    bank_ids = [f"G{index}" for index in range(0, 600, 2)]
    platform_ids = [f"G{index}" for index in range(0, 600, 5)]
    assert _psi(bank_ids, platform_ids) == set(bank_ids) & set(platform_ids)


def test_disjoint_sets_have_an_empty_intersection():
    assert _psi(["a", "b"], ["c", "d"]) == set()


def test_platform_refuses_a_psi_job_whose_bank_hashes_ids_differently(tmp_path):
    """Two node versions hashing differently would find an empty intersection and say nothing."""
    import numpy as np

    from puhui.federated.audit import AuditLog
    from puhui.federated.data import write_party
    from puhui.federated.errors import JobError
    from puhui.federated.platform import PlatformService

    write_party(tmp_path, ["a", "b"], {"x": np.zeros(2)})
    service = PlatformService(tmp_path, None, AuditLog(tmp_path / "audit.jsonl", "platform"))
    with pytest.raises(JobError, match="puhui-psi-v1"):
        service.psi_start("job1", "both", 5_000, "puhui-psi-v1")
    assert service.psi_start("job2", "both", 5_000, psi_math.HASH_VERSION)["count"] == 2
