"""Lemma 2.1 / eq. 11: the Tweedie reference (jax.grad of an independent log-density) vs the denoisers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.numerics import gmm_denoiser, isotropic_gmm_denoiser, schedule_coefficients, timestep_grid
from memlab.verification import Budget, get_claim, run_claim
from memlab.verification._gmm_identities import isotropic_tweedie_denoiser, tweedie_denoiser


@settings(max_examples=25)
@given(
    d=st.sampled_from([1, 2, 4]),
    m=st.sampled_from([1, 3]),
    t_index=st.integers(0, 25),
    seed=st.integers(0, 10**6),
    low_rank=st.booleans(),
)
def test_lemma_2_1_equals_tweedie(d, m, t_index, seed, low_rank):
    rng = np.random.default_rng(seed)
    alpha, sigma, _ = (float(v) for v in schedule_coefficients(timestep_grid()[t_index]))
    means = 2 * rng.standard_normal((m, d))
    a = rng.standard_normal((m, d, 1 if low_rank else d))
    covariances = a @ np.swapaxes(a, 1, 2)
    weights = rng.dirichlet(np.ones(m))
    x = alpha * means[rng.integers(0, m, 5)] + rng.standard_normal((5, d))
    lemma = gmm_denoiser(x, alpha=alpha, sigma=sigma, means=means, covariances=covariances, weights=weights)
    ref = tweedie_denoiser(x, alpha=alpha, sigma=sigma, means=means, covariances=covariances, weights=weights)
    scale = 1 + np.abs(x).max() / alpha
    assert np.allclose(lemma, ref, rtol=0, atol=1e-7 * scale)


@settings(max_examples=25)
@given(
    d=st.sampled_from([1, 3]),
    m=st.sampled_from([1, 4]),
    t_index=st.integers(0, 25),
    seed=st.integers(0, 10**6),
    variance=st.sampled_from([0.0, 1e-4, 0.5, 3.0]),
)
def test_eq_11_equals_isotropic_tweedie(d, m, t_index, seed, variance):
    rng = np.random.default_rng(seed)
    alpha, sigma, _ = (float(v) for v in schedule_coefficients(timestep_grid()[t_index]))
    means = 2 * rng.standard_normal((m, d))
    x = alpha * means[rng.integers(0, m, 5)] + rng.standard_normal((5, d))
    eq11 = isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=means, variance=variance)
    ref = isotropic_tweedie_denoiser(x, alpha=alpha, sigma=sigma, means=means, variance=variance)
    assert np.allclose(eq11, ref, rtol=0, atol=1e-7 * (1 + np.abs(x).max() / alpha))


def test_the_reference_can_tell_a_wrong_denoiser():
    # Power: drop the ½ log det term from Lemma 2.1's logits -> a visibly different denoiser.
    rng = np.random.default_rng(3)
    alpha, sigma, _ = (float(v) for v in schedule_coefficients(0.6))
    means = rng.standard_normal((2, 2))
    covariances = np.stack([0.01 * np.eye(2), 9.0 * np.eye(2)])
    x = rng.standard_normal((20, 2))
    ref = tweedie_denoiser(x, alpha=alpha, sigma=sigma, means=means, covariances=covariances)
    s = alpha**2 * covariances + sigma**2 * np.eye(2)
    logits = np.stack(
        [
            -0.5 * np.einsum("bi,ij,bj->b", x - alpha * mu, np.linalg.inv(si), x - alpha * mu)
            for mu, si in zip(means, s)
        ],
        axis=1,
    )
    post = np.exp(logits - logits.max(1, keepdims=True))
    post /= post.sum(1, keepdims=True)
    wrong = (x - sigma**2 * np.einsum("bm,mij,bmj->bi", post, np.linalg.inv(s), x[:, None] - alpha * means)) / alpha
    assert np.abs(wrong - ref).max() > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["lemma-2.1", "eq-11"])
def test_quick_checks_hold(claim_id):
    result = run_claim(get_claim(claim_id), budget=Budget("quick"), seed=0).result
    assert result.verdict == "holds"
    assert result.measured["error_over_tolerance"] < 1
