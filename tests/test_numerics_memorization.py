"""Definition 2.2 on hand-built cases, the ratio's exact interval and its coverage, the phase-transition points
(bootstrap intervals), Figure 6 distances."""

import numpy as np
import pytest
from scipy import stats

from memlab import numerics
from memlab._errors import InvalidInputError

TRAIN_1D = np.array([[0.0], [3.0], [10.0]])


def test_flags_hand_built_1d():
    # x = 0.3: d1 = 0.09, d2 = 2.7^2 = 7.29 -> 0.09 < 7.29/9 = 0.81: memorized.
    # x = 1.5: equidistant from 0 and 3: not memorized. x = 6.5: d1 = 3.5^2 = d2: not memorized.
    # x = 9.9: d1 = 0.01, d2 = 6.9^2: memorized.
    samples = np.array([[0.3], [1.5], [6.5], [9.9]])
    np.testing.assert_array_equal(numerics.memorized_flags(samples, TRAIN_1D), [True, False, False, True])


def test_flags_boundary_is_strict():
    # With c = 1/4 the boundary between 0 and 3 is x = 1: d1 = 1, d2 = 4, 1 < 1/4 * 4 is false (all exact in binary).
    train = np.array([[0.0], [3.0]])
    assert not numerics.memorized_flags(np.array([[1.0]]), train, c=0.25)[0]
    assert numerics.memorized_flags(np.array([[0.999]]), train, c=0.25)[0]
    assert not numerics.memorized_flags(np.array([[1.001]]), train, c=0.25)[0]


def test_flags_second_nearest_is_a_different_point_even_for_duplicates():
    # A sample exactly on a duplicated training point: d1 = d2 = 0, and 0 < c * 0 is false.
    train = np.array([[1.0, 1.0], [1.0, 1.0], [5.0, 5.0]])
    assert not numerics.memorized_flags(np.array([[1.0, 1.0]]), train)[0]


def test_training_points_themselves_are_memorized():
    ds = numerics.make_gmm_dataset(d=8, k=3, n=40, seed=3)
    result = numerics.memorization_ratio(ds.x_train, ds.x_train)
    # every sample memorized: the interval does not collapse; Clopper–Pearson lower end (α/2)^(1/n) by hand
    assert result.ratio == 1.0 and result.ci_high == 1.0
    assert result.ci_low == pytest.approx(0.025 ** (1 / 40), rel=1e-10)
    assert result.flags.all() and result.n_samples == 40


def test_fresh_samples_of_the_target_are_not_memorized():
    # Held-out samples of pi_* in d = 50: |x - x^(1)|^2 and |x - x^(2)|^2 are both ~ 2 d sigma^2 (ratio ~ 1 >> 1/9).
    ds = numerics.make_gmm_dataset(d=50, k=12, n=200, n_test=100, seed=4)
    result = numerics.memorization_ratio(ds.x_test, ds.x_train)
    assert result.ratio == 0.0 and result.ci_low == 0.0
    assert result.ci_high == pytest.approx(1 - 0.025 ** (1 / 100), rel=1e-10)  # 0 of 100: [0, 0.0362]


def test_ratio_interval_is_clopper_pearson():
    samples = np.array([[0.3], [1.5], [6.5], [9.9]] * 10)  # 20 of 40 memorized
    result = numerics.memorization_ratio(samples, TRAIN_1D)
    assert result.ratio == 0.5
    # the exact interval's ends are the Beta quantiles (independent of SciPy's binomtest)
    assert result.ci_low == pytest.approx(stats.beta.ppf(0.025, 20, 21), rel=1e-8)
    assert result.ci_high == pytest.approx(stats.beta.ppf(0.975, 21, 20), rel=1e-8)
    assert numerics.memorization_ratio(samples, TRAIN_1D, confidence=0.5).ci_high < result.ci_high


