"""App. H.4 and eq. 14 -> M*: the numeric Woodbury helper, the plain M* evaluation, the quick checks."""

import math

import numpy as np
import pytest

from memlab.numerics import schedule_coefficients, timestep_grid
from memlab.verification import Budget, get_claim, run_claim
from memlab.verification._theory_claims import (
    _psi_derivative,
    eq14_plain,
    mstar_root,
    woodbury_numeric_errors,
)


def test_woodbury_formulas_agree_with_dense_linear_algebra():
    rng = np.random.default_rng(0)
    row = woodbury_numeric_errors(rng, c=3, d_pixels=9, alpha=0.8, sigma_t=0.6, sigma_c=1.3)
    assert row["inverse_relative_error"] < 1e-12 and row["logdet_abs_error"] < 1e-11 and row["gram_error"] < 1e-12


def test_plain_eq14_root_matches_hand_computed_values():
    # x0 weighting on a one-point "grid" (steps=1 gives t in {0.999, 0.001}): the root of eq. 14 by hand
    t = timestep_grid(1)
    _, _, psi = schedule_coefficients(t)
    expected = 200 * (1 - np.mean(1 / (psi + 1)) / 2)
    gap = eq14_plain(expected, 200, c=2, sigma2=1, weighting="x0", schedule="vp", steps=1)
    assert gap == pytest.approx(0, abs=1e-12)
    assert mstar_root(200, c=2, sigma2=1, weighting="x0", schedule="vp") == pytest.approx(
        200 * (1 - np.mean(1 / (schedule_coefficients(timestep_grid())[2] + 1)) / 2), rel=1e-13
    )
    # the hand-derived ψ' against a central difference of the schedule's ψ
    for schedule in ("vp", "ve", "linear"):
        tt = np.array([0.1, 0.5, 0.9])
        h = 1e-6
        numeric = (schedule_coefficients(tt + h, schedule)[2] - schedule_coefficients(tt - h, schedule)[2]) / (2 * h)
        assert np.allclose(_psi_derivative(tt, schedule), numeric, rtol=1e-6)
    assert math.isfinite(mstar_root(50, c=1, sigma2=2, weighting="elbo", schedule="linear"))


def test_eq14_check_holds_and_compares_the_theory_with_an_independent_root():
    result = run_claim(get_claim("eq-14-mstar"), budget=Budget("quick"), seed=0, power=False).result
    assert result.verdict == "holds", result.summary
    assert result.measured["symbolic_agrees"] and result.measured["eq14_agrees"]
    assert all(r["theory_relative_difference"] <= 1e-12 for r in result.details["rows"])


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["app-H.4-inverse", "app-H.4-logdet"])
def test_woodbury_checks_hold_and_have_power(claim_id):
    result = run_claim(get_claim(claim_id), budget=Budget("quick"), seed=0).result
    assert result.verdict == "holds"
    assert result.details["negative_control"]["holds"] is False
