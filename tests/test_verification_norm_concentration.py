"""Lemma C.2: the exact noncentral-χ² probability against simulation; the quick check holds."""

import math

import numpy as np
import pytest

from memlab.verification._norm_concentration import lemma_c2_log_bound, lemma_c2_log_probability


@pytest.mark.parametrize("d,radius,eps", [(3, 0.0, 0.5), (20, 2.0, 0.3), (60, 60.0, 0.2)])
def test_exact_probability_matches_simulation(d, radius, eps):
    rng = np.random.default_rng(0)
    draws = 40000
    sigma = 2.5
    mu = np.zeros(d)
    mu[0] = radius * sigma
    g = mu + sigma * rng.standard_normal((draws, d))
    sq = np.sum(g * g, axis=1)
    hit = np.abs(sq - (radius**2 * sigma**2 + sigma**2 * d)) >= eps * sigma * math.sqrt(d) * (
        sigma * math.sqrt(d) + radius * sigma
    )
    exact = math.exp(lemma_c2_log_probability(d, radius, eps))
    se = math.sqrt(exact * (1 - exact) / draws)
    assert abs(hit.mean() - exact) <= 5 * se  # false alarm ~6e-7 per case


def test_bound_formula():
    assert lemma_c2_log_bound(8, 1.0) == pytest.approx(math.log(4) - 1.0)
