"""ECDH-PSI arithmetic: hashing into the prime-order group, commutative blinding, matching."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import nacl.bindings as sodium
import pytest

from puhui.federated import psi_math


def test_hash_to_group_matches_libsodiums_edwards_to_montgomery_map():
    identifiers = [f"9133{index:014d}" for index in range(50)]
    uniform = [
        psi_math.hashlib.sha512(psi_math.HASH_DOMAIN + i.encode()).digest()[:32]
        for i in identifiers
    ]
    expected = [
        sodium.crypto_sign_ed25519_pk_to_curve25519(sodium.crypto_core_ed25519_from_uniform(u))
        for u in uniform
    ]
    assert psi_math.hash_to_group(identifiers) == expected


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


def test_disjoint_sets_have_an_empty_intersection():
    assert _psi(["a", "b"], ["c", "d"]) == set()
