"""eq. 7, eq. 13 and App. B: the exact training-index integration, quadrature, and the quick checks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax

from memlab.numerics import isotropic_gmm_denoiser, make_gmm_dataset, memorizing_denoiser, schedule_coefficients
from memlab.verification import Budget, get_claim, run_claim
from memlab.verification._loss_identities import (
    _gauss_expectation_nodes,
    conditional_loss,
    lognormal_scale,
    noised,
    training_posterior,
)


def test_training_posterior_is_the_memorizing_softmax():
    rng = np.random.default_rng(0)
    train = rng.standard_normal((7, 3))
    x = rng.standard_normal((11, 3))
    alpha, sigma, _ = (float(v) for v in schedule_coefficients(0.4))
    post = training_posterior(x, train, alpha=alpha, sigma=sigma)
    logits = -np.sum((alpha * train[None] - x[:, None]) ** 2, axis=-1) / (2 * sigma**2)
    assert np.allclose(post, softmax(logits, axis=1), atol=1e-13)
    assert np.allclose(post @ train, memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=train), atol=1e-12)


@settings(max_examples=30)
@given(seed=st.integers(0, 10**6), t=st.floats(0.01, 0.99), shift=st.floats(-3, 3))
def test_orthogonality_holds_pointwise_once_the_index_is_integrated(seed, t, shift):
    # eq. 13 per noised point X: E_i|X|f - x^i|^2 = |f - x_mem|^2 + E_i|X|x_mem - x^i|^2 for any f(X)
    rng = np.random.default_rng(seed)
    train = rng.standard_normal((6, 4)) * 2
    alpha, sigma, _ = (float(v) for v in schedule_coefficients(t))
    x = noised(train, rng.standard_normal((6, 3, 4)), alpha=alpha, sigma=sigma)
    post = training_posterior(x, train, alpha=alpha, sigma=sigma)
    mem = memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=train)
    f = np.tanh(x) + shift
    direct = np.sum(post * np.sum((f[:, None, :] - train[None]) ** 2, axis=-1), axis=1)
    assert np.allclose(conditional_loss(f, train, post), direct, rtol=1e-10, atol=1e-10)
    resid = conditional_loss(f, train, post) - conditional_loss(mem, train, post) - np.sum((f - mem) ** 2, axis=1)
    assert np.abs(resid).max() < 1e-9 * (1 + np.abs(direct).max())


def test_gauss_nodes_integrate_gaussian_moments():
    z, w = _gauss_expectation_nodes(200)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert w @ z**2 == pytest.approx(1.0, abs=1e-13) and w @ z**4 == pytest.approx(3.0, abs=1e-12)


def test_lognormal_scale():
    train = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    assert lognormal_scale(train, 4.0) == pytest.approx(10.0)


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["eq-7-limit", "eq-13", "app-B"])
def test_quick_checks_hold(claim_id):
    result = run_claim(get_claim(claim_id), budget=Budget("quick"), seed=0).result
    assert result.verdict == "holds", result.summary


@pytest.mark.slow
def test_eq7_quick_check_holds_and_its_negative_control_has_power():
    result = run_claim(get_claim("eq-7-minimizer"), budget=Budget("quick"), seed=1).result
    assert result.verdict == "holds", result.summary
    assert result.details["power"]
    assert max(abs(c["z"]) for c in result.details["negative_control"]) > 10


def test_app_b_duplicate_construction_does_not_reproduce_the_loss():
    # the far-away extra mean works, a duplicate of the last mean does not (independent recomputation)
    ds = make_gmm_dataset(d=5, k=3, n=12, n_test=0, seed=4)
    alpha, sigma, _ = (float(v) for v in schedule_coefficients(0.5))
    rng = np.random.default_rng(0)
    x = noised(ds.x_train, rng.standard_normal((12, 200, 5)), alpha=alpha, sigma=sigma)
    means = ds.means + 0.3
    loss = lambda mu: np.mean(
        np.sum(
            (
                isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=mu, variance=0.5)
                - np.repeat(ds.x_train, 200, axis=0)
            )
            ** 2,
            axis=1,
        )
    )
    base = loss(means)
    assert abs(loss(np.vstack([means, 1e3 * means[-1:]])) - base) < 1e-12 * base
    assert abs(loss(np.vstack([means, means[-1:]])) - base) > 1e-4 * base
    assert math.isfinite(base)
