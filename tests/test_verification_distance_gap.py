"""Lemma E.1: the exact Gaussian bracket against simulation, the simplex layout, the quick check."""

import math

import numpy as np
import pytest
from scipy import stats

from memlab.numerics import schedule_coefficients
from memlab.verification._distance_gap import (
    lemma_e1_exact_bracket,
    lemma_e1_monte_carlo,
    simplex_means,
    tightest_two_modes,
)


def test_simplex_means_have_equal_pairwise_distances():
    rng = np.random.default_rng(0)
    means = simplex_means(rng, 5, 12, gamma=3.0)
    dist = np.linalg.norm(means[:, None] - means[None], axis=-1)[~np.eye(5, dtype=bool)]
    assert np.allclose(dist, 3.0)
    with pytest.raises(ValueError):
        simplex_means(rng, 5, 3, gamma=1.0)


@pytest.mark.parametrize("k,d,t", [(2, 3, 0.5), (3, 4, 0.7), (4, 20, 0.9)])
def test_bracket_contains_the_simulated_failure_probability(k, d, t):
    rng = np.random.default_rng(1)
    gamma = math.sqrt(0.5 * d)
    means = simplex_means(rng, k, d, gamma)
    alpha, sigma, _ = (float(v) for v in schedule_coefficients(t))
    lower, upper = lemma_e1_exact_bracket(means, alpha=alpha, sigma=sigma, sigma2_star=1.0, gamma=gamma)
    reps = 40000
    freq = lemma_e1_monte_carlo(rng, means, alpha=alpha, sigma=sigma, sigma2_star=1.0, gamma=gamma, reps=reps) / reps
    se = math.sqrt(max(upper * (1 - upper), lower * (1 - lower), 1e-12) / reps)
    assert lower - 5 * se <= freq <= upper + 5 * se
    if k == 2:
        assert lower == pytest.approx(upper)  # one competitor: the bracket is the exact probability


def test_tightest_two_mode_ratio():
    # K = 2 at the largest ε: P/bound = Φ(-u/4) / (8 exp(-u²/128)), largest where the bound reaches 1
    tight = tightest_two_modes()
    u = math.sqrt(128 * math.log(8))
    assert tight["u"] == pytest.approx(u, rel=1e-3)
    assert tight["ratio"] == pytest.approx(float(stats.norm.cdf(-u / 4)), rel=1e-3)