def test_ratio_interval_covers_every_probability_at_least_95_percent():
    # Exact coverage over the binomial law, for n = 50 and p on a grid including 0 and 1: >= 0.95 everywhere
    # (a bootstrap interval has coverage 0 at p = 0 and p = 1, where it collapses onto the point).
    n = 50
    intervals = []
    train = np.array([[0.0], [3.0]])
    for k in range(n + 1):
        samples = np.array([[0.1]] * k + [[1.5]] * (n - k))  # 0.1 is memorized, 1.5 (equidistant) is not
        r = numerics.memorization_ratio(samples, train)
        assert r.ratio == k / n
        intervals.append((r.ci_low, r.ci_high))
    for p in np.concatenate([[0.0, 1.0], np.linspace(0.001, 0.999, 97)]):
        coverage = sum(stats.binom.pmf(k, n, p) for k, (lo, hi) in enumerate(intervals) if lo <= p <= hi)
        assert coverage >= 0.95 - 1e-12, (p, coverage)


def test_bad_input_is_user_error():
    with pytest.raises(InvalidInputError):
        numerics.memorized_flags(np.zeros((2, 3)), np.zeros((1, 3)))
    with pytest.raises(InvalidInputError):
        numerics.memorized_flags(np.zeros((2, 3)), np.zeros((4, 2)))
    with pytest.raises(InvalidInputError):
        numerics.memorized_flags(np.full((2, 3), np.nan), np.zeros((4, 3)))
    with pytest.raises(InvalidInputError):
        numerics.memorization_ratio(np.zeros((0, 3)), np.zeros((4, 3)))


def _flags(count_true, total):
    return np.arange(total) < count_true


def test_phase_transition_points_hand_built():
    m_values = [10, 20, 30, 40, 50, 60]
    # ratios 0, 0.1, 0.2, 0.5, 0.9, 1.0 over 10 samples each:
    # start (> 1/10) = 30, M_pt (>= 1/2) = 40, end (> 9/10) = 60.
    flags = [_flags(c, 10) for c in (0, 1, 2, 5, 9, 10)]
    result = numerics.phase_transition(m_values, flags, seed=1)
    assert (result.m_start, result.m_pt, result.m_end) == (30, 40, 60)
    for point, (low, high) in (
        (result.m_start, result.m_start_ci),
        (result.m_pt, result.m_pt_ci),
        (result.m_end, result.m_end_ci),
    ):
        assert low <= point and (high is None or point <= high)


def test_phase_transition_never_crossing_is_none():
    result = numerics.phase_transition([1, 2, 3], [_flags(0, 20)] * 3)
    assert result.m_start is None and result.m_pt is None and result.m_end is None
    assert result.m_pt_ci == (None, None)


def test_phase_transition_sharp_sweep_has_a_point_interval():
    # 0/50 then 50/50: every bootstrap replicate crosses at the same M.
    result = numerics.phase_transition([100, 200], [_flags(0, 50), _flags(50, 50)])
    assert result.m_pt == 200 and result.m_pt_ci == (200, 200)


def test_phase_transition_rejects_unsorted_m():
    with pytest.raises(InvalidInputError):
        numerics.phase_transition([2, 1], [_flags(0, 5)] * 2)
    with pytest.raises(InvalidInputError):
        numerics.phase_transition([1, 2], [_flags(0, 5)])


def test_mean_distance_to_nearest_hand_built():
    points = np.array([[0.0, 0.0], [3.0, 4.0]])
    reference = np.array([[0.0, 1.0], [3.0, 0.0], [100.0, 100.0]])
    # nearest of (0,0) is (0,1) at distance 1; of (3,4) is (3,0) at 4 (vs (0,1): sqrt(18) > 4): mean 2.5.
    assert numerics.mean_distance_to_nearest(points, reference) == pytest.approx(2.5, rel=1e-15)
    assert numerics.mean_distance_to_nearest(reference[:2], reference[:2]) == 0.0
