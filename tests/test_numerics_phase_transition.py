"""numerics._phase_transition: grid, transition bounds, refinement, M_pt and its bootstrap interval."""

import numpy as np
import pytest
from scipy import stats

from memlab import UserInputError, numerics


def test_m_grid():
    np.testing.assert_array_equal(numerics.m_grid(200), 20 * np.arange(1, 21))
    np.testing.assert_array_equal(numerics.m_grid(57, multiples=3), [5, 10, 15])
    np.testing.assert_array_equal(numerics.m_grid(7, multiples=4), [1, 2, 3, 4])  # floor(7/10) = 0 -> step 1
    with pytest.raises(UserInputError):
        numerics.m_grid(0)


def test_bounds_and_m_pt_on_a_hand_example():
    ms = [40, 10, 20, 30, 50]  # unsorted on purpose
    ratios = [0.92, 0.0, 0.1, 0.5, 1.0]
    # sorted: 10:0.0, 20:0.1, 30:0.5, 40:0.92, 50:1.0 -> start: first > 0.1 is 30, end: first > 0.9 is 40
    assert numerics.transition_bounds(ms, ratios) == (30.0, 40.0)
    assert numerics.m_pt_from_ratios(ms, ratios) == 30.0
    assert np.isnan(numerics.m_pt_from_ratios([1, 2], [0.1, 0.49]))
    assert np.all(np.isnan(numerics.transition_bounds([1, 2], [0.0, 0.1])))


def test_m_pt_vectorised_over_leading_axes():
    ratios = np.array([[0.0, 0.6, 0.9], [0.0, 0.2, 0.5], [0.1, 0.1, 0.1]])
    out = numerics.m_pt_from_ratios([5, 6, 7], ratios)
    np.testing.assert_array_equal(out, [6.0, 7.0, np.nan])


def test_refinement_ms():
    ms = 10 * np.arange(1, 21)
    ratios = np.clip((ms - 100) / 40, 0, 1)  # 100: 0, 110: 0.25 (> 0.1), 130: 0.75, 140: 1 (> 0.9)
    new = numerics.refinement_ms(ms, ratios, count=10)
    # span [100 (last M before the start 110), 140], 10 interior points rounded, the tried ones dropped
    expected = np.unique(np.round(np.linspace(100, 140, 12)[1:-1]).astype(int))
    expected = expected[~np.isin(expected, ms)]
    np.testing.assert_array_equal(new, expected)
    assert new.size >= 6 and np.all((new > 100) & (new < 140))


def test_refinement_of_a_jump_between_grid_points():
    ms = [10, 20, 30, 40]
    ratios = [0.0, 0.0, 1.0, 1.0]  # start == end == 30: the refinement spans (20, 30)
    np.testing.assert_array_equal(numerics.refinement_ms(ms, ratios, count=10), np.arange(21, 30))
    assert numerics.refinement_ms(ms, [0, 0, 0, 0]).size == 0
    assert numerics.refinement_ms([1, 2], [0.0, 1.0]).size == 0  # no untried integer in (1, 2)


def test_estimate_m_pt_deterministic_transition_has_a_point_interval():
    ms = np.arange(1, 11)
    counts = np.where(ms >= 6, 50, 0)  # ratios exactly 0 or 1: every replicate gives M_pt = 6
    est = numerics.estimate_m_pt(ms, counts, 50, replicates=200, seed=1)
    assert (est.m_pt, est.ci_low, est.ci_high, est.reached_fraction) == (6.0, 6.0, 6.0, 1.0)
    assert (est.start, est.end) == (6.0, 6.0)


def test_estimate_m_pt_interval_matches_binomial_probabilities():
    """Two sizes at ratio 0.48 and one at 1: replicate M_pt is 1 with prob q = P(Bin(50, .48) >= 25),
    else 2 with prob (1-q) q, else 3. The percentile interval follows from these (binomial CDFs, not the code)."""
    n_eval = 50
    q = stats.binom.sf(24, n_eval, 0.48)
    est = numerics.estimate_m_pt([1, 2, 3], [24, 24, 50], n_eval, replicates=20000, level=0.9, seed=0)
    assert est.m_pt == 3.0
    cdf = np.array([q, q + (1 - q) * q, 1.0])
    # the 5% and 95% quantiles of the replicate distribution; they are far from the CDF jumps here
    assert est.ci_low == 1 + np.searchsorted(cdf, 0.05)
    assert est.ci_high == 1 + np.searchsorted(cdf, 0.95)


def test_estimate_m_pt_unreached_gives_open_interval():
    est = numerics.estimate_m_pt([1, 2], [0, 1], 50, replicates=100)
    assert np.isnan(est.m_pt) and est.ci_high == np.inf and est.reached_fraction == 0.0


@pytest.mark.parametrize("args", [
    ([1, 2], [0, 51], 50), ([1, 2], [0], 50), ([1, 1], [0, 1], 50), ([1, 2], [0.5, 1], 50),
])
def test_estimate_m_pt_bad_input(args):
    with pytest.raises(UserInputError):
        numerics.estimate_m_pt(*args)
