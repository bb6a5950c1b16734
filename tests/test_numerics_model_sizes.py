"""numerics._model_sizes: the coarse M grid and the refinement over the transition."""

import numpy as np
import pytest

from memlab import InvalidInputError, numerics


def test_m_grid():
    np.testing.assert_array_equal(numerics.m_grid(200), 20 * np.arange(1, 21))
    np.testing.assert_array_equal(numerics.m_grid(57, multiples=3), [5, 10, 15])
    np.testing.assert_array_equal(numerics.m_grid(7, multiples=4), [1, 2, 3, 4])  # floor(7/10) = 0 -> step 1
    for bad in ({"n": 0}, {"n": 10, "multiples": 0}, {"n": 2.5}):
        with pytest.raises(InvalidInputError):
            numerics.m_grid(**bad)


def test_refinement_from_phase_transition():
    ms = 10 * np.arange(1, 21)
    ratios = np.clip((ms - 100) / 40, 0, 1)  # 100: 0, 110: 0.25 (> 0.1), 130: 0.75, 140: 1 (> 0.9)
    flags = [np.arange(40) < round(40 * r) for r in ratios]
    pt = numerics.phase_transition(ms, flags, n_bootstrap=10)
    assert (pt.m_start, pt.m_end) == (110, 140)
    new = numerics.refinement_ms(ms, start=pt.m_start, end=pt.m_end, count=10)
    # span [100 (the last M before the start), 140]; 10 interior points rounded; tried sizes dropped
    expected = np.unique(np.round(np.linspace(100, 140, 12)[1:-1]).astype(int))
    np.testing.assert_array_equal(new, expected[~np.isin(expected, ms)])
    assert np.all((new > 100) & (new < 140)) and new.size >= 6


def test_refinement_of_a_jump_between_grid_points():
    ms = [10, 20, 30, 40]
    # ratio 0 at 20 and 1 at 30: start == end == 30, the refinement spans (20, 30)
    np.testing.assert_array_equal(numerics.refinement_ms(ms, start=30, end=30, count=10), np.arange(21, 30))
    np.testing.assert_array_equal(numerics.refinement_ms(ms, start=30, end=30, count=3), [22, 25, 28])
    assert numerics.refinement_ms(ms, start=None, end=None).size == 0
    assert numerics.refinement_ms([1, 2], start=2, end=2).size == 0  # no untried integer in (1, 2)
    # never reached 9/10: the span ends at the largest tried M
    np.testing.assert_array_equal(numerics.refinement_ms(ms, start=40, end=None, count=3), [32, 35, 38])


@pytest.mark.parametrize(
    "kwargs", [{"start": 15, "end": 30}, {"start": 30, "end": 20}, {"start": 10, "end": 30, "count": -1}]
)
def test_refinement_bad_input(kwargs):
    with pytest.raises(InvalidInputError):
        numerics.refinement_ms([10, 20, 30], **kwargs)
