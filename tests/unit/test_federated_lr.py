"""Vertical LR maths: the residual shares, the masked CKKS cross product, one party's steps."""

from __future__ import annotations

import numpy as np
import pytest

from puhui.federated import he
from puhui.federated.errors import FederatedError
from puhui.federated.linear import LinearPart, TrainingParameters, training_rows
from puhui.federated.wire import pack_blobs, unpack_blobs


def test_residual_shares_add_up_to_the_taylor_residual():
    rng = np.random.default_rng(1)
    x_bank, x_platform = rng.normal(size=(50, 3)), rng.normal(size=(50, 4))
    labels = (rng.random(50) < 0.3).astype(float)
    bank = LinearPart.start(x_bank, TrainingParameters(), with_intercept=True)
    platform = LinearPart.start(x_platform, TrainingParameters(), with_intercept=False)
    bank.weights, bank.intercept = rng.normal(size=3), -1.0
    platform.weights = rng.normal(size=4)
    joint = x_bank @ bank.weights - 1.0 + x_platform @ platform.weights
    expected = (0.5 + 0.25 * joint - labels) / 50
    shares = bank.residual_share(x_bank, labels) + platform.residual_share(x_platform, None)
    np.testing.assert_allclose(shares, expected)


def test_masked_cross_product_opens_to_x_transpose_r_only_after_unmasking():
    rng = np.random.default_rng(2)
    n_rows = 5000  # two ciphertexts, the second padded
    residual = rng.normal(size=n_rows) / n_rows
    matrix = rng.normal(size=(n_rows, 3))
    secret = he.new_secret_context()
    peer_context = he.load_context(he.public_context_bytes(secret))
    assert not peer_context.has_secret_key()
    encrypted = he.encrypt_vector(secret, residual)
    assert len(encrypted) == 2
    blobs, masks = he.masked_cross_products(peer_context, encrypted, matrix, rng)
    opened = he.decrypt_totals(secret, blobs)
    assert np.min(np.abs(opened - matrix.T @ residual)) > 1.0  # masked: far from the truth
    np.testing.assert_allclose(opened - masks, matrix.T @ residual, atol=1e-5)


def test_cross_product_refuses_ciphertexts_that_do_not_cover_the_rows():
    secret = he.new_secret_context()
    encrypted = he.encrypt_vector(secret, np.ones(10))
    with pytest.raises(FederatedError, match="do not cover"):
        he.masked_cross_products(secret, encrypted, np.ones((5000, 2)), np.random.default_rng())


def test_adam_steps_on_a_centralised_taylor_problem_reach_a_good_model():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(3000, 4))
    labels = (rng.random(3000) < 1 / (1 + np.exp(-(features @ [1.0, -1.0, 0.5, 0.0] - 1)))).astype(
        float
    )
    part = LinearPart.start(features, TrainingParameters(iterations=60), with_intercept=True)
    scaled = part.standardizer.transform(features)
    for _ in range(60):
        residual = part.residual_share(scaled, labels)
        part.apply_gradient(scaled.T @ residual, float(residual.sum()))
    assert part.weights[0] > 0 > part.weights[1]
    assert abs(part.weights[3]) < 0.1


def test_training_rows_are_the_same_for_both_parties_and_respect_the_fraction():
    parameters = TrainingParameters(train_fraction=0.7, split_seed=9)
    rows = training_rows(1000, parameters)  # a count: the seeded random split
    assert len(rows) == 700 and np.array_equal(rows, training_rows(1000, parameters))


def test_framed_blobs_round_trip_and_refuse_truncation():
    blobs = [b"", b"abc", bytes(1000)]
    body = pack_blobs(blobs)
    assert unpack_blobs(body) == blobs
    with pytest.raises(FederatedError):
        unpack_blobs(body[:-1])
